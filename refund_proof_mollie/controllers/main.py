import logging

from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment_mollie.controllers.main import MollieController

_logger = logging.getLogger(__name__)


class RefundProofMollieController(MollieController):
    @http.route()
    def mollie_webhook(self, **data):
        """Override of `payment_mollie` to record the payment's refunds and
        chargebacks as Mollie's API holds them (Odoo reads only the payment's
        status).

        Mollie calls the payment's webhook when one of its refunds or chargebacks
        changes, posting only the payment's id, unsigned by design: the post is
        never read. The payment is the one of the `ref` in the webhook's URL (as
        for Odoo), and its refunds and chargebacks are read from Mollie's API with
        the provider's API key: a forged post can make Odoo ask Mollie, and changes
        only what Mollie says.

        :param dict data: The notification data (only `id`) and the transaction
                          reference (`ref`) embedded in the webhook's URL.
        :return: An empty string to acknowledge the notification, or an HTTP 503
                 when Mollie's API could not be read (Mollie calls the webhook
                 again later).
        """
        response = super().mollie_webhook(**data)
        # In sudo mode: the public user of the webhook reads no transaction.
        tx_sudo = (
            request.env["payment.transaction"]
            .sudo()
            ._refund_proof_mollie_get_payment_tx(data.get("ref"))
        )
        if not tx_sudo:
            return response
        try:
            tx_sudo._refund_proof_mollie_sync_refunds()
            tx_sudo._refund_proof_mollie_sync_chargebacks()
        except ValidationError as error:
            _logger.warning(
                "Could not read the refunds and chargebacks of %s from Mollie: %s",
                tx_sudo.reference,
                error,
            )
            return request.make_response("", status=503)
        return response
