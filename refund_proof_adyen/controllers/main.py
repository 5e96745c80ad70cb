import base64
import binascii
import hashlib
import hmac

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

    @staticmethod
    def _verify_notification_signature(notification_data, tx_sudo):
        """Override of `payment_adyen` to accept what Adyen signs, with the provider's
        HMAC key or, during a key rotation, its previous one
        (`payment.provider._refund_proof_adyen_get_hmac_keys`).

        Odoo's check escapes `\\` and `:` in the signed values; Adyen's own libraries
        (Python, Java, PHP, which agree on Adyen's reference vector) join the raw
        values, so that an event whose merchantReference holds a `:` (a reference
        typed in the Customer Area) would be refused, and the whole notification with
        it. Both signing strings are computed; nothing unsigned is accepted. Odoo's
        check stays the judge of what it knows: an item signed as Odoo computes it
        with the provider's key, or signed by no key, goes to Odoo's check (which
        accepts the first, and logs and refuses the other, 403); only what Adyen
        signed and Odoo's check would refuse (the raw form, the previous key) is
        accepted here.

        :param dict notification_data: The notification item, with its signature.
        :param recordset tx_sudo: The transaction of the item, in sudo mode.
        :raise: :class:`werkzeug.exceptions.Forbidden` if no key signed the item.
        """
        received = (notification_data.get("additionalData") or {}).get("hmacSignature")
        if isinstance(received, str) and received:
            provider = tx_sudo.provider_id
            try:
                odoo_form = AdyenController._compute_signature(
                    notification_data, provider.adyen_hmac_key
                )
            except (binascii.Error, ValueError, TypeError):
                odoo_form = None  # No usable key: Odoo's check refuses.
            if not (odoo_form and hmac.compare_digest(received, odoo_form)):
                for hmac_key in provider._refund_proof_adyen_get_hmac_keys():
                    try:
                        expected = (
                            RefundProofAdyenController._compute_raw_signature(
                                notification_data, hmac_key
                            ),
                            AdyenController._compute_signature(
                                notification_data, hmac_key
                            ),
                        )
                    except (binascii.Error, ValueError):
                        continue  # Not a hexadecimal key: it signs nothing.
                    if any(hmac.compare_digest(received, sig) for sig in expected):
                        return
        AdyenController._verify_notification_signature(notification_data, tx_sudo)

    @staticmethod
    def _compute_raw_signature(notification_data, hmac_key):
        """Adyen's HMAC signature of a notification item as Adyen's libraries compute
        it: the values of `const.SIGNED_FIELDS` (an absent one empty) joined by `:`
        unescaped, HMAC-SHA256 with the binary form of the hex key, in base64.

        :param dict notification_data: The notification item.
        :param str hmac_key: The HMAC key, in hexadecimal.
        :rtype: str
        """

        def value(path):
            node = notification_data
            for key in path.split("."):
                node = node.get(key) if isinstance(node, dict) else None
            return "" if node is None else str(node)

        signing_string = ":".join(value(path) for path in const.SIGNED_FIELDS)
        digest = hmac.new(
            binascii.a2b_hex(hmac_key.encode("ascii")),
            signing_string.encode("utf-8"),
            hashlib.sha256,
        ).digest()
        return base64.b64encode(digest).decode()
