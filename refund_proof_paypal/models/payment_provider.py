import logging

import requests

from odoo import _, models
from odoo.exceptions import ValidationError

from odoo.addons.refund_proof.utils import (
    TOO_MANY_REQUESTS,
    RefundOutcomeUnknown,
    RefundProviderThrottled,
)

from .. import const

_logger = logging.getLogger(__name__)


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to refund PayPal captures, in full or in part (the
        bridge's `_send_refund_request`)."""
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "paypal").update(
            {"support_refund": "partial"}
        )
        return res

    # === CAPABILITIES FOR REFUND_PROOF (models/payment_provider.py) === #

    def _refund_proof_can_fetch_reference(self):
        """Override of `refund_proof`: PayPal is asked for the ARN of its refunds
        (`acquirer_reference_number`, on card-funded refunds, a few days after the
        refund)."""
        return super()._refund_proof_can_fetch_reference() or self.code == "paypal"

    # === BUSINESS METHODS === #

    def _paypal_make_request(self, endpoint, data=None, json_payload=None, **kwargs):
        """Override of `payment_paypal` to subscribe the webhook that Odoo creates
        (*Generate your webhook*) to PayPal's refund, reversal and dispute events too
        (`const.REFUND_EVENTS`, `const.REVERSAL_EVENTS`, `const.DISPUTE_EVENTS`),
        which the bridge handles."""
        if (
            self.code == "paypal"
            and endpoint == "/v1/notifications/webhooks"
            and isinstance(json_payload, dict)
            and isinstance(json_payload.get("event_types"), list)
        ):
            names = {event.get("name") for event in json_payload["event_types"]}
            json_payload = dict(
                json_payload,
                event_types=json_payload["event_types"]
                + [
                    {"name": name}
                    for name in const.REFUND_EVENTS
                    + const.REVERSAL_EVENTS
                    + const.DISPUTE_EVENTS
                    if name not in names
                ],
            )
        return super()._paypal_make_request(
            endpoint, data=data, json_payload=json_payload, **kwargs
        )

    def _refund_proof_paypal_request(
        self, method, endpoint, json_payload=None, request_id=None, missing_ok=False
    ):
        """Send a request to PayPal's REST API as Odoo's `_paypal_make_request`
        does (its URL, access token and timeout), which only POSTs and takes no
        header: with any method, the idempotency key of a refund request
        (`PayPal-Request-Id`), and PayPal's whole object in the answer.

        Note: self.ensure_one()

        :param str method: The HTTP method (GET, POST).
        :param str endpoint: The endpoint, from `/v…` on.
        :param dict json_payload: The JSON body, if any.
        :param str request_id: The `PayPal-Request-Id` of a request that must be
                               made once (a refund).
        :param bool missing_ok: Answer None, not an error, when PayPal says the
                                object does not exist (HTTP 404).
        :return: PayPal's answer.
        :rtype: dict | None
        :raise ValidationError: When PayPal cannot be reached or refuses, raised from
            the `requests` error (refund_proof tells a timeout, outcome unknown,
            from a refusal) or, when a request with a key may have been made (PayPal
            still processing the first one, or failing inside), from
            `RefundOutcomeUnknown`.
        """
        self.ensure_one()
        url = self._paypal_get_api_url() + endpoint
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self._paypal_fetch_access_token()}",
            **const.PREFER_HEADER,
        }
        if request_id:
            headers[const.REQUEST_ID_HEADER] = request_id
        try:
            response = requests.request(
                method,
                url,
                json=json_payload,
                headers=headers,
                timeout=const.API_TIMEOUT,
            )
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as error:
            _logger.warning("PayPal: no answer from %s: %s", url, error)
            raise ValidationError(
                _("PayPal: Could not establish the connection to the API.")
            ) from error
        if missing_ok and response.status_code == const.NOT_FOUND_STATUS:
            return None
        if request_id and (
            response.status_code == const.IN_PROGRESS_STATUS
            or response.status_code >= 500
        ):
            # The request may have been made: its outcome is unknown, not refused
            # (refund_proof's `RefundOutcomeUnknown`); the refund stays pending with
            # its key, and PayPal's event or a retry with the same key tells.
            _logger.info(
                "PayPal answered HTTP %s to the request %s at %s: outcome unknown",
                response.status_code,
                request_id,
                url,
            )
            raise ValidationError(
                _(
                    "PayPal has not finished processing this request: its outcome is "
                    "not known yet."
                )
            ) from RefundOutcomeUnknown(f"HTTP {response.status_code} from {url}")
        if not response.ok:
            message = self._refund_proof_paypal_error_message(response)
            _logger.info(
                "PayPal refused the request at %s (HTTP %s): %s",
                url,
                response.status_code,
                message,
            )
            # A rate limit (429) did nothing: a bulk refund's job asks again later.
            throttled = (
                RefundProviderThrottled(message)
                if response.status_code == TOO_MANY_REQUESTS
                else None
            )
            raise ValidationError(
                _(
                    "PayPal: The communication with the API failed. Details: "
                    "%(message)s",
                    message=message,
                )
            ) from throttled
        return response.json()

    @staticmethod
    def _refund_proof_paypal_error_message(response):
        """PayPal's error, as its "Error" object says it: `message`, then the
        `issue` and `description` of each of its `details`.

        :param requests.Response response: PayPal's error answer.
        :rtype: str
        """
        try:
            error = response.json()
        except ValueError:
            return f"HTTP {response.status_code}"
        if not isinstance(error, dict):
            return f"HTTP {response.status_code}"
        parts = [str(error.get("message") or error.get("name") or "")]
        details = error.get("details")
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict) and detail.get("issue"):
                parts.append(
                    f"{detail['issue']}: {detail.get('description') or ''}".strip()
                )
        return " ".join(part for part in parts if part) or (
            f"HTTP {response.status_code}"
        )
