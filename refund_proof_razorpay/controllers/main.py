import hashlib
import hmac
import logging

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from odoo.addons.payment_razorpay.controllers.main import RazorpayController

from .. import const

_logger = logging.getLogger(__name__)


class RefundProofRazorpayController(RazorpayController):
    @http.route()
    def razorpay_webhook(self):
        """Override of `payment_razorpay` to record Razorpay's dispute events on the
        disputed payment (Odoo ignores them), signed as every other event.

        :return: An empty string to acknowledge the notification.
        :rtype: str
        """
        response = super().razorpay_webhook()
        data = request.get_json_data()
        event = isinstance(data, dict) and data.get("event")
        if event in const.DISPUTE_EVENTS:
            self._refund_proof_handle_dispute_event(event, data)
        return response

    def _refund_proof_handle_dispute_event(self, event, data):
        """Check the signature of a dispute event, then log it on its payment.

        :param str event: The event, one of `const.DISPUTE_EVENTS`.
        :param dict data: The event's data.
        :raise werkzeug.exceptions.Forbidden: If the signature is missing or wrong.
        """
        payload = data.get("payload")
        dispute = isinstance(payload, dict) and payload.get("dispute")
        entity = isinstance(dispute, dict) and dispute.get("entity")
        if not isinstance(entity, dict):
            _logger.info("Razorpay event %s without a dispute entity: skipped", event)
            return
        # In sudo mode: the public user of the webhook reads no transaction.
        tx_sudo = (
            request.env["payment.transaction"].sudo()._razorpay_get_disputed_tx(entity)
        )
        if not tx_sudo:
            _logger.info(
                "Razorpay event %s for the payment %s, unknown here: skipped",
                event,
                entity.get("payment_id"),
            )
            return
        self._verify_notification_signature(
            request.httprequest.data,
            request.httprequest.headers.get("X-Razorpay-Signature"),
            tx_sudo,
        )
        tx_sudo._razorpay_log_dispute_event(event, entity)

    @staticmethod
    def _verify_notification_signature(notification_data, received_signature, tx_sudo):
        """Override of `payment_razorpay` to accept, while the webhook secret is
        rolled, events signed with the previous secret too, until its end date
        (`payment.provider._razorpay_get_webhook_secrets`): Razorpay retries events
        signed before the change with the old secret.

        A signature no secret made goes to Odoo's check, which logs why and refuses
        it (403).

        :param bytes notification_data: The event's raw body.
        :param str received_signature: `X-Razorpay-Signature`, hex HMAC-SHA256.
        :param recordset tx_sudo: The transaction of the event, in sudo mode.
        :raise: :class:`werkzeug.exceptions.Forbidden` if no secret signed the event.
        """
        if isinstance(received_signature, str) and received_signature:
            for secret in tx_sudo.provider_id._razorpay_get_webhook_secrets():
                expected = hmac.new(
                    secret.encode(), msg=notification_data, digestmod=hashlib.sha256
                ).hexdigest()
                if hmac.compare_digest(received_signature, expected):
                    return
        RazorpayController._verify_notification_signature(
            notification_data, received_signature, tx_sudo
        )
        raise Forbidden()  # Odoo's check refuses it; never accept past it.
