import logging
from datetime import datetime, timezone

from odoo import _, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_adyen import const as adyen_const
from odoo.addons.refund_proof.utils import ARN, classify_arn, normalize_arn

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    adyen_refund_failure_event = fields.Char(
        string="Adyen Refund Failure",
        readonly=True,
        copy=False,
        groups="base.group_system",
        help="The Adyen event (REFUND_FAILED or REFUNDED_REVERSED) that failed this "
        "refund after Adyen had made it: a REFUND event for it arriving later (a "
        "repeated or late delivery) changes nothing.",
    )

    # === BUSINESS METHODS - NOTIFICATIONS === #

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment_adyen`: an event that Odoo does not process never
        creates a transaction.

        Odoo's lookup takes every event code other than an authorisation, a
        cancellation or a capture for a refund, and creates a refund transaction for a
        pspReference it does not know: a chargeback, whose pspReference is the
        dispute's, would become a refund transaction of the disputed amount, which
        refund_proof records as a refund holding that amount. Those events are looked
        up here instead, without creating anything
        (`_refund_proof_adyen_get_event_tx`); the others go to Odoo's lookup.

        :raise ValidationError: If the event names no known transaction, as Odoo does.
        """
        event_code = notification_data.get("eventCode")
        if provider_code != "adyen" or event_code in (None, *const.ODOO_EVENT_CODES):
            return super()._get_tx_from_notification_data(
                provider_code, notification_data
            )
        tx = self._refund_proof_adyen_get_event_tx(notification_data)
        if not tx:
            raise ValidationError(
                _(
                    "Adyen: no transaction found for the %(event)s event "
                    "%(reference)s.",
                    event=event_code,
                    reference=notification_data.get("pspReference"),
                )
            )
        return tx

    def _refund_proof_adyen_get_event_tx(self, notification_data):
        """Find the transaction of an Adyen event that Odoo does not process, without
        creating any.

        - A refund failure (`const.REFUND_FAILURE_EVENT_CODES`): the refund transaction
          of its pspReference (the refund's), else the payment of its
          originalReference (a refund that Odoo has no record of).
        - A dispute event: the payment of its originalReference (its pspReference is
          the dispute's), else of its pspReference, else of its merchantReference
          (some dispute events have no originalReference).
        - Any other event: the transaction of its pspReference, else the payment of
          its originalReference.

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        :return: The transaction, or an empty recordset.
        :rtype: recordset of `payment.transaction`
        """
        event_code = notification_data.get("eventCode")
        psp_reference = notification_data.get("pspReference")
        original_reference = notification_data.get("originalReference")
        if event_code in const.REFUND_FAILURE_EVENT_CODES:
            candidates = [
                ("provider_reference", psp_reference, "refund"),
                ("provider_reference", original_reference, "payment"),
            ]
        elif event_code in const.DISPUTE_EVENT_CODES:
            candidates = [
                ("provider_reference", original_reference, "payment"),
                ("provider_reference", psp_reference, "payment"),
                ("reference", notification_data.get("merchantReference"), "payment"),
            ]
        else:
            candidates = [
                ("provider_reference", psp_reference, None),
                ("provider_reference", original_reference, "payment"),
            ]
        for field, value, kind in candidates:
            if not value:
                continue
            domain = [("provider_code", "=", "adyen"), (field, "=", value)]
            if kind:
                domain.append(
                    ("operation", "=" if kind == "refund" else "!=", "refund")
                )
            tx = self.search(domain, limit=1)
            if tx:
                return tx
        return self.browse()

    def _process_notification_data(self, notification_data):
        """Override of `payment_adyen`: a refund that Adyen reported failed or reversed
        after making it stays failed.

        Adyen sends REFUND_FAILED or REFUNDED_REVERSED after the refund's REFUND event;
        Odoo would let that REFUND event, delivered again or late, make the refund
        transaction done again (and its proof genuine): it is ignored.

        Note: self.ensure_one()
        """
        if (
            self.provider_code == "adyen"
            and notification_data.get("eventCode") == "REFUND"
            and self.sudo().adyen_refund_failure_event
        ):
            _logger.info(
                "Adyen: REFUND event for the refund transaction %s ignored: Adyen "
                "reported %s for it",
                self.reference,
                self.sudo().adyen_refund_failure_event,
            )
            return None
        return super()._process_notification_data(notification_data)

    def _refund_proof_adyen_process_event(self, notification_data):
        """Process an Adyen event that Odoo's webhook handler drops, once its signature
        is checked (`AdyenController.adyen_webhook`): a refund failure fails the refund,
        a dispute event is logged on the payment and never recorded as a refund.

        Note: self.ensure_one()

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        """
        self.ensure_one()
        event_code = notification_data.get("eventCode")
        if event_code in const.REFUND_FAILURE_EVENT_CODES:
            self._refund_proof_adyen_process_refund_failure(notification_data)
        elif event_code == const.CANCEL_OR_REFUND_EVENT_CODE:
            self._refund_proof_adyen_log_cancel_or_refund(notification_data)
        elif event_code in const.DISPUTE_EVENT_CODES:
            self._refund_proof_adyen_log_dispute_event(notification_data)

    def _refund_proof_adyen_log_cancel_or_refund(self, notification_data):
        """Tell the documents of this payment that Adyen reversed it (a
        /cancelOrRefund request, made outside Odoo): no refund is recorded from the
        event, whose action (cancel or refund) is not signed; a refund manager
        records it by hand when the payment was refunded.

        Note: self.ensure_one()

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        """
        self.ensure_one()
        if notification_data.get("success") != "true" or self.operation == "refund":
            return
        additional_data = notification_data.get("additionalData") or {}
        self._log_message_on_linked_documents(
            _(
                "Adyen reports a cancel-or-refund of this payment (%(reference)s, "
                "action: %(action)s), made outside Odoo. No refund was recorded from "
                "it: if the payment was refunded, record the refund by hand.",
                reference=notification_data.get("pspReference"),
                action=additional_data.get("modification.action") or "-",
            )
        )

    def _refund_proof_adyen_process_refund_failure(self, notification_data):
        """Fail the refund transaction that Adyen reports failed (REFUND_FAILED),
        reversed (REFUNDED_REVERSED) or voided while pending (VOID_PENDING_REFUND),
        from done too: refund_proof then fails its refund, frees its amount, revokes
        its proof and tells the back office.

        Note: self.ensure_one()

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        """
        self.ensure_one()
        if notification_data.get("success") != "true":
            return  # Adyen reports that the failure did not happen.
        event_code = notification_data["eventCode"]
        message = self._refund_proof_adyen_get_event_label(event_code)
        if notification_data.get("reason"):
            message = _(
                "%(event)s Reason: %(reason)s",
                event=message,
                reason=notification_data["reason"],
            )
        if self.operation != "refund":
            # A refund that Odoo has no record of (made in Adyen's Customer Area, its
            # REFUND event never received): nothing to fail, the payment's documents
            # are told.
            self._log_message_on_linked_documents(
                _(
                    "Adyen reports a refund of this payment that Odoo has no record "
                    "of (%(reference)s): %(message)s",
                    reference=notification_data.get("pspReference"),
                    message=message,
                )
            )
            return
        if self.state not in ("draft", "pending", "authorized", "done"):
            return  # Already failed (a repeated event), or cancelled.
        _logger.info(
            "Adyen: %s for the refund transaction %s", event_code, self.reference
        )
        # In sudo mode: the server's record of Adyen's event (system group only).
        self.sudo().adyen_refund_failure_event = event_code
        self._set_error("Adyen: " + message, extra_allowed_states=("done",))

    def _refund_proof_adyen_log_dispute_event(self, notification_data):
        """Log a dispute event of Adyen on the disputed payment's documents, as a
        dispute and never as a refund (`_refund_proof_log_dispute_event`).

        Note: self.ensure_one()

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        """
        self.ensure_one()
        event_code = notification_data["eventCode"]
        details = [event_code]
        additional_data = notification_data.get("additionalData") or {}
        reason_code = self._refund_proof_adyen_get_reason_code(additional_data)
        if reason_code:
            details.append(_("reason code %(code)s", code=reason_code))
        amount_data = notification_data.get("amount") or {}
        value, currency = amount_data.get("value"), amount_data.get("currency")
        amount = None
        if isinstance(value, int) and currency == self.currency_id.name:
            amount = payment_utils.to_major_currency_units(
                value,
                self.currency_id,
                arbitrary_decimal_number=adyen_const.CURRENCY_DECIMALS.get(currency),
            )
        elif value is not None:
            details.append(
                _(
                    "amount %(value)s %(currency)s in minor units",
                    value=value,
                    currency=currency,
                )
            )
        summary = _(
            "%(event)s; event %(details)s",
            event=self._refund_proof_adyen_get_event_label(event_code).rstrip("."),
            details=", ".join(details),
        )
        self._refund_proof_log_dispute_event(
            summary, reference=notification_data.get("pspReference"), amount=amount
        )
        if event_code in const.DISPUTE_EVENT_MAPPING and notification_data.get(
            "pspReference"
        ):
            self._refund_proof_upsert_dispute(
                self._refund_proof_adyen_get_dispute_values(notification_data, summary)
            )

    def _refund_proof_adyen_get_dispute_values(self, notification_data, summary):
        """The values of refund_proof's `payment.dispute` in an Adyen dispute event
        (`_refund_proof_upsert_dispute`): the event as kind and state
        (`const.DISPUTE_EVENT_MAPPING`), the scheme's reason code, the amount in its
        currency, the end of the defence period.

        Only the event code, the references and the amount are signed (Adyen's HMAC
        covers `const.SIGNED_FIELDS`): the rest (`additionalData`, `reason`,
        `eventDate`) informs the dispute but never decides it. An event that asks for
        a response is recorded under review when its `disputeStatus` says the
        response is given or no longer possible, or when the dispute cannot be or is
        being defended by Adyen (`defendable` false, `autoDefended` true).

        Note: self.ensure_one()

        :param dict notification_data: A NotificationRequestItem of Adyen's webhook.
        :param str summary: What the event says, for the dispute's chatter.
        :rtype: dict
        """
        self.ensure_one()
        event_code = notification_data["eventCode"]
        additional_data = notification_data.get("additionalData") or {}
        kind, state = const.DISPUTE_EVENT_MAPPING[event_code]
        if state == "needs_response" and (
            additional_data.get("disputeStatus")
            in const.DISPUTE_STATUSES_WITHOUT_RESPONSE
            or str(additional_data.get("defendable")).lower() == "false"
            or str(additional_data.get("autoDefended")).lower() == "true"
        ):
            state = "under_review"
        amount_data = notification_data.get("amount") or {}
        value, code = amount_data.get("value"), amount_data.get("currency")
        currency = code and self.env["res.currency"].with_context(
            active_test=False
        ).search([("name", "=", code)], limit=1)
        amount = None
        if isinstance(value, int) and currency:
            amount = payment_utils.to_major_currency_units(
                value,
                currency,
                arbitrary_decimal_number=adyen_const.CURRENCY_DECIMALS.get(code),
            )
        scheme = next(
            (
                additional_data[field]
                for field in const.DISPUTE_SCHEME_CODE_FIELDS
                if additional_data.get(field)
            ),
            None,
        )
        return {
            "provider_reference": notification_data["pspReference"],
            "amount": amount or None,
            "currency": currency if amount else None,
            "kind": kind,
            "state": state,
            "card_network": scheme
            or notification_data.get("paymentMethod")
            or additional_data.get("paymentMethodVariant"),
            "reason_code": self._refund_proof_adyen_get_reason_code(additional_data),
            "provider_reason": notification_data.get("reason"),
            "evidence_due_date": self._refund_proof_adyen_parse_date(
                additional_data.get("defensePeriodEndsAt")
            ),
            "opened_date": self._refund_proof_adyen_parse_date(
                notification_data.get("eventDate")
            ),
            "summary": summary,
        }

    @staticmethod
    def _refund_proof_adyen_get_reason_code(additional_data):
        """The scheme's reason code of a dispute event: a chargeback's, a request for
        information's or a notification of fraud's (`const.DISPUTE_REASON_CODE_
        FIELDS`), without the spaces Adyen may pad it with (" 4853").

        :param dict additional_data: The event's `additionalData`.
        :rtype: str
        """
        for field in const.DISPUTE_REASON_CODE_FIELDS:
            code = str(additional_data.get(field) or "").strip()
            if code:
                return code
        return ""

    @staticmethod
    def _refund_proof_adyen_parse_date(value):
        """A naive UTC datetime of Adyen's ISO 8601 date, or None."""
        if not value or not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment

    def _refund_proof_adyen_get_event_label(self, event_code):
        """What an Adyen event that Odoo does not process means, in the user's
        language (Adyen's descriptions of Webhooks v1).

        :param str event_code: The eventCode of the event.
        :rtype: str
        """
        labels = {
            "REFUND_FAILED": _("The refund failed: the card scheme rejected it."),
            "REFUNDED_REVERSED": _(
                "The refund was reversed: its amount was returned to the merchant "
                "account."
            ),
            "VOID_PENDING_REFUND": _("The pending refund was voided: it was not made."),
            "REQUEST_FOR_INFORMATION": _(
                "The card issuer asks for information about the payment (request "
                "for information)."
            ),
            "NOTIFICATION_OF_CHARGEBACK": _(
                "A dispute was opened: a chargeback is announced."
            ),
            "DISPUTE_OPENED_WITH_CHARGEBACK": _(
                "A dispute was opened with a chargeback."
            ),
            "CHARGEBACK": _(
                "The payment was charged back: the disputed amount was deducted."
            ),
            "CHARGEBACK_REVERSED": _(
                "The chargeback was defended successfully (not final yet)."
            ),
            "SECOND_CHARGEBACK": _(
                "Second chargeback: the card issuer declined the defence."
            ),
            "INFORMATION_SUPPLIED": _(
                "Defence documents were supplied, or the dispute was defended "
                "automatically."
            ),
            "ISSUER_COMMENTS": _("The card issuer commented on the dispute."),
            "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": _(
                "The card issuer accepted the defence or did not answer in time."
            ),
            "DISPUTE_DEFENSE_PERIOD_ENDED": _(
                "The defence period of the dispute ended."
            ),
            "PREARBITRATION_OPEN": _(
                "The cardholder's bank opened a pre-arbitration case."
            ),
            "PREARBITRATION_WON": _(
                "Pre-arbitration won: the cardholder's bank accepted the case."
            ),
            "PREARBITRATION_LOST": _(
                "Pre-arbitration lost: the cardholder's bank declined the case."
            ),
            "PREARBITRATION_ACCEPTED": _("The pre-arbitration case was accepted."),
            "PREARBITRATION_DECLINED": _("The pre-arbitration case was declined."),
            "PREARBITRATION_ISSUER_WITHDRAWN": _(
                "The card issuer withdrew the pre-arbitration case."
            ),
            "SCHEME_ARBITRATION": _(
                "The card issuer escalated the case to scheme arbitration."
            ),
            "SCHEME_ARBITRATION_WON": _(
                "Scheme arbitration won: the card scheme ruled in the merchant's "
                "favour."
            ),
            "SCHEME_ARBITRATION_LOST": _(
                "Scheme arbitration lost: the card scheme ruled in the issuer's favour."
            ),
            "NOTIFICATION_OF_FRAUD": _(
                "The card issuer reported the payment as fraudulent (a fraud alert, "
                "not a chargeback)."
            ),
        }
        return labels.get(event_code, event_code)

    # === HOOKS OF REFUND_PROOF (models/payment_transaction_bridge.py) === #

    def _get_refund_arn_from_notification(self, notification_data):
        """Override of `refund_proof`: the ARN of a refund in Adyen's REFUND event.

        Webhooks v1 lists `additionalData.arn` and `additionalData.acquirerReference`
        on REFUND items without describing them, and Adyen may not send them: stored
        when present, never relied on. `acquirerReference` can also be a
        reconciliation reference of a non-Adyen acquirer, so it is taken only when it
        has the form of an ARN. (additionalData is not covered by Adyen's HMAC
        signature; `_record_reference` validates what it records.)
        """
        arn = super()._get_refund_arn_from_notification(notification_data)
        if arn or self.provider_code != "adyen":
            return arn
        if (
            notification_data.get("eventCode") != "REFUND"
            or notification_data.get("success") != "true"
        ):
            return ""
        additional_data = notification_data.get("additionalData") or {}
        arn = additional_data.get("arn")
        if isinstance(arn, str) and arn.strip():
            return arn
        reference = additional_data.get("acquirerReference")
        reference = isinstance(reference, str) and normalize_arn(reference)
        if reference and classify_arn(reference) == ARN:
            return reference
        return ""
