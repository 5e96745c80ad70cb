from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    refund_window_days = fields.Integer(
        string="Refund Window (days)",
        default=30,
        help="Refunds later than this many days after the payment need a manager's "
        "approval. 0 means no window. Refund reasons may override it.",
    )

    refund_statement_descriptor = fields.Char(
        string="Statement Descriptor",
        help="The name your customers see on their bank or card statement for your "
        "payments and refunds (e.g. MYSHOP.COM). Printed on the proof of refund so "
        "that customers recognise it. A payment provider can override it.",
    )
    refund_support_email = fields.Char(
        string="Refund Support E-mail",
        help="Printed on the proof. Default: company e-mail.",
    )
    refund_support_phone = fields.Char(
        help="Printed on the proof. Default: company phone.",
    )
    refund_support_url = fields.Char(
        string="Contact Page",
        help="Printed on the proof, e.g. https://myshop.com/contact.",
    )
    refund_proof_show_reason = fields.Boolean(
        string="Show Reason on Proof",
        default=True,
        help="Print the refund reason on the proof of refund sent to the customer.",
    )
    refund_proof_send_email = fields.Boolean(
        string="E-mail Proofs Automatically",
        default=True,
        help="E-mail the customer when a refund is done, and again when its ARN is "
        "known.",
    )
    refund_proof_attach_pdf = fields.Boolean(
        string="Attach the Proof PDF",
        default=True,
        help="Attach the proof of refund to those e-mails (the portal link is always "
        "there).",
    )
    refund_failure_email = fields.Char(
        string="Notify Failures To",
        help="Internal e-mail address told about failed refunds, e.g. "
        "payments@myshop.com.",
    )
    refund_pending_alert_days = fields.Integer(
        string="Alert on Refunds Pending For (days)",
        default=7,
        help="A refund still pending at the provider after this many days raises an "
        "activity for the refund managers: the provider's final notification may "
        "never come, and a pending refund holds its amount. 0 means never.",
    )

    refund_policy_text = fields.Text(
        string="Refund Policy",
        help="Your refund policy as your customers see it (terms of sale, shop page). "
        "Printed in the evidence pack of a dispute: the bank checks the refund against "
        "it.",
    )
    dispute_rate_threshold = fields.Float(
        string="Dispute Rate Warning (%)",
        default=0.9,
        digits=(5, 2),
        help="The dispute rate report shows in red a month whose disputes reach this "
        "share of its paid transactions (per provider); 0 turns the warning off. The "
        "card networks flag a merchant higher up: Visa's VAMP at 1.5% since April "
        "2026 (2.2% before) of fraud reports plus disputes, with more than 1,500 of "
        "them a month; Mastercard at 1.5% and 100 chargebacks. 0.9% was Visa's former "
        "dispute programme (VDMP) threshold; acquirers often enforce lower limits.",
    )

    def _get_refund_timezone(self):
        """The time zone of the company's refund days (daily limits, refund window):
        its partner's, never a user's own, which users may change on themselves."""
        self.ensure_one()
        return self.partner_id.tz or "UTC"
