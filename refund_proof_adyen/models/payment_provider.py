from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import const


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    adyen_previous_hmac_key = fields.Char(
        string="Previous HMAC Key",
        copy=False,
        groups="base.group_system",
        help="When you generate a new HMAC key in Adyen's Customer Area, put the old "
        "one here: events Adyen signed with it (sent before the change, or retried) "
        "are still accepted until the date below.",
    )
    adyen_previous_hmac_key_expiry = fields.Datetime(
        string="Previous HMAC Key Accepted Until",
        copy=False,
        groups="base.group_system",
        help="After this date, events signed with the previous HMAC key are refused.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("adyen_previous_hmac_key", "adyen_previous_hmac_key_expiry")
    def _check_refund_proof_adyen_previous_hmac_key_expiry(self):
        """A previous HMAC key is accepted for a while only: it needs its end date."""
        for provider in self:
            if (
                provider.adyen_previous_hmac_key
                and not provider.adyen_previous_hmac_key_expiry
            ):
                raise ValidationError(
                    _(
                        "Set until when the previous HMAC key of %(provider)s is "
                        "accepted.",
                        provider=provider.name,
                    )
                )

    # Adyen's Checkout API (v70) has no endpoint that reads a refund back: the ARN of a
    # refund is in the Customer Area ("Payment events", refund letter), or in the
    # REFUND event when Adyen sends it. `_refund_proof_can_fetch_reference` stays False.

    # === BUSINESS METHODS - WEBHOOKS === #

    def _refund_proof_adyen_get_hmac_keys(self):
        """The HMAC keys whose signature is accepted on Adyen's events: the provider's
        key, and the previous one until its end date (Adyen: "make sure that you can
        still accept webhooks signed with your previous HMAC key for some time").

        Note: self.ensure_one()

        :rtype: list[str]
        """
        self.ensure_one()
        return self._refund_proof_get_signing_secrets(
            self.adyen_hmac_key,
            self.adyen_previous_hmac_key,
            self.adyen_previous_hmac_key_expiry,
        )

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
