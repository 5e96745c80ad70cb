import logging
import pprint

import requests
from werkzeug.urls import url_join

from odoo import _, models, service
from odoo.exceptions import ValidationError

from odoo.addons.refund_proof.utils import RefundOutcomeUnknown

from .. import const

_logger = logging.getLogger(__name__)


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment`: Mollie refunds a payment in full or in part (Create
        Refund), which Odoo's `payment_mollie` does not declare."""
        result = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "mollie").update(
            {"support_refund": "partial"}
        )
        return result

    # === BUSINESS METHODS === #

    def _refund_proof_gives_arn(self):
        """Override of `refund_proof`: Mollie gives no ARN (its refund has no
        acquirer reference): the proof says how the refund appears on the statement."""
        if self.code == "mollie":
            return False
        return super()._refund_proof_gives_arn()

    def _refund_proof_mollie_create_refund(self, payment_id, payload, key=None):
        """Create a refund of the Mollie payment `payment_id` (Create Refund, POST
        /v2/payments/{id}/refunds) with its idempotency key: the URL, headers, timeout
        and errors of Odoo's `_mollie_make_request`, which takes no header, plus
        `Idempotency-Key`. A request repeated after an unknown outcome then gets the
        refund Mollie may already have made, not a second one.

        Note: self.ensure_one()

        :param str payment_id: The Mollie payment (``tr_…``).
        :param dict payload: The request's body (amount, description).
        :param str key: The idempotency key (`payment.transaction.
                        _get_refund_idempotency_key`), if any.
        :return: The refund object Mollie answered.
        :rtype: dict
        :raise ValidationError: If Mollie refuses or cannot be reached, raised from the
                                `requests` error so that refund_proof tells a timeout
                                (outcome unknown) from a refusal; a 409 (the first
                                request with this key still in progress) is an
                                unknown outcome too.
        """
        self.ensure_one()
        url = url_join(const.API_URL, f"/v2/payments/{payment_id}/refunds")
        headers = self._refund_proof_mollie_get_headers()
        if key:
            headers[const.IDEMPOTENCY_HEADER] = key
        try:
            response = requests.post(
                url, json=payload, headers=headers, timeout=const.API_TIMEOUT
            )
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as error:
            _logger.exception("Unable to reach endpoint at %s", url)
            raise ValidationError(
                _("Mollie: Could not establish the connection to the API.")
            ) from error
        if response.status_code == const.IDEMPOTENCY_IN_PROGRESS_STATUS and key:
            # Mollie is still processing the request sent first with this key: its
            # outcome is unknown, not refused (refund_proof's `RefundOutcomeUnknown`);
            # the refund stays pending with its key, and Mollie's webhook or the next
            # retry with the same key tells what happened.
            _logger.info(
                "Mollie is still processing the refund request with the key %s "
                "(HTTP 409): outcome unknown",
                key,
            )
            raise ValidationError(
                _(
                    "Mollie is still processing an earlier request for this refund: "
                    "its outcome is not known yet."
                )
            ) from RefundOutcomeUnknown(f"HTTP 409 from {url}: request in progress")
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as error:
            _logger.info(
                "Mollie refused the refund request at %s with data:\n%s\n%s",
                url,
                pprint.pformat(payload),
                response.text,
            )
            raise ValidationError(
                _(
                    "Mollie: The communication with the API failed. Mollie gave us "
                    "the following information: %(detail)s",
                    detail=self._refund_proof_mollie_get_error_detail(response),
                )
            ) from error
        return response.json()

    def _refund_proof_mollie_get_headers(self):
        """The headers of Odoo's `_mollie_make_request`: its API key and its
        User-Agent (Mollie's "user agent strings" for integration partners).

        Note: self.ensure_one()

        :rtype: dict
        """
        self.ensure_one()
        odoo_version = service.common.exp_version()["server_version"]
        module_version = self.env.ref("base.module_payment_mollie").installed_version
        return {
            "Accept": "application/json",
            "Authorization": f"Bearer {self.mollie_api_key}",
            "Content-Type": "application/json",
            "User-Agent": f"Odoo/{odoo_version} MollieNativeOdoo/{module_version}",
        }

    @staticmethod
    def _refund_proof_mollie_get_error_detail(response):
        """The `detail` of Mollie's error object, or the response's status."""
        try:
            data = response.json()
        except ValueError:
            data = None
        detail = isinstance(data, dict) and data.get("detail")
        return (
            detail if isinstance(detail, str) and detail else str(response.status_code)
        )
