import logging

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
