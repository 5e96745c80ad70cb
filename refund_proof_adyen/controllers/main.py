from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment_adyen.controllers.main import AdyenController

from .. import const


class RefundProofAdyenController(AdyenController):
    @http.route()
    def adyen_webhook(self):
        """Override of `payment_adyen` to process the refund failures and the dispute
        events that Odoo's handler acknowledges without processing them.

        Odoo's handler runs first: it checks the signature of every item whose
        transaction it finds (a missing or wrong one refuses the whole notification
        with 403, and nothing of it is kept) and processes the events it knows. The
        events of `const.HANDLED_EVENT_CODES` are then processed by
        `payment.transaction._refund_proof_adyen_process_event`, after their own
        signature check.
        """
        response = super().adyen_webhook()
        data = request.get_json_data()
        for notification_item in data["notificationItems"]:
            notification_data = notification_item["NotificationRequestItem"]
            if notification_data.get("eventCode") not in const.HANDLED_EVENT_CODES:
                continue
            try:
                # In sudo mode: Adyen's request is public; the signature is checked
                # before anything is written.
                tx_sudo = (
                    request.env["payment.transaction"]
                    .sudo()
                    ._get_tx_from_notification_data("adyen", notification_data)
                )
            except ValidationError:
                continue  # Logged by Odoo's handler, acknowledged.
            self._verify_notification_signature(notification_data, tx_sudo)
            tx_sudo._refund_proof_adyen_process_event(notification_data)
        return response
