from odoo import fields, models


class PaymentRefundReason(models.Model):
    _name = "payment.refund.reason"
    _description = "Refund Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    requires_note = fields.Boolean(
        help="Refunds with this reason cannot be requested without a note explaining them.",
    )
    description = fields.Text(translate=True)

