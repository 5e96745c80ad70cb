from odoo import models

from ..const import WEBHOOK_EVENTS

# Context keys between the overrides below and `payment_stripe`'s own methods, which
# build the requests: the webhook endpoint being created, the refund being sent.
WEBHOOK_CONTEXT_KEY = "refund_proof_stripe_create_webhook"
REFUND_CONTEXT_KEY = "refund_proof_stripe_refund_request"


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # === ACTION METHODS === #

    def action_stripe_create_webhook(self):
        """Override of `payment_stripe` to subscribe the webhook endpoint to the events
        of refund_proof too (`const.WEBHOOK_EVENTS`: refund updates, which bring the
        ARN, and disputes), besides Odoo's own."""
        return super(
            PaymentProvider, self.with_context(**{WEBHOOK_CONTEXT_KEY: True})
        ).action_stripe_create_webhook()

    # === BUSINESS METHODS === #

    def _refund_proof_can_fetch_reference(self):
        """Override of `refund_proof`: Stripe tells a refund's ARN on request
        (`GET refunds/<id>`, `destination_details`)."""
        self.ensure_one()
        return self.code == "stripe" or super()._refund_proof_can_fetch_reference()

    def _stripe_make_request(
        self, endpoint, payload=None, method="POST", offline=False, idempotency_key=None
    ):
        """Override of `payment_stripe` to complete two of the requests it builds:

        - the creation of the webhook endpoint lists the events of refund_proof too;
        - the creation of a refund carries its idempotency key (the same for a retry
          after an unknown outcome: Stripe answers it with the refund it may already
          have made) and asks for the refund's charge, whose statement descriptor is
          what the customer's statement shows.
        """
        if method == "POST" and endpoint == "webhook_endpoints":
            if self.env.context.get(WEBHOOK_CONTEXT_KEY) and payload:
                events = list(payload.get("enabled_events[]") or [])
                payload = {
                    **payload,
                    "enabled_events[]": events
                    + [event for event in WEBHOOK_EVENTS if event not in events],
                }
        elif method == "POST" and endpoint == "refunds":
            refund_request = self.env.context.get(REFUND_CONTEXT_KEY)
            if refund_request is not None:
                idempotency_key = idempotency_key or refund_request.get(
                    "idempotency_key"
                )
                payload = {**(payload or {}), "expand[]": "charge"}
        return super()._stripe_make_request(
            endpoint,
            payload=payload,
            method=method,
            offline=offline,
            idempotency_key=idempotency_key,
        )
