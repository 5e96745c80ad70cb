"""Answering a dispute: the evidence pack, its submission, and the deadline alerts.

The pack (`refund_proof.action_report_dispute_evidence`) states for the acquirer
what the merchant's records hold: the dispute, the payment, each refund of it with
its ARN and issued proofs, when the customer was e-mailed them (Odoo's mail queue)
and when they downloaded them (`payment.refund.proof.download`), the merchant's
contacts and refund policy. Bridges that can send it to their provider say so
(`payment.provider._refund_proof_can_submit_dispute_evidence`) and send it
(`payment.transaction._refund_proof_submit_dispute_evidence`).
"""

import base64

import psycopg2
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount, format_datetime

from ..const import DISPUTE_DEADLINE_ALERT, EVIDENCE_REPORT


class PaymentDispute(models.Model):
    _inherit = "payment.dispute"

    credit_processed_date = fields.Datetime(
        string="Credit Processed On",
        compute="_compute_credit_processed",
        help="When the last refund of the payment made before the dispute was done: "
        "the customer's bank disputes a credit already processed.",
    )
    credit_processed_amount = fields.Monetary(
        string="Credit Processed", compute="_compute_credit_processed"
    )
    can_submit_evidence = fields.Boolean(compute="_compute_can_submit_evidence")
    evidence_submit_date = fields.Datetime(
        string="Evidence Sent On", readonly=True, copy=False, tracking=True
    )
    evidence_submitted_by_id = fields.Many2one(
        comodel_name="res.users", string="Evidence Sent By", readonly=True, copy=False
    )
    # An issued file: written and deleted by no user (ir_attachment.py). Indexed: every
    # user's write or deletion of an attachment looks it up here.
    evidence_attachment_id = fields.Many2one(
        comodel_name="ir.attachment",
        string="Evidence Sent",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The evidence pack as it was sent to the provider.",
    )
    evidence_submission = fields.Text(
        string="What Was Sent",
        readonly=True,
        copy=False,
        help="The evidence fields sent to the provider, as sent.",
    )
    deadline_alert_date = fields.Datetime(
        readonly=True,
        copy=False,
        help="When the refund managers were told that the response is due soon.",
    )

    # === COMPUTE METHODS === #

    @api.depends("refund_ids.state", "refund_ids.refund_date", "opened_date")
    def _compute_credit_processed(self):
        for dispute in self:
            refunds = dispute._get_credits_before_dispute()
            dispute.credit_processed_date = (
                max(refunds.mapped("refund_date")) if refunds else False
            )
            dispute.credit_processed_amount = sum(refunds.mapped("amount"))

    @api.depends("provider_id", "provider_reference", "state", "origin")
    def _compute_can_submit_evidence(self):
        for dispute in self:
            provider = dispute.provider_id.sudo()
            dispute.can_submit_evidence = bool(
                dispute.state == "needs_response"
                and dispute.origin == "provider"
                and dispute.provider_reference
                and provider
                and provider._refund_proof_can_submit_dispute_evidence()
            )

    def _get_credits_before_dispute(self):
        """The done refunds of the payment processed before the dispute was opened.

        Note: self.ensure_one()

        :rtype: recordset of `payment.refund`
        """
        self.ensure_one()
        opened = self.opened_date or fields.Datetime.now()
        return self.sudo().refund_ids.filtered(
            lambda r: r.state == "done" and r.refund_date and r.refund_date <= opened
        )

    # === CRUD METHODS === #

    def write(self, vals):
        """A new due date gets its own alert two days ahead."""
        result = super().write(vals)
        if "evidence_due_date" in vals:
            # In sudo mode: the alert's date is the server's; the user's right to
            # change the due date was checked by the write above.
            self.sudo().filtered("deadline_alert_date").write(
                {"deadline_alert_date": False}
            )
        return result

    # === ACTION METHODS === #

    def action_print_evidence(self):
        """The evidence pack as a PDF, for the acquirer or the bank's letter."""
        self.check_access("read")
        return self.env.ref(EVIDENCE_REPORT).report_action(self)

    def action_submit_evidence(self):
        """Send the evidence pack to the provider (bridges that can), once: the
        dispute records what was sent, when and by whom, then waits for the bank."""
        self.ensure_one()
        self._check_dispute_manager()
        self.check_access("write")
        self._lock_for_submission()
        # In sudo mode: the manager's right was checked above; the pack states facts
        # of records (mail queue, payment) managers may not read themselves.
        dispute = self.sudo()
        if dispute.evidence_submit_date or dispute.state != "needs_response":
            raise UserError(
                _(
                    "The evidence of %(name)s was already sent, or it needs no "
                    "response.",
                    name=dispute.name,
                )
            )
        if not dispute.can_submit_evidence:
            raise UserError(
                _(
                    "%(provider)s cannot receive evidence from Odoo: print the "
                    "evidence pack and send it from the provider's dashboard.",
                    provider=dispute.provider_id.name or _("This provider"),
                )
            )
        attachment = dispute._create_evidence_attachment()
        sent = dispute.source_transaction_id._refund_proof_submit_dispute_evidence(
            dispute, attachment
        )
        summary = "\n".join(f"{key}: {value}" for key, value in sent.items())
        dispute.write(
            {
                "evidence_submit_date": fields.Datetime.now(),
                "evidence_submitted_by_id": self.env.user.id,
                "evidence_attachment_id": attachment.id,
                "evidence_submission": summary,
            }
        )
        dispute._set_state("under_review")
        dispute.message_post(
            body=Markup("<p>%s</p><pre>%s</pre>")
            % (
                _(
                    "Evidence sent to %(provider)s by %(user)s.",
                    provider=dispute.provider_id.name,
                    user=self.env.user.name,
                ),
                summary,
            ),
            attachment_ids=attachment.ids,
        )
        dispute.activity_feedback(
            ["mail.mail_activity_data_todo"], feedback=_("Evidence sent")
        )
        return True

    # === BUSINESS METHODS === #

    def _lock_for_submission(self):
        """Lock the dispute's row in PostgreSQL: two clicks (two workers, two servers)
        never send the evidence twice."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM payment_dispute WHERE id IN %s FOR UPDATE NOWAIT",
                    [tuple(self.ids)],
                )
        except psycopg2.errors.LockNotAvailable:
            raise UserError(
                _("The evidence of this dispute is being sent: try again in a moment.")
            ) from None
        self.invalidate_recordset()

    def _render_evidence_pdf(self):
        """The evidence pack of this dispute, rendered now.

        Note: self.ensure_one()

        :rtype: bytes
        """
        self.ensure_one()
        pdf, _kind = self.env["ir.actions.report"]._render_qweb_pdf(
            EVIDENCE_REPORT, self.ids
        )
        return pdf

    def _create_evidence_attachment(self):
        """The evidence pack as an attachment of the dispute (what is sent is kept).

        Note: self.ensure_one()
        """
        self.ensure_one()
        pdf = self._render_evidence_pdf()
        if not pdf or not pdf.startswith(b"%PDF"):
            raise UserError(
                _(
                    "The evidence pack of %(name)s could not be rendered as a PDF. "
                    "Please try again later.",
                    name=self.name,
                )
            )
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self._get_report_base_filename()}.pdf",
                    "datas": base64.b64encode(pdf),
                    "mimetype": "application/pdf",
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )

    def _get_report_base_filename(self):
        self.ensure_one()
        return _("Dispute evidence - %(name)s", name=self.name)

    def _format_dispute_datetime(self, value):
        """A datetime of the dispute as the pack states it (the company's time zone).

        :param datetime value: A UTC datetime.
        :rtype: str
        """
        self.ensure_one()
        if not value:
            return ""
        return format_datetime(
            self.env,
            value,
            tz=self.company_id._get_refund_timezone(),
            dt_format="medium",
        )

    def _get_now(self):
        """Now (the pack's preparation time; tests freeze it)."""
        return fields.Datetime.now()

    def _format_dispute_amount(self, amount=None):
        self.ensure_one()
        return format_amount(
            self.env, self.amount if amount is None else amount, self.currency_id
        )

    def _notify_failure_address(self, subject, text):
        """E-mail the company's failure address (when set) about this dispute. Every
        value in it is escaped.

        Note: self.ensure_one()
        """
        self.ensure_one()
        address = self.company_id.refund_failure_email
        if not address:
            return
        self.env["mail.mail"].sudo().create(
            {
                "email_to": address,
                "subject": subject,
                "body_html": Markup("<p>%s</p>") % escape(text),
                "model": self._name,
                "res_id": self.id,
            }
        )

    def _get_open_alert_text(self):
        self.ensure_one()
        return _(
            "%(kind)s %(name)s of %(amount)s by %(customer)s on %(payment)s "
            "(%(reason)s). Respond by %(due)s.",
            kind=self._get_kind_label(),
            name=self.name,
            amount=self._format_dispute_amount(),
            customer=self.partner_id.name or "",
            payment=self.source_transaction_id.reference,
            reason=self.reason_display or _("no reason given"),
            due=self._format_dispute_datetime(self.evidence_due_date) or _("unknown"),
        )

    @api.model
    def _cron_alert_dispute_deadlines(self):
        """Tell the refund managers (an activity each) and the failure address (an
        e-mail) of the disputes whose response is due within two days, once per due
        date."""
        now = fields.Datetime.now()
        disputes = self.sudo().search(
            [
                ("state", "=", "needs_response"),
                ("evidence_due_date", "!=", False),
                ("evidence_due_date", "<=", now + DISPUTE_DEADLINE_ALERT),
                ("deadline_alert_date", "=", False),
            ]
        )
        for dispute in disputes:
            subject = _(
                "Dispute %(name)s: respond by %(due)s",
                name=dispute.name,
                due=dispute._format_dispute_datetime(dispute.evidence_due_date),
            )
            for manager in self.env["payment.refund"]._get_refund_managers(
                dispute.company_id
            ):
                dispute.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    date_deadline=dispute.evidence_due_date.date(),
                    summary=subject,
                    note=escape(dispute.reason_display or ""),
                )
            dispute._notify_failure_address(subject, dispute._get_open_alert_text())
            dispute.deadline_alert_date = now
