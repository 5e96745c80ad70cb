import logging

import psycopg2

from odoo import SUPERUSER_ID, fields, models

from ..const import PROOF_CHANNEL, PROOF_CRON_SAFETY_DELAY

_logger = logging.getLogger(__name__)


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

    # === BUSINESS METHODS - E-MAILS === #

    def _trigger_mail_cron(self):
        """Override of `refund_proof`: one queue job per refund whose proof or
        customer e-mail is pending, on the proofs' channel, so that the proofs of
        many refunds render in parallel (as many as the channel's capacity); the
        mail cron runs later only, as the safety net (a job lost, an e-mail the
        outgoing server could not take). A refund whose job is still waiting is not
        queued twice (`identity_key`)."""
        # In sudo mode: the pending flags are the server's, whoever made the refund
        # done or gave it its reference.
        refunds = self.sudo().filtered(
            lambda r: r.state == "done" and (r.proof_pending or r.customer_mail_pending)
        )
        for refund in refunds:
            # As the superuser, as the mail cron: the server issues the proof and
            # writes the e-mail, whoever made the refund done (a webhook included).
            refund.with_user(SUPERUSER_ID).with_delay(
                channel=PROOF_CHANNEL,
                identity_key=f"refund_proof_proof:{refund.id}",
            )._refund_proof_send_pending_mail()
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "refund_proof.ir_cron_refund_customer_mail"
        )
        self.env["ir.cron"].browse(cron_id)._trigger(
            fields.Datetime.now() + PROOF_CRON_SAFETY_DELAY
        )

    def _refund_proof_send_pending_mail(self):
        """Queue job: issue this refund's pending proof and send its pending
        customer e-mail, as the mail cron does for one refund
        (`_send_pending_customer_mail`).

        Idempotent: nothing pending (already sent by the cron or a job run twice),
        nothing done; a refund the cron holds now is left to it. A concurrent update
        raises: queue_job tries the job again later. Any other failure is logged and
        leaves the refund pending, for the mail cron's next run, as in the cron.
        """
        self.ensure_one()
        refund = self.sudo()
        try:
            with self.env.cr.savepoint():
                refund._send_pending_customer_mail()
        except psycopg2.OperationalError:
            raise  # queue_job postpones the job and tries it again.
        except Exception:  # noqa: BLE001 - logged, retried by the mail cron
            _logger.exception(
                "Could not issue or e-mail the proof of refund %s", refund.name
            )
            return
        # The notification is queued: let Odoo's mail queue send it now.
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
