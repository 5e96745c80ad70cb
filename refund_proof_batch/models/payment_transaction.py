from odoo import _, models
from odoo.exceptions import UserError


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def action_refund_proof_batch(
        self,
        amount_mode="remaining",
        percentage=None,
        amount=None,
        reason_id=None,
        note=None,
    ):
        """Refund Selected: a draft bulk refund of these payments, one line each, its
        preview computed; nothing is sent before it is started (and, above the
        user's limits, approved by another manager).

        :param str amount_mode: "remaining" (what remains on each payment, the
            default), "percentage" (of what was paid) or "fixed" (the same amount
            for each, in its currency).
        :param float percentage: The percentage, in "percentage" mode.
        :param float amount: The amount, in "fixed" mode.
        :param int reason_id: The `payment.refund.reason` of every refund.
        :param str note: The note of every refund.
        :return: The new batch's form.
        :rtype: dict
        """
        self._check_refund_rights()
        if not self:
            raise UserError(_("Select the payments to refund."))
        if len(self.company_id) > 1:
            raise UserError(
                _("Refund the payments of one company at a time: select again.")
            )
        reason = self.env["payment.refund.reason"].browse(reason_id or [])
        reason.check_access("read")
        batch = self.env["payment.refund.batch"]._create_from_transactions(
            self,
            amount_mode=amount_mode,
            percentage=percentage,
            amount=amount,
            reason=reason,
            note=note,
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Bulk Refund"),
            "res_model": "payment.refund.batch",
            "res_id": batch.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def _refund_proof_link_refunds(self):
        """Override of `refund_proof`: a refund the provider reports for a payment
        whose bulk refund line was interrupted on its way to the provider (see
        `payment.refund.batch.line._cron_resume_interrupted`) is that line's."""
        unlinked = self.filtered(lambda tx: not tx.refund_id)
        res = super()._refund_proof_link_refunds()
        # In sudo mode: the lines and refunds are the server's records.
        reported = unlinked.sudo().refund_id.filtered(
            lambda refund: refund.origin == "provider"
        )
        if reported:
            lines = (
                self.env["payment.refund.batch.line"]
                .sudo()
                .search(
                    [
                        (
                            "source_transaction_id",
                            "in",
                            reported.source_transaction_id.ids,
                        ),
                        ("interrupted", "=", True),
                        ("refund_id", "=", False),
                    ]
                )
            )
            for line in lines:
                line._lock_lines()
                line._link_reported_refund(
                    reported.filtered(
                        lambda refund, line=line: (
                            refund.source_transaction_id == line.source_transaction_id
                        )
                    )
                )
                if line.refund_id:
                    line.batch_id._schedule_check_finished()
        return res
