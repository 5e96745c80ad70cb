from odoo import _, models


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment_authorize`: Authorize.Net refunds a part of a settled
        payment (`refundTransaction` takes an amount, which Odoo's module passes on).
        A part asked before the settlement waits for it
        (`payment.transaction._send_refund_request`)."""
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "authorize").update(
            {"support_refund": "partial"}
        )
        return res

    # === BUSINESS METHODS === #

    def _get_refund_no_arn_note(self):
        """Override of `refund_proof`: an Authorize.Net refund without ARN is the
        void of a payment not settled yet."""
        if self.code != "authorize":
            return super()._get_refund_no_arn_note()
        return _(
            "The payment was cancelled before it was settled, so the card was never "
            "charged: instead of a credit, the pending charge disappears from your "
            "bank or card statement, usually within a few days depending on your "
            "bank."
        )
