from odoo import fields, models


class PaymentRefundReject(models.TransientModel):
    _name = "payment.refund.reject"
    _description = "Reject Refund Requests"

    refund_ids = fields.Many2many(
        comodel_name="payment.refund", string="Refunds", required=True
    )
    reason = fields.Text(required=True)

    def action_reject(self):
        self.ensure_one()
        return self.refund_ids.action_reject(reason=self.reason)
