import logging
import pprint
from datetime import datetime, timezone
from urllib.parse import urlsplit

from odoo import _, api, models
from odoo.exceptions import ValidationError
from odoo.tools import float_repr

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment` to refund the PayPal capture of this payment, in full
        or in part: Odoo's refund transaction, then PayPal's "Refund captured
        payment" with the amount, under refund_proof's idempotency key
        (`PayPal-Request-Id`), and PayPal's answer processed as its event would be.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund.
        :return: The refund transaction created to process the refund request.
        :rtype: recordset of `payment.transaction`
        """
        refund_tx = super()._send_refund_request(amount_to_refund=amount_to_refund)
        if self.provider_code != "paypal":
            return refund_tx
        capture_id = self._refund_proof_paypal_get_capture_id_to_refund()
        currency = refund_tx.currency_id
        payload = {
            "amount": {
                "value": self._refund_proof_paypal_format_amount(
                    -refund_tx.amount,  # Refund transactions' amount is negative.
                    currency,
                ),
                "currency_code": currency.name,
            }
        }
        endpoint = const.REFUND_ENDPOINT.format(capture_id=capture_id)
        _logger.info(
            "Sending '%s' request for transaction with reference %s:\n%s",
            endpoint,
            refund_tx.reference,
            pprint.pformat(payload),
        )
        refund_data = self.provider_id._refund_proof_paypal_request(
            "POST",
            endpoint,
            json_payload=payload,
            # A service of refund_proof: the key of the refund request being sent,
            # the same when a request of unknown outcome is sent again.
            request_id=self._get_refund_idempotency_key(),
        )
        _logger.info(
            "Response of '%s' request for transaction with reference %s:\n%s",
            endpoint,
            refund_tx.reference,
            pprint.pformat(refund_data),
        )
        refund_tx._handle_notification_data(
            "paypal", self._refund_proof_paypal_as_refund_notification(refund_data)
        )
        return refund_tx

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment_paypal` to find the refund transaction of a PayPal
        refund (an event of a refund made in PayPal, or made by Odoo), which Odoo's
        module does not know: by its PayPal id, else created as a refund of the
        payment whose capture it refunds, so that a refund is recorded once however
        many times PayPal sends it (`_refund_proof_paypal_get_or_create_refund_tx`).
        """
        if (
            provider_code != "paypal"
            or len(self) == 1
            or not self._refund_proof_paypal_is_refund(notification_data)
        ):
            return super()._get_tx_from_notification_data(
                provider_code, notification_data
            )
        source_tx = self._refund_proof_paypal_get_refunded_tx(notification_data)
        if not source_tx:
            raise ValidationError(
                _(
                    "PayPal: No payment found for the refund %(refund)s.",
                    refund=notification_data.get("id"),
                )
            )
        return source_tx._refund_proof_paypal_get_or_create_refund_tx(notification_data)

    def _refund_proof_paypal_get_or_create_refund_tx(self, refund_data):
        """The refund transaction of a PayPal refund of this payment: found by its
        PayPal id, else created (a refund made in PayPal, or one whose request's
        answer was lost), under the payment's lock (refund_proof's
        `_lock_for_refund`): the event of a refund whose request is still being
        answered waits for it, and finds its transaction.

        Note: self.ensure_one()

        :param dict refund_data: PayPal's refund, of this payment's capture.
        :rtype: recordset of `payment.transaction`
        :raise ValidationError: When the refund has no amount in the payment's
                                currency.
        """
        self.ensure_one()
        self._lock_for_refund()
        refund_tx = self._refund_proof_paypal_get_refund_tx(refund_data["id"])
        if refund_tx:
            return refund_tx
        amount = self._refund_proof_paypal_get_amount(refund_data, self)
        _logger.info(
            "PayPal refund %s of the payment %s, unknown here: recorded.",
            refund_data["id"],
            self.reference,
        )
        return self._create_child_transaction(
            amount, is_refund=True, provider_reference=refund_data["id"]
        )

    def _process_notification_data(self, notification_data):
        """Override of `payment_paypal` to process a PayPal refund on its refund
        transaction: its status as the transaction's state, its id as its provider
        reference, and its ARN.

        Odoo's PayPal processing reads an order or a capture of the amount paid (and
        would refuse a refund's), so a refund is processed here instead of there; the
        ARN that refund_proof's processing reads through the bridge's hook
        (`_get_refund_arn_from_notification`) is recorded here by the same service
        (`_refund_proof_record_notification_arn`).

        Note: self.ensure_one()
        """
        if not (
            self.provider_code == "paypal"
            and self.operation == "refund"
            and self._refund_proof_paypal_is_refund(notification_data)
        ):
            return super()._process_notification_data(notification_data)
        self.ensure_one()
        refund_id = notification_data["id"]
        if self.provider_reference and self.provider_reference != refund_id:
            raise ValidationError(
                _(
                    "PayPal: The refund %(refund)s is not the refund %(reference)s.",
                    refund=refund_id,
                    reference=self.provider_reference,
                )
            )
        self.provider_reference = refund_id
        self._refund_proof_paypal_update_state(notification_data)
        self._refund_proof_record_notification_arn(notification_data)
        return None

    def _refund_proof_paypal_update_state(self, refund_data):
        """Move this refund transaction to the state of PayPal's refund status
        (`const.REFUND_STATUS_MAPPING`), forward only: a pending status never comes
        back over a known outcome, and a completed one does not undo a failure (an
        earlier status delivered late).

        Note: self.ensure_one()

        :param dict refund_data: PayPal's refund.
        """
        self.ensure_one()
        status = refund_data.get("status")
        if status in const.REFUND_STATUS_MAPPING["pending"]:
            if self.state == "draft":
                details = refund_data.get("status_details")
                reason = isinstance(details, dict) and details.get("reason")
                self._set_pending(
                    state_message=_(
                        "PayPal: the refund is pending (%(reason)s).",
                        reason=reason or "-",
                    )
                )
                return
        elif status in const.REFUND_STATUS_MAPPING["done"]:
            if self.state in ("draft", "pending"):
                self._set_done()
                return
        elif status in const.REFUND_STATUS_MAPPING["error"]:
            if self.state in ("draft", "pending", "done"):
                # From done too: a refund PayPal reports failed does not stand.
                self._set_error(
                    _(
                        "PayPal: The refund %(refund)s is %(status)s.",
                        refund=refund_data.get("id"),
                        status=status,
                    ),
                    extra_allowed_states=("done",),
                )
                return
        else:
            _logger.info(
                "PayPal refund %s with an unknown status %s: transaction %s left %s.",
                refund_data.get("id"),
                status,
                self.reference,
                self.state,
            )
            return
        # Already there, or past it.
        _logger.info(
            "PayPal refund %s is %s: transaction %s stays %s.",
            refund_data.get("id"),
            status,
            self.reference,
            self.state,
        )

    # === BUSINESS METHODS - PAYPAL OBJECTS === #

    @api.model
    def _refund_proof_paypal_as_refund_notification(self, refund_data):
        """PayPal's refund (an API answer, or an event's resource) as the
        notification data of a refund, marked as PayPal marks it in its events
        (`resource_type`), or an empty dict when it is no refund.

        :param dict refund_data: PayPal's refund.
        :rtype: dict
        """
        if not isinstance(refund_data, dict):
            return {}
        return dict(refund_data, resource_type="refund")

    @api.model
    def _refund_proof_paypal_is_refund(self, notification_data):
        """Whether `notification_data` is a PayPal refund with its id.

        :param dict notification_data: The notification data.
        :rtype: bool
        """
        return (
            isinstance(notification_data, dict)
            and notification_data.get("resource_type") == "refund"
            and isinstance(notification_data.get("id"), str)
            and bool(notification_data["id"])
        )

    @api.model
    def _refund_proof_paypal_get_refunded_capture_id(self, refund_data):
        """The id of the capture a PayPal refund refunds: the last segment of its
        `up` link (`…/v2/payments/captures/{id}`), or None.

        :param dict refund_data: PayPal's refund.
        :rtype: str | None
        """
        links = refund_data.get("links")
        for link in links if isinstance(links, list) else []:
            if not isinstance(link, dict) or link.get("rel") != const.CAPTURE_LINK_REL:
                continue
            path = urlsplit(str(link.get("href") or "")).path.rstrip("/")
            parent, _sep, capture_id = path.rpartition("/")
            if parent.endswith("/v2/payments/captures") and capture_id:
                return capture_id
        return None

    @api.model
    def _refund_proof_paypal_get_refunded_tx(self, refund_data):
        """The PayPal payment that a PayPal refund refunds (the capture of its `up`
        link), or an empty recordset.

        :param dict refund_data: PayPal's refund.
        :rtype: recordset of `payment.transaction`
        """
        return self._refund_proof_paypal_get_tx_of_capture(
            self._refund_proof_paypal_get_refunded_capture_id(refund_data)
        )

    @api.model
    def _refund_proof_paypal_get_tx_of_capture(self, capture_id):
        """The PayPal payment of the capture `capture_id`, or an empty recordset:
        the one whose provider reference is the capture id, else the one of the
        capture's order (Odoo keeps the order id or the capture id, whichever message
        of PayPal came last), which PayPal is asked for ("Show captured payment
        details", `supplementary_data.related_ids.order_id`).

        :param str capture_id: PayPal's capture id.
        :rtype: recordset of `payment.transaction`
        :raise ValidationError: When PayPal cannot be asked.
        """
        if not capture_id or not isinstance(capture_id, str):
            return self.browse()
        domain = [("provider_code", "=", "paypal"), ("operation", "!=", "refund")]
        tx = self.search(
            domain + [("provider_reference", "=", capture_id)], order="id", limit=1
        )
        if tx:
            return tx
        providers = self.env["payment.provider"].search(
            [("code", "=", "paypal"), ("state", "!=", "disabled")]
        )
        for provider in providers:
            capture = provider._refund_proof_paypal_request(
                "GET",
                const.CAPTURE_DETAILS_ENDPOINT.format(capture_id=capture_id),
                missing_ok=True,
            )
            supplementary = isinstance(capture, dict) and capture.get(
                "supplementary_data"
            )
            related = isinstance(supplementary, dict) and supplementary.get(
                "related_ids"
            )
            order_id = isinstance(related, dict) and related.get("order_id")
            if order_id:
                return self.search(
                    domain
                    + [
                        ("provider_id", "=", provider.id),
                        ("provider_reference", "=", order_id),
                    ],
                    order="id",
                    limit=1,
                )
        return self.browse()

    @api.model
    def _refund_proof_paypal_get_refund_tx(self, refund_id):
        """The PayPal refund transaction of the PayPal refund `refund_id`, or an
        empty recordset."""
        return self.search(
            [
                ("provider_code", "=", "paypal"),
                ("operation", "=", "refund"),
                ("provider_reference", "=", refund_id),
            ],
            order="id",
            limit=1,
        )

    @api.model
    def _refund_proof_paypal_get_amount(self, refund_data, source_tx):
        """The amount of a PayPal refund, in the currency of the payment it refunds.

        :param dict refund_data: PayPal's refund.
        :param recordset source_tx: The refunded payment.
        :rtype: float
        :raise ValidationError: When the refund has no amount in that currency.
        """
        amount = refund_data.get("amount")
        value = isinstance(amount, dict) and amount.get("value")
        if not value or amount.get("currency_code") != source_tx.currency_id.name:
            raise ValidationError(
                _(
                    "PayPal: The refund %(refund)s has no amount in %(currency)s.",
                    refund=refund_data.get("id"),
                    currency=source_tx.currency_id.name,
                )
            )
        try:
            value = float(value)
        except (TypeError, ValueError) as error:
            raise ValidationError(
                _(
                    "PayPal: The refund %(refund)s has an invalid amount.",
                    refund=refund_data.get("id"),
                )
            ) from error
        if value <= 0:
            raise ValidationError(
                _(
                    "PayPal: The refund %(refund)s has an invalid amount.",
                    refund=refund_data.get("id"),
                )
            )
        return value

    def _refund_proof_paypal_get_capture_id_to_refund(self):
        """The id of this payment's PayPal capture: the stored provider reference,
        or, when it is an order id (Odoo keeps whichever of the order id and the
        capture id PayPal sent last), the first refundable capture of the order
        (completed, or partially refunded already) as PayPal reports it.

        Nothing is refunded yet: a failure here is a definite one, raised without
        the network error (refund_proof would read a timeout as an unknown outcome).

        Note: self.ensure_one()

        :rtype: str
        :raise ValidationError: When there is no capture to refund, or PayPal cannot
                                be asked.
        """
        self.ensure_one()
        reference = self.provider_reference
        if not reference:
            raise ValidationError(
                _(
                    "PayPal: The payment %(reference)s has no PayPal reference.",
                    reference=self.reference,
                )
            )
        try:
            order = self.provider_id._refund_proof_paypal_request(
                "GET",
                const.ORDER_DETAILS_ENDPOINT.format(order_id=reference),
                missing_ok=True,
            )
        except ValidationError as error:
            message = str(error.args[0]) if error.args else str(error)
        else:
            message = None
        if message:
            raise ValidationError(message)  # Outside the handler: no chain.
        if order is None:  # Not an order: the capture itself.
            return reference
        units = order.get("purchase_units")
        for unit in units if isinstance(units, list) else []:
            payments = isinstance(unit, dict) and unit.get("payments")
            captures = isinstance(payments, dict) and payments.get("captures")
            for capture in captures if isinstance(captures, list) else []:
                if (
                    isinstance(capture, dict)
                    and capture.get("status") in const.REFUNDABLE_CAPTURE_STATUSES
                    and capture.get("id")
                ):
                    return capture["id"]
        raise ValidationError(
            _(
                "PayPal: The PayPal order %(order)s has no capture left to refund.",
                order=reference,
            )
        )

    @api.model
    def _refund_proof_paypal_format_amount(self, amount, currency):
        """An amount as PayPal's Money object takes it: a string with the currency's
        decimals, none for the currencies PayPal takes without
        (`const.ZERO_DECIMAL_CURRENCIES`) when the amount is whole (PayPal refuses
        the others, and says why).

        :param float amount: The amount.
        :param recordset currency: Its `res.currency`.
        :rtype: str
        """
        if currency.name in const.ZERO_DECIMAL_CURRENCIES and not (
            currency.compare_amounts(amount, round(amount))
        ):
            return float_repr(round(amount), 0)
        return float_repr(currency.round(amount), currency.decimal_places)

    @api.model
    def _refund_proof_paypal_get_arn(self, refund_data):
        """The ARN of a PayPal refund (`acquirer_reference_number`, on card-funded
        refunds, a few days after the refund), or None.

        :param dict refund_data: PayPal's refund.
        :rtype: str | None
        """
        value = refund_data.get("acquirer_reference_number")
        if isinstance(value, str) and value.strip():
            return value.strip()
        return None

    # === BUSINESS METHODS - DISPUTES === #

    @api.model
    def _refund_proof_paypal_get_disputed_tx(self, dispute_data):
        """The PayPal payment a PayPal dispute is about (the first of its
        `disputed_transactions` whose `seller_transaction_id`, the capture id, is a
        payment here), or an empty recordset.

        :param dict dispute_data: PayPal's dispute.
        :rtype: recordset of `payment.transaction`
        :raise ValidationError: When PayPal cannot be asked.
        """
        transactions = dispute_data.get("disputed_transactions")
        for transaction in transactions if isinstance(transactions, list) else []:
            if not isinstance(transaction, dict):
                continue
            tx = self._refund_proof_paypal_get_tx_of_capture(
                transaction.get("seller_transaction_id")
            )
            if tx:
                return tx
        return self.browse()

    def _refund_proof_paypal_record_dispute(self, event_type, dispute_data):
        """Log a PayPal dispute event on the documents of this payment: a dispute is
        never a refund (`refund_proof`'s `_refund_proof_log_dispute_event`); then
        record it as the payment's `payment.dispute` (its stage as kind, its status,
        or a resolved one's outcome, as state, `seller_response_due_date` as the due
        date). Server side: called after PayPal verified the event.

        Note: self.ensure_one()

        :param str event_type: The event (one of `const.DISPUTE_EVENTS`).
        :param dict dispute_data: PayPal's dispute.
        """
        self.ensure_one()
        labels = {
            "CUSTOMER.DISPUTE.CREATED": _("dispute opened"),
            "CUSTOMER.DISPUTE.UPDATED": _("dispute updated"),
            "CUSTOMER.DISPUTE.RESOLVED": _("dispute resolved"),
        }
        status = dispute_data.get("status")
        stage = dispute_data.get("dispute_life_cycle_stage")
        outcome = dispute_data.get("dispute_outcome")
        outcome_code = isinstance(outcome, dict) and outcome.get("outcome_code")
        summary = _(
            "%(event)s (reason: %(reason)s; stage: %(stage)s; status: %(status)s; "
            "outcome: %(outcome)s)",
            event=labels.get(event_type, event_type),
            reason=dispute_data.get("reason") or "-",
            stage=stage or "-",
            status=status or "-",
            outcome=outcome_code or "-",
        )
        money = dispute_data.get("dispute_amount")
        amount = currency = None
        if isinstance(money, dict):
            try:
                amount = float(money.get("value"))
            except (TypeError, ValueError):
                amount = None
            currency = money.get("currency_code") if amount is not None else None
        reference = dispute_data.get("dispute_id")
        reference = reference if isinstance(reference, str) and reference else None
        self._refund_proof_log_dispute_event(
            summary,
            reference=reference,
            amount=amount if currency == self.currency_id.name else None,
        )
        if not reference:
            return
        if status == "RESOLVED":
            state = const.DISPUTE_OUTCOME_MAPPING.get(outcome_code, "closed")
        else:
            state = const.DISPUTE_STATUS_MAPPING.get(status)
        self._refund_proof_upsert_dispute(
            {
                "provider_reference": reference,
                "amount": amount,
                "currency": currency,
                "kind": const.DISPUTE_STAGE_MAPPING.get(stage),
                "state": state,
                "provider_reason": dispute_data.get("reason"),
                "evidence_due_date": self._refund_proof_paypal_parse_time(
                    dispute_data.get("seller_response_due_date")
                ),
                "opened_date": self._refund_proof_paypal_parse_time(
                    dispute_data.get("create_time")
                ),
                "summary": summary,
            }
        )

    @api.model
    def _refund_proof_paypal_get_reversed_capture_id(self, resource):
        """The id of the capture a PAYMENT.CAPTURE.REVERSED event reverses: the
        capture of its resource's `up` link (a refund-like object), else the
        resource itself when it is the capture (its `self` link under
        `/v2/payments/captures/`), or None.

        :param dict resource: The event's resource.
        :rtype: str | None
        """
        capture_id = self._refund_proof_paypal_get_refunded_capture_id(resource)
        if capture_id:
            return capture_id
        links = resource.get("links")
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "self":
                path = urlsplit(str(link.get("href") or "")).path.rstrip("/")
                parent, _sep, own_id = path.rpartition("/")
                if parent.endswith("/v2/payments/captures") and own_id:
                    return own_id
        return None

    def _refund_proof_paypal_log_reversal(self, resource):
        """Log PayPal's reversal of this payment's capture on its documents, as a
        dispute event (refund_proof's `_refund_proof_log_dispute_event`): the money
        was taken back by a dispute or a chargeback, not refunded. Server side:
        called after PayPal verified the event.

        Note: self.ensure_one()

        :param dict resource: The event's resource.
        """
        self.ensure_one()
        money = resource.get("amount")
        amount = None
        if (
            isinstance(money, dict)
            and money.get("currency_code") == self.currency_id.name
        ):
            try:
                amount = abs(float(money.get("value")))
            except (TypeError, ValueError):
                amount = None
        reference = resource.get("id")
        self._refund_proof_log_dispute_event(
            _(
                "payment reversed by PayPal (status: %(status)s)",
                status=resource.get("status") or "-",
            ),
            reference=reference if isinstance(reference, str) else None,
            amount=amount,
        )

    @staticmethod
    def _refund_proof_paypal_parse_time(value):
        """A naive UTC datetime of PayPal's Internet date and time (RFC 3339), or
        None."""
        if not isinstance(value, str) or not value:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment

    # === HOOKS OF REFUND_PROOF (models/payment_transaction_bridge.py) === #

    def _get_refund_arn_from_notification(self, notification_data):
        """Override of `refund_proof`: the ARN of a PayPal refund
        (`acquirer_reference_number`), in PayPal's answer or event."""
        reference = super()._get_refund_arn_from_notification(notification_data)
        if (
            reference
            or self.provider_code != "paypal"
            or not self._refund_proof_paypal_is_refund(notification_data)
        ):
            return reference
        return self._refund_proof_paypal_get_arn(notification_data) or ""

    def _refund_proof_fetch_reference(self):
        """Override of `refund_proof`: ask PayPal for the refund ("Show refund
        details") and read its ARN. A status PayPal changed meanwhile (a pending
        refund completed, whose event was missed) is processed as its event would
        be. PayPal says nothing of an ARN that will never come (wallet-funded
        refunds have none): None until it gives one.

        Note: self.ensure_one()
        """
        answer = super()._refund_proof_fetch_reference()
        if (
            self.provider_code != "paypal"
            or self.operation != "refund"
            or not self.provider_reference
        ):
            return answer
        # In sudo mode: the request reads the provider's credentials; the caller is
        # the server (the reference cron).
        refund_data = self.provider_id.sudo()._refund_proof_paypal_request(
            "GET",
            const.REFUND_DETAILS_ENDPOINT.format(refund_id=self.provider_reference),
        )
        _logger.info(
            "Refund %s: PayPal refund details:\n%s",
            self.reference,
            pprint.pformat(refund_data),
        )
        notification_data = self._refund_proof_paypal_as_refund_notification(
            refund_data
        )
        if notification_data.get("id") != self.provider_reference:
            return answer  # Not this refund: PayPal cannot tell.
        if self._refund_proof_paypal_state_changes(notification_data):
            self._handle_notification_data("paypal", notification_data)
        return {
            "reference": self._refund_proof_paypal_get_arn(notification_data),
            "unavailable": False,
        }

    def _refund_proof_paypal_state_changes(self, refund_data):
        """Whether PayPal's refund status says another state than this refund
        transaction's.

        Note: self.ensure_one()
        """
        self.ensure_one()
        status = refund_data.get("status")
        return not any(
            status in statuses and self.state == state
            for state, statuses in const.REFUND_STATUS_MAPPING.items()
        )
