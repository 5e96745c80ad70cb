from odoo import fields, models


class PaymentRefundWizard(models.TransientModel):
    _inherit = "payment.refund.wizard"

    reason_id = fields.Many2one(comodel_name="payment.refund.reason")
    note = fields.Text()

    def action_refund(self):
        """Override of `account_payment`: the refund records the reason and note."""
        for wizard in self:
            wizard.transaction_id._request_refund(
                amount_to_refund=wizard.amount_to_refund,
                reason=wizard.reason_id,
                note=wizard.note,
            )
