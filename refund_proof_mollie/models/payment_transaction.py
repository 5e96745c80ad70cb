import logging
import pprint
from datetime import datetime, timezone

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_round

from odoo.addons.payment.const import CURRENCY_MINOR_UNITS

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment` to refund a Mollie payment (Create Refund), which
        Odoo's `payment_mollie` cannot: the refund transaction of Odoo's
        `_create_child_transaction`, then POST /v2/payments/{id}/refunds with its
        amount, a description (the refund's number and the shop's name, which Mollie
        passes to the customer's bank where it can) and refund_proof's idempotency
        key. The refund transaction gets Mollie's refund id (``re_…``) and follows
        the refund's status.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund.
        :return: The refund transaction created to process the refund request.
        :rtype: recordset of `payment.transaction`
        """
        refund_tx = super()._send_refund_request(amount_to_refund=amount_to_refund)
        if self.provider_code != "mollie":
            return refund_tx
        payload = {
            "amount": self._refund_proof_mollie_format_amount(-refund_tx.amount),
            "description": refund_tx._refund_proof_mollie_get_refund_description(),
        }
        _logger.info(
            "Sending '/payments/<id>/refunds' request for transaction with reference "
            "%s:\n%s",
            refund_tx.reference,
            pprint.pformat(payload),
        )
        refund_data = self.provider_id._refund_proof_mollie_create_refund(
            self.provider_reference,
            payload,
            key=self._get_refund_idempotency_key(),
        )
        _logger.info(
            "Response of '/payments/<id>/refunds' request for transaction with "
            "reference %s:\n%s",
            refund_tx.reference,
            pprint.pformat(refund_data),
        )
        refund_id = refund_data.get("id")
        if isinstance(refund_id, str) and const.REFUND_ID.fullmatch(refund_id):
            refund_tx.provider_reference = refund_id
        refund_tx._refund_proof_mollie_apply_refund(refund_data)
        return refund_tx

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment_mollie`: a notification naming a refund transaction
        (Mollie never sends one: it notifies refunds on their payment's webhook) is
        handled as its payment's, whose refunds are then read from Mollie's API.
        Odoo's Mollie code would otherwise ask Mollie for a payment by the refund's
        id."""
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        if (
            provider_code == "mollie"
            and len(tx) == 1
            and tx.operation == "refund"
            and tx.source_transaction_id
        ):
            return tx.source_transaction_id
        return tx

    # === BUSINESS METHODS - MOLLIE REFUNDS === #

    def _refund_proof_mollie_format_amount(self, amount):
        """An amount in this payment's currency as Mollie's amount object (its
        currency, and the value as a string with the currency's decimals, as Odoo's
        `payment_mollie` sends a payment's).

        Note: self.ensure_one()

        :rtype: dict
        """
        self.ensure_one()
        decimal_places = CURRENCY_MINOR_UNITS.get(
            self.currency_id.name, self.currency_id.decimal_places
        )
        return {
            "currency": self.currency_id.name,
            "value": f"{amount:.{decimal_places}f}",
        }

    def _refund_proof_mollie_parse_amount(self, amount_data):
        """The amount of Mollie's amount object, if it is in this transaction's
        currency, else None.

        Note: self.ensure_one()

        :rtype: float | None
        """
        self.ensure_one()
        if not isinstance(amount_data, dict) or (
            amount_data.get("currency") != self.currency_id.name
        ):
            return None
        try:
            amount = float(amount_data.get("value"))
        except (TypeError, ValueError):
            return None
        if amount <= 0:
            return None
        return float_round(amount, precision_rounding=self.currency_id.rounding)

    def _refund_proof_mollie_get_refund_description(self):
        """The description of this refund transaction at Mollie: the refund's number
        and the name on the customer's statement (the proof's descriptor), for the
        customer's bank to show where it can.

        Note: self.ensure_one()

        :rtype: str
        """
        self.ensure_one()
        refund = self.refund_id.sudo()
        parts = [
            refund.name if refund else self.reference,
            refund.statement_descriptor if refund else self.company_id.name,
        ]
        description = " ".join(part for part in parts if part)
        return description[: const.DESCRIPTION_MAX_LENGTH]

    def _refund_proof_mollie_apply_refund(self, refund_data):
        """Move this refund transaction to the state of Mollie's refund object: queued,
        pending and processing are pending, refunded is done, failed and canceled
        are failed (Odoo's `_set_pending`, `_set_done`, `_set_error`). Only called
        with an object read from Mollie's API (the answer to a request, or a list
        read on the webhook), never with what a webhook posted.

        Note: self.ensure_one()

        :param dict refund_data: Mollie's refund object.
        """
        self.ensure_one()
        status = refund_data.get("status")
        if status in const.REFUND_STATUS_MAPPING["pending"]:
            if self.state == "draft":
                self._set_pending()
        elif status in const.REFUND_STATUS_MAPPING["done"]:
            if self.state != "done":
                self._set_done()
        elif status in const.REFUND_STATUS_MAPPING["error"]:
            if self.state != "error":
                # Also after it was refunded: Mollie says "failed" of a refund that
                # "failed after processing" (e.g. the customer's account was closed),
                # the money back on the merchant's balance.
                self._set_error(
                    _("Mollie reports the refund's status: %(status)s.", status=status),
                    extra_allowed_states=("done",),
                )
        else:
            _logger.info(
                "Mollie refund %s of transaction %s has the unknown status %r: "
                "left %s.",
                refund_data.get("id"),
                self.reference,
                status,
                self.state,
            )

    @api.model
    def _refund_proof_mollie_cron_sync_refunds(self, limit=None):
        """The webhook's safety net: read from Mollie's API the refunds of the Mollie
        payments that have a refund still pending an hour after its last change
        (`const.SYNC_PENDING_AFTER`), or a refund of unknown outcome, and record what
        Mollie says (`_refund_proof_mollie_sync_refunds`). A payment Mollie cannot
        tell about now is skipped until the next run.

        :param int limit: At most this many payments (`const.SYNC_PENDING_LIMIT`).
        """
        limit = limit or const.SYNC_PENDING_LIMIT
        # In sudo mode: the cron's user reads what the webhook's public user reads.
        Transaction = self.sudo()
        before = fields.Datetime.now() - const.SYNC_PENDING_AFTER
        pending = Transaction.search(
            [
                ("provider_code", "=", "mollie"),
                ("operation", "=", "refund"),
                ("state", "in", ("draft", "pending")),
                ("last_state_change", "<=", before),
            ],
            order="last_state_change, id",
        ).source_transaction_id
        unknown = (
            self.env["payment.refund"]
            .sudo()
            .search(
                [
                    ("outcome_unknown", "=", True),
                    ("state", "=", "pending"),
                    ("source_transaction_id.provider_code", "=", "mollie"),
                ],
                order="id",
            )
            .source_transaction_id
        )
        for payment in (unknown | pending)[:limit]:
            try:
                with self.env.cr.savepoint():
                    payment._refund_proof_mollie_sync_refunds()
            except (ValidationError, psycopg2.OperationalError) as error:
                # Mollie unreachable, or the payment's refunds busy: the next run.
                _logger.info(
                    "Could not read the refunds of %s from Mollie: %s",
                    payment.reference,
                    error,
                )
                continue
            if not self.env.registry.in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _refund_proof_mollie_get_payment_tx(self, reference):
        """The Mollie payment (not a refund) of Odoo's reference `reference` (the
        `ref` of the webhook's URL), the payment of a refund's reference, or an
        empty recordset."""
        if not reference or not isinstance(reference, str):
            return self.browse()
        tx = self.search(
            [("reference", "=", reference), ("provider_code", "=", "mollie")],
            limit=1,
        )
        if tx.operation == "refund":
            tx = tx.source_transaction_id
        return tx

    def _refund_proof_mollie_sync_refunds(self):
        """Read the refunds of this Mollie payment from Mollie's API (List payment
        refunds) and move this payment's refund transactions to what Mollie says;
        a refund Odoo does not know (made in Mollie's dashboard, or a request whose
        answer never came) gets its refund transaction, once, which refund_proof
        then records (`_refund_proof_link_refunds`). Server side: called on Mollie's
        webhook, whose post (an id, unsigned by design) is never read.

        Note: self.ensure_one()

        :raise ValidationError: If Mollie cannot be reached or refuses.
        """
        self.ensure_one()
        payment_id = self.provider_reference or ""
        if (
            self.provider_code != "mollie"
            or self.operation == "refund"
            or not const.PAYMENT_ID.fullmatch(payment_id)
        ):
            return
        refunds = self._refund_proof_mollie_list_refunds()
        if not refunds:
            return
        # Serialised with the refund requests of this payment: a refund being sent
        # is found here by its Mollie id once its request is committed, not recorded
        # a second time as a refund unknown to Odoo.
        self._lock_for_refund()
        for refund_data in refunds:
            if not isinstance(refund_data, dict):
                continue
            refund_id = refund_data.get("id")
            if (
                not isinstance(refund_id, str)
                or not const.REFUND_ID.fullmatch(refund_id)
                or refund_data.get("paymentId") != payment_id
            ):
                continue
            refund_txs = self._refund_proof_mollie_get_refund_txs(refund_id)
            if not refund_txs:
                refund_txs = self._refund_proof_mollie_create_refund_tx(refund_data)
            for refund_tx in refund_txs:
                refund_tx._refund_proof_mollie_apply_refund(refund_data)

    def _refund_proof_mollie_list_refunds(self):
        """The refund objects of this Mollie payment, as Mollie holds them now (List
        payment refunds, GET /v2/payments/{id}/refunds), every page.

        Note: self.ensure_one()

        :rtype: list[dict]
        :raise ValidationError: If Mollie cannot be reached or refuses.
        """
        return self._refund_proof_mollie_list("refunds")

    def _refund_proof_mollie_list(self, resource):
        """The objects of a list of this Mollie payment (``refunds`` or
        ``chargebacks``, GET /v2/payments/{id}/<resource> through Odoo's
        `_mollie_make_request`), every page.

        Note: self.ensure_one()

        :param str resource: The list, as Mollie names it in its path and under
                             `_embedded`.
        :rtype: list[dict]
        :raise ValidationError: If Mollie cannot be reached or refuses.
        """
        self.ensure_one()
        objects = []
        endpoint = (
            f"/payments/{self.provider_reference}/{resource}?limit={const.LIST_LIMIT}"
        )
        while endpoint:
            data = self.provider_id._mollie_make_request(endpoint, method="GET")
            _logger.info(
                "Response of '/payments/<id>/%s' request for transaction with "
                "reference %s:\n%s",
                resource,
                self.reference,
                pprint.pformat(data),
            )
            page = (data.get("_embedded") or {}).get(resource)
            if not isinstance(page, list):
                raise ValidationError(
                    _(
                        "Mollie: The API answered a list that cannot be read "
                        "(%(resource)s).",
                        resource=resource,
                    )
                )
            objects += page
            endpoint = self._refund_proof_mollie_next_page(data)
        return objects

    @staticmethod
    def _refund_proof_mollie_next_page(data):
        """The endpoint of the next page of a Mollie list (its `_links.next.href`
        under /v2/), or None on the last page."""
        next_link = (data.get("_links") or {}).get("next")
        href = isinstance(next_link, dict) and next_link.get("href")
        prefix = f"{const.API_URL}v2/"
        if isinstance(href, str) and href.startswith(prefix):
            return href[len(prefix) :]
        return None

    def _refund_proof_mollie_get_refund_txs(self, refund_id):
        """The refund transactions of this payment for Mollie's refund `refund_id`
        (``re_…``): usually one; two when a refund marked not refunded by a manager
        was retried under the same idempotency key and Mollie answered the refund it
        had made. Every one follows Mollie's status.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return self.search(
            [
                ("source_transaction_id", "=", self.id),
                ("provider_code", "=", "mollie"),
                ("operation", "=", "refund"),
                ("provider_reference", "=", refund_id),
            ],
            order="id",
        )

    def _refund_proof_mollie_create_refund_tx(self, refund_data):
        """The refund transaction of a Mollie refund Odoo does not know, created as
        Odoo's providers create those they report (`_create_child_transaction`), or
        an empty recordset when its amount is unreadable or in another currency.

        Note: self.ensure_one()

        :param dict refund_data: Mollie's refund object.
        """
        self.ensure_one()
        amount = self._refund_proof_mollie_parse_amount(refund_data.get("amount"))
        if amount is None:
            _logger.info(
                "Mollie refund %s of transaction %s has no amount in %s: skipped.",
                refund_data.get("id"),
                self.reference,
                self.currency_id.name,
            )
            return self.browse()
        _logger.info(
            "Mollie refund %s of transaction %s is unknown here: recorded.",
            refund_data.get("id"),
            self.reference,
        )
        return self._create_child_transaction(
            amount, is_refund=True, provider_reference=refund_data["id"]
        )

    # === BUSINESS METHODS - MOLLIE CHARGEBACKS === #

    def _refund_proof_mollie_sync_chargebacks(self):
        """Read the chargebacks of this Mollie payment from Mollie's API (List
        payment chargebacks) and record each as the payment's dispute
        (`_refund_proof_upsert_dispute`), never as a refund: a new chargeback needs a
        response (the merchant objects in Mollie's dashboard), a reversed one is won.
        A chargeback already recorded changes only when Mollie reverses it, so that
        a state set since (evidence sent) is kept. Server side: called on Mollie's
        webhook, whose post is never read.

        Note: self.ensure_one()

        :raise ValidationError: If Mollie cannot be reached or refuses.
        """
        self.ensure_one()
        payment_id = self.provider_reference or ""
        if (
            self.provider_code != "mollie"
            or self.operation == "refund"
            or not const.PAYMENT_ID.fullmatch(payment_id)
        ):
            return
        for chargeback in self._refund_proof_mollie_list("chargebacks"):
            if not isinstance(chargeback, dict):
                continue
            chargeback_id = chargeback.get("id")
            if (
                not isinstance(chargeback_id, str)
                or not const.CHARGEBACK_ID.fullmatch(chargeback_id)
                or chargeback.get("paymentId") != payment_id
            ):
                continue
            self._refund_proof_mollie_record_chargeback(chargeback)

    def _refund_proof_mollie_record_chargeback(self, chargeback):
        """Record Mollie's chargeback object `chargeback` as this payment's dispute,
        when it is new or newly reversed.

        Note: self.ensure_one()

        :param dict chargeback: Mollie's chargeback object.
        """
        self.ensure_one()
        reversed_date = self._refund_proof_mollie_parse_datetime(
            chargeback.get("reversedAt")
        )
        dispute = (
            self.env["payment.dispute"]
            .sudo()
            .search(
                [
                    ("source_transaction_id", "=", self.id),
                    ("provider_reference", "=", chargeback["id"]),
                ],
                limit=1,
            )
        )
        if dispute and (
            not reversed_date or dispute.state == const.CHARGEBACK_REVERSED_STATE
        ):
            return  # Nothing new from Mollie.
        amount = self._refund_proof_mollie_parse_amount(chargeback.get("amount"))
        reason = chargeback.get("reason")
        reason = reason if isinstance(reason, dict) else {}
        reason_code = (
            reason.get("code") if isinstance(reason.get("code"), str) else None
        )
        reason_text = (
            reason.get("description")
            if isinstance(reason.get("description"), str)
            else None
        )
        if reversed_date:
            summary = _(
                "Mollie reports the chargeback %(reference)s reversed.",
                reference=chargeback["id"],
            )
        else:
            summary = _(
                "Mollie reports a chargeback (reason: %(reason)s).",
                reason=reason_text or reason_code or "-",
            )
        if not dispute:
            # A dispute event is logged on the payment's documents, never a refund.
            self._refund_proof_log_dispute_event(
                summary, reference=chargeback["id"], amount=amount
            )
        self._refund_proof_upsert_dispute(
            {
                "provider_reference": chargeback["id"],
                "amount": amount,
                "kind": "chargeback",
                "state": const.CHARGEBACK_REVERSED_STATE
                if reversed_date
                else const.CHARGEBACK_RECEIVED_STATE,
                "reason_code": reason_code,
                "provider_reason": reason_text,
                "opened_date": self._refund_proof_mollie_parse_datetime(
                    chargeback.get("createdAt")
                ),
                "summary": summary,
            }
        )

    @staticmethod
    def _refund_proof_mollie_parse_datetime(value):
        """A naive UTC datetime of Mollie's ISO 8601 date, or None."""
        if not isinstance(value, str) or not value:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment
