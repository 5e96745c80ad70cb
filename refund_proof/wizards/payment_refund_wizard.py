from odoo import api, fields, models


class PaymentRefundWizard(models.TransientModel):
    _name = "payment.refund.wizard"
    _inherit = ["payment.refund.wizard", "payment.refund.credit.note.choice"]
    _refund_proof_source_field = "transaction_id"

    reason_id = fields.Many2one(comodel_name="payment.refund.reason")
    note = fields.Text()

    @api.depends("amount_available_for_refund", "credit_note_id", "create_credit_note")
    def _compute_amount_to_refund(self):
        """Override of `account_payment`: at most the chosen credit note's open
        amount."""
        res = super()._compute_amount_to_refund()
        for wizard in self:
            wizard.amount_to_refund = wizard._get_credit_note_amount(
                wizard.amount_to_refund
            )
        return res

    def action_refund(self):
        """Override of `account_payment`: the refund records the reason and note, and
        the credit note it pays back."""
        for wizard in self:
            wizard.transaction_id._request_refund(
                amount_to_refund=wizard.amount_to_refund,
                reason=wizard.reason_id,
                note=wizard.note,
                **wizard._get_credit_note_request_values(),
            )
