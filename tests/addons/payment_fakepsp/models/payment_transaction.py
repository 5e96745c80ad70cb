import logging
import pprint

from odoo import _, models
from odoo.exceptions import ValidationError

from odoo.addons.payment import utils as payment_utils

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS === #

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment` to send a refund request to the PSP.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund.
        :return: The refund transaction created to process the refund request.
        :rtype: recordset of `payment.transaction`
        """
        refund_tx = super()._send_refund_request(amount_to_refund=amount_to_refund)
        if self.provider_code != "fakepsp":
            return refund_tx

        data = self.provider_id._fakepsp_make_request(
            "refunds",
            payload={
                "payment": self.provider_reference,
                "payment_reference": self.reference,
                "reference": refund_tx.reference,
                # Refund transactions' amount is negative: inverse it.
                "amount": payment_utils.to_minor_currency_units(
                    -refund_tx.amount, refund_tx.currency_id
                ),
                "currency": refund_tx.currency_id.name,
            },
        )
        _logger.info(
            "Fake PSP: refund request response for transaction with reference %s:\n%s",
            self.reference,
            pprint.pformat(data),
        )
        refund_tx._handle_notification_data("fakepsp", data)
        return refund_tx

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment` to find the transaction from the PSP's refund object,
        by the merchant reference it carries.

        :param str provider_code: The code of the provider that handled the
                                  transaction.
        :param dict notification_data: The notification data sent by the provider.
        :return: The transaction if found.
        :rtype: recordset of `payment.transaction`
        :raise ValidationError: If the data match no transaction.
        """
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        if provider_code != "fakepsp" or len(tx) == 1:
            return tx

        reference = notification_data.get("reference")
        tx = self.search(
            [("reference", "=", reference), ("provider_code", "=", "fakepsp")]
        )
        if not tx:
            raise ValidationError(
                _(
                    "Fake PSP: no transaction found matching reference %(reference)s.",
                    reference=reference,
                )
            )
        return tx

    def _process_notification_data(self, notification_data):
        """Override of `payment` to process the transaction from the PSP's refund
        object: its id, its status and, when it failed, the PSP's message.

        Note: self.ensure_one()

        :param dict notification_data: The refund object of the PSP.
        :return: None
        """
        super()._process_notification_data(notification_data)
        if self.provider_code != "fakepsp":
            return

        if not notification_data.get("id"):
            raise ValidationError(_("Fake PSP: received data with missing refund id."))
        self.provider_reference = notification_data["id"]
        status = notification_data.get("status")
        if status == "succeeded":
            self._set_done()
            # Immediately post-process the refund, as no customer browses it.
            if self.operation == "refund":
                self.env.ref("payment.cron_post_process_payment_tx")._trigger()
        elif status == "pending":
            self._set_pending()
        elif status == "failed":
            self._set_error(
                notification_data.get("failure_message")
                or _("The PSP could not make the refund."),
                extra_allowed_states=("done",),
            )
        else:
            self._set_error(
                _("Fake PSP: received an unknown status: %(status)s", status=status)
            )

    def _get_refund_arn_from_notification(self, notification_data):
        """Override of `refund_proof` to return the ARN of the PSP's refund object."""
        if self.provider_code != "fakepsp":
            return super()._get_refund_arn_from_notification(notification_data)
        return notification_data.get("arn")
