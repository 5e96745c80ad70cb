import hashlib
import hmac
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
            request.env["payment.transaction"]
            .sudo()
            ._refund_proof_razorpay_get_disputed_tx(entity)
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
        tx_sudo._refund_proof_razorpay_log_dispute_event(event, entity)

    @staticmethod
    def _verify_notification_signature(notification_data, received_signature, tx_sudo):
        """Override of `payment_razorpay` to accept, while the webhook secret is
        rolled, events signed with the previous secret too, until its end date
        (`payment.provider._refund_proof_razorpay_get_webhook_secrets`): Razorpay
        retries events signed before the change with the old secret.

        Every other signature goes to Odoo's check, the judge of the current
        secret: it accepts it, or logs why and refuses it (403).

        :param bytes notification_data: The event's raw body.
        :param str received_signature: `X-Razorpay-Signature`, hex HMAC-SHA256.
        :param recordset tx_sudo: The transaction of the event, in sudo mode.
        :raise: :class:`werkzeug.exceptions.Forbidden` if no secret signed the event.
        """
        if isinstance(received_signature, str) and received_signature:
            provider = tx_sudo.provider_id
            # The current secret is Odoo's check's to judge (below); the previous
            # one, which Odoo does not know, is judged here.
            for secret in provider._refund_proof_razorpay_get_webhook_secrets()[
                1 if provider.razorpay_webhook_secret else 0 :
            ]:
                expected = hmac.new(
                    secret.encode(), msg=notification_data, digestmod=hashlib.sha256
                ).hexdigest()
                if hmac.compare_digest(received_signature, expected):
                    return
        RazorpayController._verify_notification_signature(
            notification_data, received_signature, tx_sudo
        )
