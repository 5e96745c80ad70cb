import json
import logging

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import file_open

from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe import utils as stripe_utils

from ..const import REQUEST_TIMEOUT, WEBHOOK_EVENTS

_logger = logging.getLogger(__name__)

# Context keys between the overrides below and `payment_stripe`'s own methods, which
# build the requests: the webhook endpoint being created; the refund being sent (its
# idempotency key).
WEBHOOK_CONTEXT_KEY = "refund_proof_stripe_create_webhook"
REFUND_CONTEXT_KEY = "refund_proof_stripe_refund_request"


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    stripe_previous_webhook_secret = fields.Char(
        string="Previous Webhook Signing Secret",
        copy=False,
        groups="base.group_system",
        help="When you roll the webhook signing secret in Stripe's dashboard, put "
        "the old one here: events signed with it (sent before the change, or "
        "retried) are still accepted until the date below.",
    )
    stripe_previous_webhook_secret_expiry = fields.Datetime(
        string="Previous Webhook Signing Secret Accepted Until",
        copy=False,
        groups="base.group_system",
        help="After this date, events signed with the previous webhook signing "
        "secret are refused.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "stripe_previous_webhook_secret", "stripe_previous_webhook_secret_expiry"
    )
    def _check_refund_proof_stripe_previous_webhook_secret_expiry(self):
        """A previous webhook signing secret is accepted for a while only: it
        needs its end date."""
        for provider in self:
            if (
                provider.stripe_previous_webhook_secret
                and not provider.stripe_previous_webhook_secret_expiry
            ):
                raise ValidationError(
                    _(
                        "Set until when the previous webhook signing secret of "
                        "%(provider)s is accepted.",
                        provider=provider.name,
                    )
                )

    # === ACTION METHODS === #

    def action_stripe_create_webhook(self):
        """Override of `payment_stripe` to subscribe the webhook endpoint to the events
        of refund_proof too (`const.WEBHOOK_EVENTS`: refund updates, which bring the
        ARN, and disputes), besides Odoo's own."""
        return super(
            PaymentProvider, self.with_context(**{WEBHOOK_CONTEXT_KEY: True})
        ).action_stripe_create_webhook()

    # === BUSINESS METHODS === #

    def _refund_proof_stripe_get_webhook_secrets(self):
        """The webhook signing secrets whose signatures are accepted on the provider's
        events: the current one, and the previous one until its end date
        (while a secret is rolled, Stripe signs each event with every secret of
        the endpoint).

        Note: self.ensure_one()

        :rtype: list[str]
        """
        self.ensure_one()
        return self._refund_proof_get_signing_secrets(
            stripe_utils.get_webhook_secret(self),
            self.stripe_previous_webhook_secret,
            self.stripe_previous_webhook_secret_expiry,
        )

    def _refund_proof_can_fetch_reference(self):
        """Override of `refund_proof`: Stripe tells a refund's ARN on request
        (`GET refunds/<id>`, `destination_details`)."""
        self.ensure_one()
        return self.code == "stripe" or super()._refund_proof_can_fetch_reference()

    def _refund_proof_can_submit_dispute_evidence(self):
        """Override of `refund_proof`: Stripe takes a dispute's evidence through its
        API (a file upload, then `POST disputes/<id>`), with the secret key.

        Note: self.ensure_one()
        """
        self.ensure_one()
        if self.code != "stripe":
            return super()._refund_proof_can_submit_dispute_evidence()
        return bool(stripe_utils.get_secret_key(self))

    def _refund_proof_stripe_post(self, url, data, files=None, idempotency_key=None):
        """POST to Stripe as `payment_stripe` authenticates its requests (the secret
        key, its API version and extra headers), form-encoded or, with `files`,
        multipart (the files host, which `_stripe_make_request` cannot reach), and
        answer Stripe's object. Stripe's error is raised with Stripe's own message
        (and logged at INFO: the user reads it); a failure to reach Stripe is raised
        too, and logged at WARNING.

        Note: self.ensure_one()

        :param str url: The full URL (`const.API_URL`... or `const.FILES_URL`).
        :param dict data: The form fields.
        :param dict files: The files, as `requests` takes them: name -> (filename,
                           content, content type).
        :param str idempotency_key: Stripe's `Idempotency-Key`: Stripe performs the
                                    request once per key, and answers a second one
                                    with the first one's result.
        :return: Stripe's answer.
        :rtype: dict
        :raise UserError: When Stripe cannot be reached, or refuses the request.
        """
        self.ensure_one()
        headers = {
            "Authorization": f"Bearer {stripe_utils.get_secret_key(self)}",
            "Stripe-Version": stripe_const.API_VERSION,
            **self._get_stripe_extra_request_headers(),
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = requests.post(
                url, data=data, files=files, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except requests.exceptions.RequestException as error:
            _logger.warning("Stripe: no answer from %s: %s", url, error)
            raise UserError(
                _("Stripe did not answer. Please try again in a moment.")
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if response.ok and isinstance(answer, dict) and not error:
            return answer
        message = error.get("message") if isinstance(error, dict) else None
        _logger.info(
            "Stripe answered the request to %s with an error (HTTP %s): %s",
            url,
            response.status_code,
            message,
        )
        raise UserError(
            _(
                "Stripe answered with an error (HTTP %(status)s): %(message)s",
                status=response.status_code,
                message=message or _("no details given"),
            )
        )

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
