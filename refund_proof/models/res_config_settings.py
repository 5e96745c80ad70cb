from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    refund_window_days = fields.Integer(
        related="company_id.refund_window_days",
        readonly=False,
    )
    refund_tz = fields.Selection(related="company_id.refund_tz", readonly=False)
    refund_statement_descriptor = fields.Char(
        related="company_id.refund_statement_descriptor",
        readonly=False,
    )
    refund_support_email = fields.Char(
        related="company_id.refund_support_email", readonly=False
    )
    refund_support_phone = fields.Char(
        related="company_id.refund_support_phone", readonly=False
    )
    refund_support_url = fields.Char(
        related="company_id.refund_support_url", readonly=False
    )
    refund_proof_show_reason = fields.Boolean(
        related="company_id.refund_proof_show_reason",
        readonly=False,
    )
    refund_proof_send_email = fields.Boolean(
        related="company_id.refund_proof_send_email",
        readonly=False,
    )
    refund_proof_attach_pdf = fields.Boolean(
        related="company_id.refund_proof_attach_pdf",
        readonly=False,
    )
    refund_failure_email = fields.Char(
        related="company_id.refund_failure_email", readonly=False
    )
    refund_pending_alert_days = fields.Integer(
        related="company_id.refund_pending_alert_days", readonly=False
    )
    refund_payout_auto_offer = fields.Boolean(
        related="company_id.refund_payout_auto_offer", readonly=False
    )
    refund_payout_reminder_days = fields.Integer(
        related="company_id.refund_payout_reminder_days", readonly=False
    )
    refund_payout_second_reminder_days = fields.Integer(
        related="company_id.refund_payout_second_reminder_days", readonly=False
    )
    refund_payout_escalation_days = fields.Integer(
        related="company_id.refund_payout_escalation_days", readonly=False
    )
    refund_policy_text = fields.Text(
        related="company_id.refund_policy_text", readonly=False
    )
    dispute_rate_threshold = fields.Float(
        related="company_id.dispute_rate_threshold", readonly=False
    )
