import logging
from datetime import datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.payment_authorize.const import TRANSACTION_STATUS_MAPPING
from odoo.addons.payment_authorize.models.authorize_request import AuthorizeAPI

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS === #

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment_authorize`: tell a refund before settlement for what
        it is.

        Odoo's module refunds a settled payment (`refundTransaction`, whose amount
        may be a part), and voids the whole payment when it is not settled yet,
        whatever amount was asked, creating no refund transaction. Here, before
        Odoo's module runs:

        - a part of a payment not settled yet is never voided: the refund being sent
          is held until the settlement (`payment.refund._hold`), sent then by
          `_refund_proof_authorize_cron_send_held`; outside a refund of refund_proof
          it is refused;
        - the whole payment goes to Odoo's module; when it voided the payment (the
          payment cancelled, no refund transaction), the refund being sent is
          recorded as done by the payment's cancellation
          (`payment.refund._record_done_by_cancellation`): no ARN will come.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund.
        :return: The refund transaction, or an empty recordset when the refund is
                 held or was the payment's void.
        :rtype: recordset of `payment.transaction`
        """
        self.ensure_one()
        if self.provider_code != "authorize":
            return super()._send_refund_request(amount_to_refund=amount_to_refund)
        refund = self._get_refund_being_sent()
        amount = self.amount if amount_to_refund is None else amount_to_refund
        is_part = bool(self.currency_id.compare_amounts(amount, self.amount))
        if is_part:
            details = self._refund_proof_authorize_get_details()
            status = details.get("transaction", {}).get("transactionStatus")
            if status in TRANSACTION_STATUS_MAPPING["voided"]:
                # Odoo's module would cancel the payment and refund nothing.
                raise ValidationError(
                    _(
                        "Authorize.Net has already voided %(reference)s: the whole "
                        "payment was released, nothing is left to refund.",
                        reference=self.reference,
                    )
                )
            if status in TRANSACTION_STATUS_MAPPING["authorized"]:
                if not refund:
                    raise ValidationError(
                        _(
                            "Authorize.Net has not settled %(reference)s yet: before "
                            "settlement it can only cancel the whole payment, not "
                            "refund a part of it.",
                            reference=self.reference,
                        )
                    )
                refund._hold(
                    _(
                        "Authorize.Net has not settled the payment yet (%(status)s). "
                        "Before settlement it can only cancel the whole payment, not "
                        "refund a part of it: this refund is sent by itself once "
                        "Authorize.Net has settled the payment.",
                        status=status,
                    ),
                    until=self._refund_proof_authorize_expected_settlement(details),
                )
                return self.env["payment.transaction"]
        refund_tx = super()._send_refund_request(amount_to_refund=amount_to_refund)
        if refund and not refund_tx:
            if self.state != "cancel":
                # Odoo's module asked for the void, which Authorize.Net refused: it
                # logged the answer, and left the payment confirmed. Nothing moved.
                raise ValidationError(
                    _(
                        "Authorize.Net did not cancel the payment %(reference)s, "
                        "which it has not settled yet: nothing was refunded. Its "
                        "answer is in the server's log; retry the refund later.",
                        reference=self.reference,
                    )
                )
            # Odoo's module voided the payment (or found it voided at Authorize.Net):
            # the customer's charge is released, no money moved.
            refund._record_done_by_cancellation(
                _(
                    "Authorize.Net voided the transaction %(transaction)s.",
                    transaction=self.provider_reference,
                )
            )
        return refund_tx

    def _refund_proof_authorize_get_details(self):
        """Authorize.Net's details of this payment (getTransactionDetails).

        Note: self.ensure_one()

        :rtype: dict
        :raise ValidationError: When Authorize.Net does not answer them.
        """
        self.ensure_one()
        details = AuthorizeAPI(self.provider_id).get_transaction_details(
            self.provider_reference
        )
        if "err_code" in details:
            raise ValidationError(
                _(
                    "Authorize.Net: could not read the payment %(reference)s "
                    "(%(code)s: %(message)s).",
                    reference=self.reference,
                    code=details["err_code"],
                    message=details.get("err_msg"),
                )
            )
        return details

    @api.model
    def _refund_proof_authorize_expected_settlement(self, details):
        """About when Authorize.Net settles a payment: it settles once a day, at the
        cut-off time of the merchant's account (not in the API), so within a day of
        its submission; a payment older than that is expected at the next run of the
        schedule.

        :param dict details: The answer of getTransactionDetails.
        :rtype: datetime
        """
        now = fields.Datetime.now()
        submitted = details.get("transaction", {}).get("submitTimeUTC") or ""
        try:
            submitted = datetime.strptime(submitted[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return now + const.SETTLEMENT_DELAY
        expected = submitted + const.SETTLEMENT_DELAY
        return expected if expected > now else now + timedelta(hours=1)

    @api.model
    def _refund_proof_authorize_cron_send_held(self):
        """Send the refunds held until their Authorize.Net payment settled, once
        getTransactionDetails says it did (settledSuccessfully). A payment no longer
        refundable there (voided meanwhile, for instance) sends the refund too: the
        request path then records what Authorize.Net answers."""
        refunds = (
            self.env["payment.refund"]
            .sudo()
            .search(
                [
                    ("state", "=", "draft"),
                    ("hold_reason", "!=", False),
                    ("provider_id.code", "=", "authorize"),
                ],
                order="hold_until, id",
            )
        )
        for refund in refunds:
            tx = refund.source_transaction_id
            try:
                details = tx._refund_proof_authorize_get_details()
            except Exception as error:  # noqa: BLE001 - asked again at the next run
                _logger.info(
                    "Refund %s: Authorize.Net's details of %s not read: %s",
                    refund.name,
                    tx.reference,
                    error,
                )
                continue
            status = details.get("transaction", {}).get("transactionStatus")
            if status in TRANSACTION_STATUS_MAPPING["authorized"]:
                expected = self._refund_proof_authorize_expected_settlement(details)
                if refund.hold_until != expected:
                    refund._write_server_values({"hold_until": expected})
                continue
            refund._release_hold()
            if not self.env.registry.in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit
