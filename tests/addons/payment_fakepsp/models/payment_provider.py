import logging
from urllib.parse import urljoin

import requests

from odoo import _, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# The payment methods to activate with the provider.
DEFAULT_PAYMENT_METHOD_CODES = {"card"}


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    code = fields.Selection(
        selection_add=[("fakepsp", "Fake PSP (tests)")],
        ondelete={"fakepsp": "set default"},
    )
    fakepsp_api_url = fields.Char(
        string="API URL",
        required_if_provider="fakepsp",
        help="Base URL of the PSP's API; the refunds endpoint is `<API URL>refunds`.",
    )
    fakepsp_timeout = fields.Float(
        string="API Timeout",
        default=10.0,
        help="Seconds to wait for the PSP's answer before giving up.",
    )
    fakepsp_webhook_secret = fields.Char(
        string="Fake PSP Webhook Secret",
        groups="base.group_system",
        help="Shared with the PSP, which signs its webhook notifications with it.",
    )

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to enable refunds."""
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "fakepsp").update(
            {"support_refund": "partial"}
        )
        return res

    # === BUSINESS METHODS === #

    def _get_default_payment_method_codes(self):
        """Override of `payment` to return the default payment method codes."""
        default_codes = super()._get_default_payment_method_codes()
        if self.code != "fakepsp":
            return default_codes
        return DEFAULT_PAYMENT_METHOD_CODES

    def _fakepsp_make_request(self, endpoint, payload=None):
        """Make a POST request to the PSP's API at the given endpoint.

        Network errors, timeouts and error answers become a `ValidationError` carrying
        what happened, in the PSP's words when it gave some.

        Note: self.ensure_one()

        :param str endpoint: The endpoint, relative to the API URL.
        :param dict payload: The JSON payload of the request.
        :return: The JSON content of the answer.
        :rtype: dict
        :raise ValidationError: If the PSP cannot be reached, does not answer in time,
                                or answers with an error.
        """
        self.ensure_one()
        url = urljoin(self.fakepsp_api_url, endpoint)
        try:
            response = requests.post(url, json=payload, timeout=self.fakepsp_timeout)
        except requests.exceptions.Timeout as error:
            _logger.info("Fake PSP: no answer from %s in time: %s", url, error)
            raise ValidationError(
                _(
                    "%(provider)s: the request timed out (no answer within "
                    "%(timeout)s seconds).",
                    provider=self.name,
                    timeout=f"{self.fakepsp_timeout:g}",
                )
            ) from error
        except requests.exceptions.RequestException as error:
            _logger.info("Fake PSP: unable to reach %s: %s", url, error)
            raise ValidationError(
                _(
                    "%(provider)s: could not establish the connection to the API "
                    "(%(error)s).",
                    provider=self.name,
                    error=error,
                )
            ) from error
        try:
            content = response.json()
        except requests.exceptions.JSONDecodeError:
            content = {}
        if not response.ok:
            message = content.get("error", {}).get("message") or response.reason
            _logger.info(
                "Fake PSP: %s answered HTTP %s: %s", url, response.status_code, message
            )
            # As Odoo's provider modules do (Stripe's, Adyen's): the error is raised
            # from requests' HTTPError, which carries the answer's status.
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as error:
                raise ValidationError(
                    _(
                        "%(provider)s: the API refused the request (HTTP %(status)s): "
                        "%(message)s",
                        provider=self.name,
                        status=response.status_code,
                        message=message,
                    )
                ) from error
        if not content:
            raise ValidationError(
                _("%(provider)s: the API gave an empty answer.", provider=self.name)
            )
        return content
