import hashlib
import hmac
import logging
import pprint
from datetime import datetime, timezone

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from odoo.addons.payment_stripe import utils as stripe_utils
from odoo.addons.payment_stripe.controllers.main import StripeController

from ..const import SIGNED_ONLY_EVENTS
from ..models.payment_transaction import WEBHOOK_KEY

_logger = logging.getLogger(__name__)


class RefundProofStripeController(StripeController):
    @http.route()
    def stripe_webhook(self):
        """Override of `payment_stripe` to handle the refund and dispute events of
        refund_proof, and never to let an unsigned one change anything.

        - Refund and dispute events (`const.SIGNED_ONLY_EVENTS`) are refused (HTTP 403,
          Stripe retries them for days) unless signed with the provider's webhook
          secret: without a secret, Odoo would process them unsigned.
        - `charge.refunded` (with its refunds list) and `charge.refund.updated` then go
          to Odoo, as before; `charge.refunded` without the list (webhook endpoints on
          an API version since 2022-11-15), `refund.*` and `charge.dispute.*` are
          processed here (`payment.transaction._refund_proof_stripe_process_event`).
        - Other events (payments) go to Odoo unchanged.

        :return: An empty JSON response to acknowledge the event.
        """
        event = request.get_json_data()
        event_type = event.get("type") if isinstance(event, dict) else None
        if event_type not in SIGNED_ONLY_EVENTS:
            # What a payment event says of the charge is kept only when Odoo checked
            # its signature (`_refund_proof_stripe_is_signed_notification`).
            request.update_context(**{WEBHOOK_KEY: True})
            return super().stripe_webhook()
        stripe_object = (event.get("data") or {}).get("object") or {}
        # In sudo mode: the event comes from the public route; it changes nothing
        # before its signature is checked.
        tx_sudo = (
            request.env["payment.transaction"]
            .sudo()
            ._refund_proof_stripe_get_tx_from_event(event_type, stripe_object)
        )
        if not tx_sudo:
            _logger.info(
                "Stripe event %s (%s) is about no payment of this database: ignored.",
                event.get("id"),
                event_type,
            )
            return request.make_json_response("")
        self._refund_proof_verify_signature(tx_sudo, event)
        if self._refund_proof_is_for_odoo(event_type, stripe_object, tx_sudo):
            if event_type == "charge.refunded":
                tx_sudo._refund_proof_stripe_store_descriptor(stripe_object)
                tx_sudo._lock_for_refund()  # No refund recorded twice, see the model.
            return super().stripe_webhook()
        _logger.info(
            "Notification received from Stripe with data:\n%s", pprint.pformat(event)
        )
        tx_sudo._refund_proof_stripe_process_event(event_type, stripe_object)
        return request.make_json_response("")

    @staticmethod
    def _refund_proof_is_for_odoo(event_type, stripe_object, tx_sudo):
        """Whether Odoo's own webhook processes this signed refund event as it
        should: `charge.refunded` of a payment it finds by the charge's description,
        with its refunds list; `charge.refund.updated` of a refund it knows. The others
        it would fail on (HTTP 500 without the list, "no transaction found" for a
        refund made in Stripe's dashboard) or ignore.

        :param str event_type: The event's type.
        :param dict stripe_object: The event's object.
        :param recordset tx_sudo: The transaction of the event, in sudo mode.
        :rtype: bool
        """
        if event_type == "charge.refunded":
            return (
                isinstance(stripe_object.get("refunds"), dict)
                and stripe_object.get("description") == tx_sudo.reference
            )
        return event_type == "charge.refund.updated" and tx_sudo.operation == "refund"

    def _refund_proof_verify_signature(self, tx_sudo, event):
        """Check the event's signature with the provider's webhook secret (Odoo's
        `_verify_notification_signature`), refusing it when there is no secret or no
        signature, instead of processing it unsigned.

        :param recordset tx_sudo: The transaction of the event, in sudo mode.
        :param dict event: The event.
        :raise: :class:`werkzeug.exceptions.Forbidden` if the event is not signed
                with the provider's webhook secret.
        """
        provider_sudo = tx_sudo.provider_id
        if not stripe_utils.get_webhook_secret(provider_sudo):
            _logger.warning(
                "Stripe event %s (%s) refused: the provider %s has no webhook secret, "
                "so its signature cannot be checked. Set the webhook's signing secret "
                "on the provider: Stripe sends the event again.",
                event.get("id"),
                event.get("type"),
                provider_sudo.name,
            )
            raise Forbidden()
        if not request.httprequest.headers.get("Stripe-Signature"):
            _logger.warning(
                "Stripe event %s (%s) refused: it is not signed.",
                event.get("id"),
                event.get("type"),
            )
            raise Forbidden()
        self._verify_notification_signature(tx_sudo)

    def _verify_notification_signature(self, tx_sudo):
        """Override of `payment_stripe` to accept any of the `v1` signatures of the
        `Stripe-Signature` header, made with the provider's webhook secret or,
        while a secret is rolled, its previous one
        (`payment.provider._refund_proof_stripe_get_webhook_secrets`).

        While a secret is rolled, Stripe signs each event with every secret of the
        endpoint (`t=…,v1=<new>,v1=<old>`); Odoo's check reads only the last `v1`.
        The timestamp must be as recent as Odoo requires. What Odoo's check reads
        (the last `v1`, the current secret) and a header no secret signed go to
        Odoo's check, which accepts the first and logs and refuses the other (403);
        without any secret, Odoo's check decides (see `_refund_proof_verify_signature`
        for the events that are then refused).

        :param recordset tx_sudo: The transaction of the event, in sudo mode.
        :raise: :class:`werkzeug.exceptions.Forbidden` if no secret signed the event.
        """
        secrets = tx_sudo.provider_id._refund_proof_stripe_get_webhook_secrets()
        header = request.httprequest.headers.get("Stripe-Signature") or ""
        timestamp, signatures = self._refund_proof_parse_signature_header(header)
        now = datetime.now(timezone.utc).timestamp()
        if secrets and timestamp and now - timestamp <= self.WEBHOOK_AGE_TOLERANCE:
            signed_payload = f"{timestamp}.".encode() + request.httprequest.data
            for secret in secrets:
                expected = hmac.new(
                    secret.encode("utf-8"), signed_payload, hashlib.sha256
                ).hexdigest()
                matches = [hmac.compare_digest(expected, sig) for sig in signatures]
                # The last v1 with the current secret is what Odoo's check reads:
                # its to judge (below). Any other signature, Odoo's check ignores.
                if any(matches) and not (secret == secrets[0] and matches[-1]):
                    return
        super()._verify_notification_signature(tx_sudo)

    @staticmethod
    def _refund_proof_parse_signature_header(header):
        """The timestamp and the `v1` signatures of a `Stripe-Signature` header
        (`t=<unix time>,v1=<hex>,v1=<hex>,v0=…`), as Stripe's libraries read it.

        :param str header: The header's value.
        :return: The timestamp (0 when missing or not a number) and the signatures.
        :rtype: tuple[int, list[str]]
        """
        timestamp, signatures = 0, []
        for entry in header.split(","):
            key, _sep, value = entry.strip().partition("=")
            if key == "t" and value.isdigit():
                timestamp = int(value)
            elif key == "v1" and value:
                signatures.append(value)
        return timestamp, signatures
