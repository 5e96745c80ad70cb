from odoo import models


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    def _on_state_change(self, previous, decided_by=None):
        """Override of `refund_proof`: a bulk refund's line follows its refund (the
        provider's later answer, a manager's decision), and its batch checks whether
        it is finished."""
        res = super()._on_state_change(previous, decided_by=decided_by)
        # In sudo mode: the lines are the server's, whoever changed the refund.
        lines = (
            self.env["payment.refund.batch.line"]
            .sudo()
            .search([("refund_id", "in", self.ids)])
        )
        if lines:
            lines._sync_from_refund()
            lines.batch_id.filtered(
                lambda batch: batch.state == "running"
            )._schedule_check_finished()
        return res
