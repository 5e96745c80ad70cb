import json

from odoo import models
from odoo.tools.misc import file_open

from ..const import WEBHOOK_EVENTS

# Context keys between the overrides below and `payment_stripe`'s own methods, which
# build the requests: the webhook endpoint being created; the refund being sent (its
# idempotency key).
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
            if REFUND_CONTEXT_KEY in self.env.context:
                idempotency_key = (
                    idempotency_key or self.env.context[REFUND_CONTEXT_KEY]
                )
                payload = {**(payload or {}), "expand[]": "charge"}
        return super()._stripe_make_request(
            endpoint,
            payload=payload,
            method=method,
            offline=offline,
            idempotency_key=idempotency_key,
        )

    # === BUSINESS METHODS - DEMO === #

    def _refund_proof_stripe_demo_replay(self, partner_id, path):
        """Demo data of `make run` (demo/refund_proof_stripe_demo.xml): a Stripe
        payment and its refund whose ARN arrived by itself, from Stripe's recorded
        objects in `path`, replayed as Stripe reported them (the payment intent
        through Odoo's notification processing, then the refund's events); no network.

        Note: self.ensure_one()

        :param int partner_id: The customer.
        :param str path: The recorded objects, a JSON file of the module.
        :return: The refund.
        :rtype: recordset of `payment.refund`
        """
        self.ensure_one()
        with file_open(path) as file:
            recorded = json.load(file)
        payment_method = self.with_context(active_test=False).payment_method_ids[:1]
        payment_method.active = True
        Tx = self.env["payment.transaction"]
        tx = Tx.create(
            {
                "provider_id": self.id,
                "payment_method_id": payment_method.id,
                "amount": recorded["payment_intent"]["amount"] / 100,
                "currency_id": self.company_id.currency_id.id,
                "reference": Tx._compute_reference("stripe", prefix="STRIPE-DEMO"),
                "partner_id": partner_id,
                "operation": "online_direct",
            }
        )
        payment_intent = dict(recorded["payment_intent"], description=tx.reference)
        tx._handle_notification_data(
            "stripe",
            {
                "reference": tx.reference,
                "payment_intent": payment_intent,
                "payment_method": payment_intent["payment_method"],
            },
        )
        tx._post_process()
        for event in recorded["events"]:
            event_object = event["data"]["object"]
            target = Tx._refund_proof_stripe_get_tx_from_event(
                event["type"], event_object
            )
            target._refund_proof_stripe_process_event(event["type"], event_object)
        return tx.refund_ids
