import logging
import pprint

from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment_paypal.controllers.main import PaypalController

from .. import const

_logger = logging.getLogger(__name__)


class RefundProofPaypalController(PaypalController):
    @http.route()
    def paypal_webhook(self):
        """Override of `payment_paypal` to record PayPal's refund events (a refund
        made in PayPal, or the completion of one made by Odoo) and dispute events,
        which Odoo ignores, verified as Odoo verifies PayPal's events.

        :return: An empty string to acknowledge the notification.
        :rtype: str
        """
        data = request.get_json_data()
        event_type = isinstance(data, dict) and data.get("event_type")
        if event_type not in (
            const.REFUND_EVENTS + const.REVERSAL_EVENTS + const.DISPUTE_EVENTS
        ):
            return super().paypal_webhook()
        _logger.info(
            "Notification received from PayPal with data:\n%s", pprint.pformat(data)
        )
        if event_type in const.REFUND_EVENTS:
            self._refund_proof_paypal_handle_refund_event(data)
        elif event_type in const.REVERSAL_EVENTS:
            self._refund_proof_paypal_handle_reversal_event(data)
        else:
            self._refund_proof_paypal_handle_dispute_event(data)
        return request.make_json_response("")

    def _refund_proof_paypal_handle_refund_event(self, data):
        """Check that PayPal sent the refund event (Odoo's `_verify_notification_
        origin`: PayPal's verify-webhook-signature API, with the provider's webhook
        id), then record the refund on the payment it refunds.

        :param dict data: The event.
        :raise werkzeug.exceptions.Forbidden: If PayPal does not verify the event.
        """
        # In sudo mode: the public user of the webhook reads no transaction.
        Transaction = request.env["payment.transaction"].sudo()
        refund_data = Transaction._refund_proof_paypal_as_refund_notification(
            data.get("resource")
        )
        if not Transaction._refund_proof_paypal_is_refund(refund_data):
            _logger.info("PayPal event %s without a refund: skipped", data.get("id"))
            return
        # PayPal unreachable (the capture's order is asked when Odoo keeps the
        # order id, and the event is verified by PayPal): the error answers the
        # event, and PayPal delivers it again later.
        source_tx = Transaction._refund_proof_paypal_get_refunded_tx(refund_data)
        if not source_tx:
            _logger.info(
                "PayPal event %s for the refund %s of a payment unknown here: skipped",
                data.get("id"),
                refund_data["id"],
            )
            return
        # Odoo's check: raises Forbidden unless PayPal verifies the event.
        self._verify_notification_origin(data, source_tx)
        try:
            refund_tx = source_tx._refund_proof_paypal_get_or_create_refund_tx(
                refund_data
            )
            refund_tx._handle_notification_data("paypal", refund_data)
        except ValidationError:  # Acknowledge the notification, as Odoo does.
            _logger.warning(
                "Unable to handle the notification data; skipping to acknowledge.",
                exc_info=True,
            )

    def _refund_proof_paypal_handle_dispute_event(self, data):
        """Check that PayPal sent the dispute event (as Odoo checks its events),
        then log it on the disputed payment and record the payment's dispute; never
        a refund.

        :param dict data: The event.
        :raise werkzeug.exceptions.Forbidden: If PayPal does not verify the event.
        """
        dispute_data = data.get("resource")
        if not isinstance(dispute_data, dict):
            _logger.info("PayPal event %s without a dispute: skipped", data.get("id"))
            return
        # In sudo mode: the public user of the webhook reads no transaction.
        tx_sudo = (
            request.env["payment.transaction"]
            .sudo()
            ._refund_proof_paypal_get_disputed_tx(dispute_data)
        )
        if not tx_sudo:
            _logger.info(
                "PayPal event %s for the dispute %s of a payment unknown here: skipped",
                data.get("id"),
                dispute_data.get("dispute_id"),
            )
            return
        # Odoo's check: raises Forbidden unless PayPal verifies the event.
        self._verify_notification_origin(data, tx_sudo)
        tx_sudo._refund_proof_paypal_record_dispute(data["event_type"], dispute_data)

    def _refund_proof_paypal_handle_reversal_event(self, data):
        """Check that PayPal sent the reversal of a capture (as Odoo checks its
        events), then log it on the reversed payment as a dispute event; never a
        refund.

        :param dict data: The event.
        :raise werkzeug.exceptions.Forbidden: If PayPal does not verify the event.
        """
        resource = data.get("resource")
        Transaction = request.env["payment.transaction"].sudo()
        capture_id = isinstance(resource, dict) and (
            Transaction._refund_proof_paypal_get_reversed_capture_id(resource)
        )
        # In sudo mode: the public user of the webhook reads no transaction.
        tx_sudo = Transaction._refund_proof_paypal_get_tx_of_capture(capture_id)
        if not tx_sudo:
            _logger.info(
                "PayPal event %s for a capture unknown here: skipped", data.get("id")
            )
            return
        # Odoo's check: raises Forbidden unless PayPal verifies the event.
        self._verify_notification_origin(data, tx_sudo)
        tx_sudo._refund_proof_paypal_log_reversal(resource)
