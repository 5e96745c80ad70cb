import logging
import pprint
from datetime import datetime, timezone

from odoo import _, api, models

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_razorpay.const import PAYMENT_STATUS_MAPPING

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment_razorpay` to find the refund transaction of a refund
        entity by its Razorpay id first.

        Odoo finds it by the reference of the request it sent (`notes.reference`) or,
        without one (a refund made in Razorpay's dashboard), creates a new refund
        transaction at each notification: Razorpay delivers events at least once, and
        a dashboard refund that fails after it was processed sends a second event, so
        one refund would be recorded twice. A `notes.reference` that matches no
        transaction is the request of a refund of unknown outcome, whose transaction
        was rolled back: it is then found like a dashboard refund, from its payment,
        so that the refund it answers gets it.
        """
        if (
            provider_code == "razorpay"
            and len(self) != 1
            and notification_data.get("entity_type") == "refund"
        ):
            refund_tx = self._refund_proof_razorpay_get_refund_tx(
                notification_data.get("id")
            )
            if refund_tx:
                return refund_tx
            notes = notification_data.get("notes")
            reference = isinstance(notes, dict) and notes.get("reference")
            if reference and not self.search(
                [("reference", "=", reference), ("provider_code", "=", "razorpay")],
                limit=1,
            ):
                _logger.info(
                    "Razorpay refund %s names the unknown transaction %s: recorded "
                    "from its payment.",
                    notification_data.get("id"),
                    reference,
                )
                notification_data = dict(notification_data, notes={})
        return super()._get_tx_from_notification_data(provider_code, notification_data)

    def _process_notification_data(self, notification_data):
        """Override of `payment_razorpay` to keep a refund's state truthful.

        - A refund Razorpay reports failed is failed, also after it was processed:
          Odoo's `_set_error` does not leave the done state, so a refund reversed
          after it was processed would stay done (and its proof valid).
        - Razorpay's events come in no guaranteed order: a processed event for a
          refund already failed is checked against the refund as Razorpay holds it
          now (Fetch Refund With ID) before it makes the refund done again.

        Note: self.ensure_one()
        """
        if self._refund_proof_razorpay_is_refund_entity(notification_data):
            status = notification_data.get("status")
            if status in PAYMENT_STATUS_MAPPING["error"]:
                self._set_error(
                    _("Razorpay reports that the refund failed."),
                    extra_allowed_states=("done",),
                )
            elif status in PAYMENT_STATUS_MAPPING["done"] and self.state == "error":
                current = self._refund_proof_razorpay_fetch_refund()
                if current:
                    _logger.info(
                        "Razorpay refund %s reported processed after it failed; "
                        "Razorpay says it is %s.",
                        self.provider_reference,
                        current.get("status"),
                    )
                    notification_data = dict(current, entity_type="refund")
        return super()._process_notification_data(notification_data)

    def _refund_proof_razorpay_is_refund_entity(self, notification_data):
        """Whether `notification_data` is the full refund entity of this refund
        transaction (Razorpay's answer to a refund request, or a webhook's).

        Note: self.ensure_one()
        """
        self.ensure_one()
        return (
            self.provider_code == "razorpay"
            and self.operation == "refund"
            and notification_data.get("entity_type") == "refund"
            and bool(notification_data.get("id"))
        )

    def _refund_proof_razorpay_get_refund_tx(self, refund_id):
        """The Razorpay refund transaction of the refund `refund_id` (``rfnd_…``),
        or an empty recordset."""
        if not refund_id:
            return self.browse()
        return self.search(
            [
                ("provider_code", "=", "razorpay"),
                ("operation", "=", "refund"),
                ("provider_reference", "=", refund_id),
            ],
            order="id",
            limit=1,
        )

    def _refund_proof_razorpay_fetch_refund(self):
        """The refund entity of this refund transaction, as Razorpay holds it now
        (GET refunds/{id}, through Odoo's request helper), or None when it has no
        Razorpay refund id.

        Note: self.ensure_one()

        :rtype: dict | None
        :raise ValidationError: If Razorpay cannot be reached or refuses.
        """
        self.ensure_one()
        refund_id = self.provider_reference or ""
        if not const.REFUND_ID.fullmatch(refund_id):
            return None
        refund_data = self.provider_id._razorpay_make_request(
            f"refunds/{refund_id}", method="GET"
        )
        _logger.info(
            "Response of '/refunds/<id>' request for transaction with reference "
            "%s:\n%s",
            self.reference,
            pprint.pformat(refund_data),
        )
        return refund_data

    @api.model
    def _refund_proof_razorpay_get_refund_reference(self, refund_data):
        """The bank's reference of a refund in a Razorpay refund entity: its
        `acquirer_data` ARN, else RRN, else UTR (`const.REFUND_REFERENCE_KEYS`).

        :param dict refund_data: A refund entity.
        :return: The reference, or None while the bank has given none.
        :rtype: str | None
        """
        acquirer_data = refund_data.get("acquirer_data")
        if not isinstance(acquirer_data, dict):  # `[]` when empty.
            return None
        for key in const.REFUND_REFERENCE_KEYS:
            value = acquirer_data.get(key)
            if isinstance(value, bool) or not isinstance(value, str | int):
                continue  # null while the bank has not answered.
            value = str(value).strip()
            if value:
                return value
        return None

    # === HOOKS OF REFUND_PROOF (models/payment_transaction_bridge.py) === #

    def _get_refund_arn_from_notification(self, notification_data):
        """Override of `refund_proof`: the bank reference in a Razorpay refund entity
        (`acquirer_data`), from a refund request's answer or a refund event."""
        reference = super()._get_refund_arn_from_notification(notification_data)
        if reference or not self._refund_proof_razorpay_is_refund_entity(
            notification_data
        ):
            return reference
        return self._refund_proof_razorpay_get_refund_reference(notification_data) or ""

    def _refund_proof_fetch_reference(self):
        """Override of `refund_proof`: ask Razorpay for the refund (Fetch Refund With
        ID) and read its bank reference. Razorpay says nothing of a reference that
        will never come: None until the bank gives one.

        Note: self.ensure_one()
        """
        answer = super()._refund_proof_fetch_reference()
        if self.provider_code != "razorpay" or self.operation != "refund":
            return answer
        refund_data = self._refund_proof_razorpay_fetch_refund()
        if refund_data is None:
            return answer
        return {
            "reference": self._refund_proof_razorpay_get_refund_reference(refund_data),
            "unavailable": False,
        }

    # === BUSINESS METHODS - DISPUTES === #

    @api.model
    def _refund_proof_razorpay_get_disputed_tx(self, dispute_data):
        """The Razorpay payment of a dispute entity (its `payment_id`), or an empty
        recordset when the payment is not Odoo's.

        :param dict dispute_data: A dispute entity.
        """
        payment_id = dispute_data.get("payment_id")
        if not payment_id or not isinstance(payment_id, str):
            return self.browse()
        return self.search(
            [
                ("provider_code", "=", "razorpay"),
                ("operation", "!=", "refund"),
                ("provider_reference", "=", payment_id),
            ],
            order="id",
            limit=1,
        )

    def _refund_proof_razorpay_log_dispute_event(self, event, dispute_data):
        """Log a Razorpay dispute event on the documents of this payment: a dispute is
        never a refund (`refund_proof`'s `_refund_proof_log_dispute_event`); then
        record it as the payment's `payment.dispute` (its phase as kind, its status
        as state, `respond_by` as the due date). Server side: called after the
        event's signature was checked.

        Note: self.ensure_one()

        :param str event: The event (one of `const.DISPUTE_EVENTS`).
        :param dict dispute_data: The dispute entity of the event.
        """
        self.ensure_one()
        labels = {
            "payment.dispute.created": _("dispute opened by the customer's bank"),
            "payment.dispute.under_review": _(
                "dispute contested, the evidence is under review"
            ),
            "payment.dispute.action_required": _(
                "dispute needs action: the evidence is insufficient or unreadable"
            ),
            "payment.dispute.won": _("dispute won"),
            "payment.dispute.lost": _("dispute lost"),
            "payment.dispute.closed": _("dispute closed"),
        }
        amount = dispute_data.get("amount")
        if isinstance(amount, int) and dispute_data.get("currency") == (
            self.currency_id.name
        ):
            amount = payment_utils.to_major_currency_units(amount, self.currency_id)
        else:
            amount = None
        summary = _(
            "%(event)s (reason: %(reason)s; phase: %(phase)s; status: %(status)s)",
            event=labels.get(event, event),
            reason=dispute_data.get("reason_description")
            or dispute_data.get("reason_code")
            or "-",
            phase=dispute_data.get("phase") or "-",
            status=dispute_data.get("status") or "-",
        )
        reference = dispute_data.get("id")
        self._refund_proof_log_dispute_event(
            summary,
            reference=reference if isinstance(reference, str) else None,
            amount=amount,
        )
        if isinstance(reference, str) and reference:
            state = const.DISPUTE_STATUS_MAPPING.get(dispute_data.get("status"))
            if event == "payment.dispute.action_required":
                state = "needs_response"
            self._refund_proof_upsert_dispute(
                {
                    "provider_reference": reference,
                    "amount": amount,
                    "kind": const.DISPUTE_PHASE_MAPPING.get(dispute_data.get("phase")),
                    "state": state,
                    "provider_reason": dispute_data.get("reason_description")
                    or dispute_data.get("reason_code"),
                    "evidence_due_date": self._refund_proof_razorpay_parse_timestamp(
                        dispute_data.get("respond_by")
                    ),
                    "opened_date": self._refund_proof_razorpay_parse_timestamp(
                        dispute_data.get("created_at")
                    ),
                    "summary": summary,
                }
            )

    @staticmethod
    def _refund_proof_razorpay_parse_timestamp(value):
        """A naive UTC datetime of Razorpay's Unix timestamp, or None."""
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return None
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
