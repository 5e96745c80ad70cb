from odoo import fields, models


class PaymentRefundReason(models.Model):
    _name = "payment.refund.reason"
    _description = "Refund Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    requires_note = fields.Boolean(
        help="Refunds with this reason cannot be requested without a note explaining "
        "them.",
    )
    description = fields.Text(translate=True)
    window_policy = fields.Selection(
        selection=[
            ("company", "Company window"),
            ("custom", "Own window"),
            ("always", "Always allowed"),
        ],
        string="Refund Window",
        default="company",
        required=True,
        help="How long after the payment a refund with this reason may be issued "
        "without a manager's approval: the company's window, a window of its own, or "
        "at any time.",
    )
    window_days = fields.Integer(string="Window (days)", default=30)
