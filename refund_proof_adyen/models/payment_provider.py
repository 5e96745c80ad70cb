from odoo import models

from .. import const


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # Adyen's Checkout API (v70) has no endpoint that reads a refund back: the ARN of a
    # refund is in the Customer Area ("Payment events", refund letter), or in the
    # REFUND event when Adyen sends it. `_refund_proof_can_fetch_reference` stays False.

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _adyen_make_request(
        self,
        endpoint,
        endpoint_param=None,
        payload=None,
        method="POST",
        idempotency_key=None,
    ):
        """Override of `payment_adyen` to send refund requests with an idempotency key.

        Odoo's refund request (`payment.transaction._send_refund_request`) passes none.
        The key of refund_proof (`payment.transaction._get_refund_idempotency_key`) is
        the same when a refund of unknown outcome is sent again, so that Adyen answers
        with the refund it may already have made instead of making a second one.

        Note: self.ensure_one()
        """
        if endpoint == const.REFUND_ENDPOINT and not idempotency_key:
            idempotency_key = self.env[
                "payment.transaction"
            ]._get_refund_idempotency_key()
        return super()._adyen_make_request(
            endpoint,
            endpoint_param=endpoint_param,
            payload=payload,
            method=method,
            idempotency_key=idempotency_key,
        )
