import logging
import pprint

import requests
from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.refund_proof.utils import RefundOutcomeUnknown

from .. import const

_logger = logging.getLogger(__name__)


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    razorpay_previous_webhook_secret = fields.Char(
        string="Previous Webhook Secret",
        copy=False,
        groups="base.group_system",
        help="When you roll the webhook secret in Razorpay's dashboard, put the old "
        "one here: events signed with it (sent before the change, or retried) are "
        "still accepted until the date below.",
    )
    razorpay_previous_webhook_secret_expiry = fields.Datetime(
        string="Previous Webhook Secret Accepted Until",
        copy=False,
        groups="base.group_system",
        help="After this date, events signed with the previous webhook secret are "
        "refused.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "razorpay_previous_webhook_secret", "razorpay_previous_webhook_secret_expiry"
    )
    def _check_refund_proof_razorpay_previous_webhook_secret_expiry(self):
        """A previous webhook secret is accepted for a while only: it needs its end
        date."""
        for provider in self:
            if (
                provider.razorpay_previous_webhook_secret
                and not provider.razorpay_previous_webhook_secret_expiry
            ):
                raise ValidationError(
                    _(
                        "Set until when the previous webhook secret of %(provider)s "
                        "is accepted.",
                        provider=provider.name,
                    )
                )

    # === BUSINESS METHODS === #

    def _refund_proof_razorpay_get_webhook_secrets(self):
        """The webhook secrets whose signatures are accepted on the provider's
        events: the current one, and the previous one until its end date
        (Razorpay retries events signed before a change with the old secret).

        Note: self.ensure_one()

        :rtype: list[str]
        """
        self.ensure_one()
        return self._refund_proof_get_signing_secrets(
            self.razorpay_webhook_secret,
            self.razorpay_previous_webhook_secret,
            self.razorpay_previous_webhook_secret_expiry,
        )

    def _refund_proof_can_fetch_reference(self):
        """Override of `refund_proof`: Razorpay is asked for the bank reference of its
        refunds (`acquirer_data`), which it usually gets after the refund is
        processed."""
        return super()._refund_proof_can_fetch_reference() or self.code == "razorpay"

    def _razorpay_make_request(self, endpoint, payload=None, method="POST"):
        """Override of `payment_razorpay` to send the idempotency key of a refund
        request (`X-Refund-Idempotency`): a request repeated after an unknown outcome
        then gets the refund Razorpay may already have made, not a second one.

        Odoo's helper takes no headers, so the refund request that carries a key is
        made by `_refund_proof_razorpay_make_idempotent_request`, as Odoo's helper
        makes it; every other request goes to Odoo's helper.
        """
        # A hook that reads the context of the refund request being sent.
        key = self.env["payment.transaction"]._get_refund_idempotency_key()
        if (
            self.code != "razorpay"
            or method != "POST"
            or not key
            or not const.REFUND_ENDPOINT.fullmatch(endpoint)
        ):
            return super()._razorpay_make_request(
                endpoint, payload=payload, method=method
            )
        return self._refund_proof_razorpay_make_idempotent_request(
            endpoint, payload, key
        )

    def _refund_proof_razorpay_make_idempotent_request(self, endpoint, payload, key):
        """POST a refund request to Razorpay with its idempotency key: the URL,
        credentials, timeout and errors of Odoo's `_razorpay_make_request`, plus the
        `X-Refund-Idempotency` header.

        Note: self.ensure_one()

        :param str endpoint: The refund endpoint (``payments/<id>/refund``).
        :param dict payload: The refund request's body.
        :param str key: The idempotency key (10 or more letters, digits, hyphens and
                        underscores, as Razorpay requires).
        :return: The JSON-formatted content of the response.
        :rtype: dict
        :raise ValidationError: If an HTTP error occurs, raised from the `requests`
                                error, so that refund_proof tells a timeout (outcome
                                unknown) from a refusal; a 409 (the first request
                                with this key still in progress) is an unknown
                                outcome too.
        """
        self.ensure_one()
        url = url_join(const.API_URL, endpoint)
        auth = (self.razorpay_key_id, self.razorpay_key_secret)
        headers = {const.REFUND_IDEMPOTENCY_HEADER: key}
        try:
            response = requests.post(
                url, json=payload, auth=auth, headers=headers, timeout=const.API_TIMEOUT
            )
            if response.status_code == const.IDEMPOTENCY_IN_PROGRESS_STATUS:
                # Razorpay is still processing the request sent first with this key:
                # its outcome is unknown, not refused (refund_proof's
                # `RefundOutcomeUnknown`): the refund stays pending and keeps its key,
                # and Razorpay's event or the next retry with the same key tells what
                # happened.
                _logger.info(
                    "Razorpay is still processing the refund request with the key "
                    "%s (HTTP 409): outcome unknown",
                    key,
                )
                raise ValidationError(
                    _(
                        "Razorpay is still processing an earlier request for this "
                        "refund: its outcome is not known yet."
                    )
                ) from RefundOutcomeUnknown(f"HTTP 409 from {url}: request in progress")
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as error:
                _logger.exception(
                    "Invalid API request at %s with data:\n%s",
                    url,
                    pprint.pformat(payload),
                )
                raise ValidationError(
                    _(
                        "Razorpay: Razorpay gave us the following information: "
                        "'%(message)s'",
                        message=response.json().get("error", {}).get("description"),
                    )
                ) from error
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as error:
            _logger.exception("Unable to reach endpoint at %s", url)
            raise ValidationError(
                _("Razorpay: Could not establish the connection to the API.")
            ) from error
        return response.json()
