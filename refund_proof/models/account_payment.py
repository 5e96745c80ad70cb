from odoo import models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    def _compute_amount_available_for_refund(self):
        """Override of `account_payment`: what remains is what refund_proof reserves.

        Odoo only subtracts the refunds already turned into payments, so refunds in
        flight are forgotten (30 + 100 could be refunded on a payment of 100). The
        Refund wizard's bound now uses the same figure as the server-side check
        in `_request_refund`."""
        res = super()._compute_amount_available_for_refund()
        for payment in self.filtered("amount_available_for_refund"):
            payment.amount_available_for_refund = (
                payment.payment_transaction_id.sudo().refund_remaining_amount
            )
        return res
