import hashlib
import hmac
import logging
import pprint

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment import utils as payment_utils

_logger = logging.getLogger(__name__)


class FakePSPController(http.Controller):
    _webhook_url = "/payment/fakepsp/webhook"

    @http.route(_webhook_url, type="http", methods=["POST"], auth="public", csrf=False)
    def fakepsp_webhook(self):
        """Process a notification the PSP sends about a refund (its `refund` object).

        A refund Odoo never recorded (made in the PSP's dashboard, or whose request
        Odoo rolled back after the PSP made it) gets its refund transaction here.

        :return: An empty JSON response to acknowledge the notification.
        """
        event = request.get_json_data()
        _logger.info("Fake PSP: notification received:\n%s", pprint.pformat(event))
        if event.get("type") != "refund.updated":
            return request.make_json_response("")
        refund = event["refund"]
        tx_sudo = request.env["payment.transaction"].sudo()
        try:
            source_tx_sudo = tx_sudo._get_tx_from_notification_data(
                "fakepsp", {"reference": refund["payment_reference"]}
            )
            self._verify_signature(source_tx_sudo.provider_id)
            # A refund being sent from Odoo holds this lock until its answer is
            # committed: wait for it, so that its refund transaction is found rather
            # than created twice (as the Stripe bridge does).
            source_tx_sudo._lock_for_refund()
            refund_tx_sudo = tx_sudo.search(
                [
                    ("provider_code", "=", "fakepsp"),
                    ("operation", "=", "refund"),
                    ("provider_reference", "=", refund["id"]),
                ],
                limit=1,
            )
            if not refund_tx_sudo:
                refund_tx_sudo = source_tx_sudo._create_child_transaction(
                    payment_utils.to_major_currency_units(
                        refund["amount"], source_tx_sudo.currency_id
                    ),
                    is_refund=True,
                )
            refund_tx_sudo._handle_notification_data("fakepsp", refund)
        except ValidationError:
            # Acknowledge the notification to avoid getting spammed.
            _logger.warning(
                "Fake PSP: unable to handle the notification data; skipping to "
                "acknowledge",
                exc_info=True,
            )
        return request.make_json_response("")

    @staticmethod
    def _verify_signature(provider_sudo):
        """Check that the notification was signed by the PSP with the webhook secret.

        :param recordset provider_sudo: The provider, as a sudoed `payment.provider`.
        :return: None
        :raise Forbidden: If the signature is missing or does not match.
        """
        secret = provider_sudo.fakepsp_webhook_secret
        received = request.httprequest.headers.get("FakePSP-Signature", "")
        expected = hmac.new(
            (secret or "").encode(), request.httprequest.get_data(), hashlib.sha256
        ).hexdigest()
        if not secret or not hmac.compare_digest(received, expected):
            _logger.warning("Fake PSP: notification with an invalid signature")
            raise Forbidden()
