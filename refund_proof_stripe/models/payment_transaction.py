import hashlib
import json
import logging
import pprint
from datetime import datetime, timezone
from urllib.parse import quote

from werkzeug.utils import secure_filename

from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import float_repr

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe import utils as stripe_utils
from odoo.addons.payment_stripe.controllers.main import StripeController
from odoo.addons.refund_proof.db_tools import superuser_savepoint

from ..const import (
    API_URL,
    DISPUTE_EVENTS,
    DISPUTE_PREVENTION_CASE_TYPES,
    DISPUTE_STATUS_MAPPING,
    DISPUTE_UNKNOWN_STATUS,
    EVIDENCE_FILE_MAX_SIZE,
    EVIDENCE_FILE_PURPOSE,
    EVIDENCE_SHORT_TEXT_MAX_LENGTH,
    EVIDENCE_TEXT_MAX_LENGTH,
    FILES_URL,
    ODOO_REFUND_EVENTS,
    REFERENCE_AVAILABLE,
    REFERENCE_UNAVAILABLE,
    REFUND_EVENTS,
    REFUNDS_PAGE_SIZE,
)
from .payment_provider import REFUND_CONTEXT_KEY

_logger = logging.getLogger(__name__)

# Context keys. The refund object being processed is recorded by the bridge itself
# (its reference after Odoo's processing), not by the notification hooks. The
# notification comes from Stripe's webhook route, where Odoo processes payment events
# unsigned when no webhook secret is set: what they say of the charge is not kept.
OWN_REFERENCE_KEY = "refund_proof_stripe_own_reference"
WEBHOOK_KEY = "refund_proof_stripe_webhook"

# Refund statuses after which the refund's reference means nothing: no money moved.
FAILED_REFUND_STATUSES = (
    *stripe_const.STATUS_MAPPING["error"],
    *stripe_const.STATUS_MAPPING["cancel"],
)


def _fit(text, limit):
    """`text` stripped and cut to `limit` characters, an ellipsis marking the cut:
    Stripe refuses a longer text in an evidence field."""
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment_stripe` to send the refund under the idempotency key of
        refund_proof (`_get_refund_idempotency_key`): a retry after an unknown outcome
        gets the refund Stripe may already have made instead of a second one. The
        request also asks for the refund's charge (its statement descriptor), see
        `payment.provider._stripe_make_request`.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund.
        :return: The refund transaction created to process the refund request.
        :rtype: recordset of `payment.transaction`
        """
        if self.provider_code != "stripe":
            return super()._send_refund_request(amount_to_refund=amount_to_refund)
        key = self._get_refund_idempotency_key()
        refund_tx = super(
            PaymentTransaction, self.with_context(**{REFUND_CONTEXT_KEY: key})
        )._send_refund_request(amount_to_refund=amount_to_refund)
        return refund_tx.with_env(self.env)

    def _process_notification_data(self, notification_data):
        """Override of `payment_stripe` and `refund_proof` to keep what Stripe says
        besides the state: the statement descriptor of the charge (on the payment),
        and, for a refund, that no ARN will come.

        Note: self.ensure_one()

        :param dict notification_data: The notification data built from Stripe's
                                       objects (see `payment_stripe`).
        """
        super()._process_notification_data(notification_data)
        if self.provider_code != "stripe":
            return
        if self.operation == "refund":
            refund = notification_data.get("refund")
            if not isinstance(refund, dict):
                return
            self.source_transaction_id._refund_proof_stripe_store_descriptor(
                refund.get("charge")
            )
            if self.env.context.get(OWN_REFERENCE_KEY) or not self.refund_id:
                return
            if self._refund_proof_stripe_get_reference(refund)["unavailable"]:
                # The ARN itself comes through `_get_refund_arn_from_notification`.
                with superuser_savepoint(self.env):
                    self.refund_id.sudo()._record_reference(unavailable=True)
        elif self._refund_proof_stripe_is_signed_notification():
            payment_intent = notification_data.get("payment_intent")
            if isinstance(payment_intent, dict):
                self._refund_proof_stripe_store_descriptor(
                    self._refund_proof_stripe_get_charge(payment_intent)
                )

    def _refund_proof_stripe_is_signed_notification(self):
        """Whether the notification being processed is Stripe's own: an answer of its
        API, or a webhook event whose signature Odoo checked (it processes payment
        events unsigned when the provider has no webhook secret).

        Note: self.ensure_one()
        """
        self.ensure_one()
        return not self.env.context.get(WEBHOOK_KEY) or bool(
            stripe_utils.get_webhook_secret(self.provider_id.sudo())
        )

    # === BUSINESS METHODS - REFERENCES === #

    def _get_refund_arn_from_notification(self, notification_data):
        """Override of `refund_proof`: the reference Stripe gives a refund in
        `destination_details.<type>` once its `reference_status` is `available`.

        Note: self.ensure_one()
        """
        arn = super()._get_refund_arn_from_notification(notification_data)
        if arn or self.provider_code != "stripe":
            return arn
        refund = notification_data.get("refund")
        if not isinstance(refund, dict) or self.env.context.get(OWN_REFERENCE_KEY):
            return ""
        return self._refund_proof_stripe_get_reference(refund)["reference"] or ""

    def _refund_proof_fetch_reference(self):
        """Override of `refund_proof`: ask Stripe for the refund (`GET refunds/<id>`)
        and read its reference. A state Stripe changed meanwhile (a late success or
        failure whose event was missed) is processed as its event would be.

        Note: self.ensure_one()

        :return: An empty dict when Stripe cannot tell, else the reference answer
                 of `_refund_proof_stripe_get_reference`.
        :rtype: dict
        """
        answer = super()._refund_proof_fetch_reference()
        if (
            self.provider_code != "stripe"
            or self.operation != "refund"
            or not self.provider_reference
        ):
            return answer
        # In sudo mode: the request reads the provider's credentials; the caller is
        # the server (the reference cron).
        refund = self.provider_id.sudo()._stripe_make_request(
            f"refunds/{self.provider_reference}",
            payload={"expand[]": "charge"},
            method="GET",
        )
        _logger.info(
            "Refund %s: received refund response:\n%s",
            self.reference,
            pprint.pformat(refund),
        )
        if not isinstance(refund, dict) or refund.get("id") != self.provider_reference:
            return {}  # An error answered in place of the refund.
        self._refund_proof_stripe_update_refund(refund)
        return self._refund_proof_stripe_get_reference(refund)

    @api.model
    def _refund_proof_stripe_get_reference(self, refund):
        """Read the reference of a Stripe refund object: `destination_details.type`
        names the sub-hash (`card`, or another payment method's) whose `reference`
        is the ARN (or bank reference) once `reference_status` is `available`;
        `unavailable` means none will come (the payment was reversed, or the network
        gives none); `pending`, the default, that it is not known yet. A type with
        no `reference_status` at all (`crypto`) has its `reference` once known. A
        failed or cancelled refund has none.

        :param dict refund: Stripe's refund object.
        :return: ``reference`` (str or None) and ``unavailable`` (bool).
        :rtype: dict
        """
        answer = {"reference": None, "unavailable": False}
        details = refund.get("destination_details")
        if refund.get("status") in FAILED_REFUND_STATUSES or not isinstance(
            details, dict
        ):
            return answer
        method_details = details.get(details.get("type") or "")
        if not isinstance(method_details, dict):
            return answer
        status = method_details.get("reference_status")
        if "reference_status" not in method_details and method_details.get("reference"):
            # A type without a status (`crypto`): its reference is given once known.
            answer["reference"] = str(method_details["reference"])
        elif status == REFERENCE_AVAILABLE and method_details.get("reference"):
            answer["reference"] = str(method_details["reference"])
        elif status == REFERENCE_UNAVAILABLE:
            answer["unavailable"] = True
        return answer

    # === BUSINESS METHODS - CHARGE === #

    @api.model
    def _refund_proof_stripe_get_charge(self, payment_intent):
        """The charge of a Stripe payment intent, when the object carries it: its
        `latest_charge` expanded, or its `charges` list (API version 2019-05-16, the
        one Odoo pins; the paid charge first, Stripe lists the latest first).

        :param dict payment_intent: Stripe's payment intent object.
        :rtype: dict | None
        """
        latest = payment_intent.get("latest_charge")
        if isinstance(latest, dict):
            return latest
        charges = payment_intent.get("charges")
        charges = charges.get("data") if isinstance(charges, dict) else None
        charges = [charge for charge in charges or [] if isinstance(charge, dict)]
        if isinstance(latest, str):
            charges = [charge for charge in charges if charge.get("id") == latest]
        paid = [charge for charge in charges if charge.get("paid")]
        return (paid or charges or [None])[0]

    def _refund_proof_stripe_store_descriptor(self, charge):
        """Keep the statement descriptor Stripe computed for the charge of these
        payments (`calculated_statement_descriptor`): what the customer's statement
        shows, printed on the proofs of their refunds.

        :param dict charge: Stripe's charge object (anything else is ignored: an
                            unexpanded charge is its id).
        """
        if not isinstance(charge, dict):
            return
        descriptor = charge.get("calculated_statement_descriptor")
        if not isinstance(descriptor, str) or not descriptor.strip():
            return
        for tx in self.filtered(lambda t: t.refund_charge_descriptor != descriptor):
            # In sudo mode: the descriptor is the server's record of Stripe's answer,
            # whoever's request or notification brought it.
            tx.sudo().refund_charge_descriptor = descriptor.strip()

    # === BUSINESS METHODS - EVENTS === #

    @api.model
    def _refund_proof_stripe_get_tx_from_event(self, event_type, stripe_object):
        """The transaction a Stripe event is about, or an empty recordset:

        - a refund event: the refund transaction (by the refund's id), else the
          payment it refunds (by its payment intent), for a refund not known yet;
        - `charge.refunded`: the payment (by the charge's description, Odoo's
          reference, as Odoo finds it; else by the payment intent);
        - a dispute event: the disputed payment (by the payment intent).

        Call it in sudo mode: events come from the public webhook route.

        :param str event_type: The event's type.
        :param dict stripe_object: The event's object (refund, charge or dispute).
        :rtype: recordset of `payment.transaction`
        """
        domain = [("provider_code", "=", "stripe")]
        tx = self.browse()
        object_id = stripe_object.get("id")
        if event_type in (*REFUND_EVENTS, "charge.refund.updated") and object_id:
            tx = self.search(
                [
                    *domain,
                    ("operation", "=", "refund"),
                    ("provider_reference", "=", object_id),
                ],
                limit=1,
            )
        elif event_type == "charge.refunded" and stripe_object.get("description"):
            tx = self.search(
                [*domain, ("reference", "=", stripe_object["description"])], limit=1
            )
        payment_intent = stripe_object.get("payment_intent")
        if isinstance(payment_intent, dict):
            payment_intent = payment_intent.get("id")
        if not tx and payment_intent:
            tx = self.search(
                [
                    *domain,
                    ("operation", "!=", "refund"),
                    ("provider_reference", "=", payment_intent),
                ],
                order="id",
                limit=1,
            )
        return tx

    def _refund_proof_stripe_process_event(self, event_type, stripe_object):
        """Process a Stripe event about this transaction (from
        `_refund_proof_stripe_get_tx_from_event`) that Odoo does not handle, or fails
        on: refund events and `charge.refunded` without its refunds list record the
        refunds, dispute events are logged on the payment and never become refunds.
        Server side: call it in sudo mode, once the event's signature is checked.

        Note: self.ensure_one()

        :param str event_type: The event's type.
        :param dict stripe_object: The event's object (refund, charge or dispute).
        """
        self.ensure_one()
        if event_type in DISPUTE_EVENTS:
            if self.operation != "refund":
                self._refund_proof_stripe_log_dispute(event_type, stripe_object)
        elif event_type == "charge.refunded":
            self._refund_proof_stripe_store_descriptor(stripe_object)
            self._refund_proof_stripe_record_refunds(
                self._refund_proof_stripe_get_charge_refunds(stripe_object)
            )
        elif event_type in (*REFUND_EVENTS, *ODOO_REFUND_EVENTS):
            if self.operation == "refund":
                self._refund_proof_stripe_record_refund(stripe_object)
            else:
                self._refund_proof_stripe_record_refunds([stripe_object])

    def _refund_proof_stripe_get_charge_refunds(self, charge):
        """The refunds of a charge: its embedded list when complete (API version
        2019-05-16), else every page of `GET refunds?charge=<id>`, as Odoo fetches the
        rest of a long list (the charge has no list at all since 2022-11-15).

        Note: self.ensure_one()

        :param dict charge: Stripe's charge object.
        :rtype: list[dict]
        """
        self.ensure_one()
        embedded = charge.get("refunds")
        if isinstance(embedded, dict) and not embedded.get("has_more"):
            return list(embedded.get("data") or [])
        refunds = []
        while True:
            payload = {"charge": charge["id"], "limit": REFUNDS_PAGE_SIZE}
            if refunds:
                payload["starting_after"] = refunds[-1]["id"]
            page = self.provider_id._stripe_make_request(
                "refunds", payload=payload, method="GET"
            )
            _logger.info(
                "Payment %s: received refunds of charge %s:\n%s",
                self.reference,
                charge["id"],
                pprint.pformat(page),
            )
            refunds += page.get("data") or []
            if not page.get("has_more") or not page.get("data"):
                return refunds

    def _refund_proof_stripe_record_refunds(self, refunds):
        """Record refunds Stripe reports for this payment: a refund transaction for
        each one not known yet (as Odoo's webhook does for `charge.refunded`: the
        refund then gets its `payment.refund`, see `_refund_proof_link_refunds`), and
        what Stripe says of the others.

        The payment is locked first (`_lock_for_refund`): a refund being sent from
        Odoo, or another event of the same refund, finishes first, so that no refund
        is recorded twice.

        Note: self.ensure_one()

        :param list refunds: Stripe's refund objects.
        """
        self.ensure_one()
        refunds = [refund for refund in refunds if refund.get("id")]
        if not refunds:
            return
        self._lock_for_refund()
        known = self.search(
            [
                ("provider_code", "=", "stripe"),
                ("operation", "=", "refund"),
                ("provider_reference", "in", [refund["id"] for refund in refunds]),
            ]
        )
        refund_txs = {tx.provider_reference: tx for tx in known}
        for refund in refunds:
            refund_tx = refund_txs.get(refund["id"])
            if not refund_tx:
                refund_tx = StripeController._create_refund_tx_from_refund(self, refund)
                refund_txs[refund["id"]] = refund_tx
            refund_tx._refund_proof_stripe_record_refund(refund)

    def _refund_proof_stripe_record_refund(self, refund):
        """Record what Stripe says of this refund transaction in an event: its state
        (`_refund_proof_stripe_update_refund`) and its reference.

        Note: self.ensure_one()

        :param dict refund: Stripe's refund object.
        """
        self.ensure_one()
        self._refund_proof_stripe_update_refund(refund)
        if not self.refund_id:
            return
        answer = self._refund_proof_stripe_get_reference(refund)
        if answer["reference"] or answer["unavailable"]:
            with superuser_savepoint(self.env):
                self.refund_id.sudo()._record_reference(
                    answer["reference"], unavailable=answer["unavailable"]
                )

    def _refund_proof_stripe_update_refund(self, refund):
        """Update this refund transaction from Stripe's refund object through Odoo's
        notification processing, when Stripe says something new: a first answer, or
        another state (a `pending` after the refund succeeded, or anything after it
        failed, is a late event: no news). The reference is the caller's to record.

        Note: self.ensure_one()

        :param dict refund: Stripe's refund object.
        """
        self.ensure_one()
        target = next(
            (
                state
                for state, statuses in stripe_const.STATUS_MAPPING.items()
                if refund.get("status") in statuses
            ),
            None,
        )
        # A failed or cancelled refund stays so; a done one is not pending again:
        # Stripe does not deliver its events in order.
        stale = self.state in ("error", "cancel") or (
            self.state == "done" and target in ("draft", "pending")
        )
        if not self.provider_reference or (
            target and target != self.state and not stale
        ):
            self.with_context(**{OWN_REFERENCE_KEY: True})._handle_notification_data(
                "stripe", {"refund": refund}
            )
        else:
            self.source_transaction_id._refund_proof_stripe_store_descriptor(
                refund.get("charge")
            )

    # === BUSINESS METHODS - DISPUTES === #

    def _refund_proof_stripe_log_dispute(self, event_type, dispute):
        """Log a Stripe dispute event on this payment's documents: a chargeback or an
        inquiry is not a refund.

        Note: self.ensure_one()

        :param str event_type: The event's type (`charge.dispute.*`).
        :param dict dispute: Stripe's dispute object.
        """
        self.ensure_one()
        events = {
            "charge.dispute.created": _(
                "the customer disputed the payment with their bank"
            ),
            "charge.dispute.updated": _("the dispute was updated"),
            "charge.dispute.closed": _("the dispute was closed"),
            "charge.dispute.funds_withdrawn": _(
                "the disputed amount was withdrawn from the Stripe balance"
            ),
            "charge.dispute.funds_reinstated": _(
                "the disputed amount was returned to the Stripe balance"
            ),
        }
        summary = _(
            "%(event)s (status: %(status)s, reason: %(reason)s)",
            event=events.get(event_type, event_type),
            status=dispute.get("status") or "-",
            reason=dispute.get("reason") or "-",
        )
        amount = dispute.get("amount")
        amount = (
            payment_utils.to_major_currency_units(amount, self.currency_id)
            if isinstance(amount, int)
            else None
        )
        self._refund_proof_log_dispute_event(
            summary, reference=dispute.get("id"), amount=amount
        )
        if dispute.get("id"):
            self._refund_proof_upsert_dispute(
                self._refund_proof_stripe_get_dispute_values(dispute, amount, summary)
            )

    def _refund_proof_stripe_get_dispute_values(self, dispute, amount, summary):
        """The values of refund_proof's `payment.dispute` in Stripe's dispute object
        (`_refund_proof_upsert_dispute`): its status as kind and state
        (`const.DISPUTE_STATUS_MAPPING`; a compliance case is a chargeback, a case of
        a prevention tool an inquiry), the card network's reason code, Stripe's
        reason, the evidence's due date. A status unknown here changes neither the
        kind nor the state of a dispute already recorded; a new dispute with one is
        recorded as `const.DISPUTE_UNKNOWN_STATUS` (and a warning logged), never as
        an open chargeback waiting for a response.

        Note: self.ensure_one()

        :param dict dispute: Stripe's dispute object.
        :param float amount: The disputed amount in major units, or None.
        :param str summary: What the event says, for the dispute's chatter.
        :rtype: dict
        """
        self.ensure_one()
        status = dispute.get("status")
        kind, state = DISPUTE_STATUS_MAPPING.get(status, (None, None))
        card = (dispute.get("payment_method_details") or {}).get("card") or {}
        if status not in DISPUTE_STATUS_MAPPING and not self.env[
            "payment.dispute"
        ].sudo().search_count(
            [
                ("source_transaction_id", "=", self.id),
                ("provider_reference", "=", dispute["id"]),
            ],
            limit=1,
        ):
            _logger.warning(
                "Stripe dispute %s of the payment %s has the status %r, unknown to "
                "refund_proof_stripe: recorded as an inquiry under review. Check it "
                "in Stripe's dashboard.",
                dispute["id"],
                self.reference,
                status,
            )
            kind, state = DISPUTE_UNKNOWN_STATUS
        if card.get("case_type") in DISPUTE_PREVENTION_CASE_TYPES:
            kind = "inquiry"
        due_by = (dispute.get("evidence_details") or {}).get("due_by")
        created = dispute.get("created")
        currency = dispute.get("currency")
        return {
            "provider_reference": dispute["id"],
            "amount": amount,
            "currency": currency if isinstance(currency, str) else None,
            "kind": kind,
            "state": state,
            "card_network": card.get("brand"),
            "reason_code": card.get("network_reason_code"),
            "provider_reason": dispute.get("reason"),
            "evidence_due_date": datetime.fromtimestamp(due_by, tz=timezone.utc)
            .replace(tzinfo=None)
            .replace(microsecond=0)
            if isinstance(due_by, int)
            else None,
            "opened_date": datetime.fromtimestamp(created, tz=timezone.utc).replace(
                tzinfo=None
            )
            if isinstance(created, int)
            else None,
            "summary": summary,
        }

    # === BUSINESS METHODS - DISPUTE EVIDENCE === #

    def _refund_proof_submit_dispute_evidence(self, dispute, attachment):
        """Override of `refund_proof`: upload the evidence pack to Stripe's files
        (purpose `dispute_evidence`), then submit it to the bank with the facts of
        the refunds (`POST disputes/<id>`, evidence fields and `submit=true`).

        Each request carries an idempotency key derived from what it sends
        (`_refund_proof_stripe_evidence_key`): the same request sent again (a retry
        after Stripe's answer was lost) is performed once by Stripe, which answers it
        as it answered the first; another one (a pack rendered again) is a new
        request, which Stripe refuses once the evidence is submitted.

        Note: self.ensure_one()

        :param recordset dispute: The `payment.dispute`, in sudo mode.
        :param recordset attachment: Its evidence pack (`ir.attachment`, a PDF).
        :return: The fields sent to Stripe (`evidence[...]`, `submit`), as sent.
        :rtype: dict
        :raise UserError: When the pack is too large for Stripe, Stripe cannot be
                          reached or refuses the evidence.
        """
        if self.provider_code != "stripe":
            return super()._refund_proof_submit_dispute_evidence(dispute, attachment)
        self.ensure_one()
        pdf = attachment.raw
        if len(pdf) > EVIDENCE_FILE_MAX_SIZE:
            raise UserError(
                _(
                    "The evidence pack of %(name)s is larger than the %(limit)s MB "
                    "Stripe accepts: print it and send its main pages from Stripe's "
                    "dashboard.",
                    name=dispute.name,
                    limit=EVIDENCE_FILE_MAX_SIZE // 1_000_000,
                )
            )
        # In sudo mode: the requests read the provider's secret key; the refund
        # manager's right was checked by the dispute's action.
        provider = self.provider_id.sudo()
        uploaded = provider._refund_proof_stripe_post(
            FILES_URL,
            {"purpose": EVIDENCE_FILE_PURPOSE},
            files={
                "file": (
                    secure_filename(attachment.name) or "evidence.pdf",
                    pdf,
                    "application/pdf",
                )
            },
            idempotency_key=self._refund_proof_stripe_evidence_key(
                dispute, "file", pdf
            ),
        )
        file_id = uploaded.get("id")
        if not isinstance(file_id, str) or not file_id:
            raise UserError(
                _("Stripe did not answer with the uploaded file. Please try again.")
            )
        payload = self._refund_proof_stripe_get_evidence_payload(dispute, file_id)
        answer = provider._refund_proof_stripe_post(
            f"{API_URL}disputes/{quote(dispute.provider_reference, safe='')}",
            payload,
            idempotency_key=self._refund_proof_stripe_evidence_key(
                dispute, "evidence", json.dumps(payload, sort_keys=True).encode()
            ),
        )
        if answer.get("id") != dispute.provider_reference:
            raise UserError(
                _(
                    "Stripe answered about another object than the dispute "
                    "%(reference)s. Please check the dispute in Stripe's dashboard.",
                    reference=dispute.provider_reference,
                )
            )
        _logger.info(
            "Payment %s: evidence of dispute %s (%s) submitted to Stripe with file "
            "%s; Stripe's status: %s",
            self.reference,
            dispute.name,
            dispute.provider_reference,
            file_id,
            answer.get("status"),
        )
        return payload

    def _refund_proof_stripe_get_evidence_payload(self, dispute, file_id):
        """The fields of Stripe's dispute update that submit the evidence: the pack,
        the customer, the refund policy and the facts of the refunds; empty ones left
        out, each text cut to Stripe's limit.

        Note: self.ensure_one()

        :param recordset dispute: The `payment.dispute`.
        :param str file_id: The uploaded pack's Stripe file.
        :rtype: dict
        """
        self.ensure_one()
        partner = dispute.partner_id
        values = {
            # The pack is the merchant's record of the refunds (statement, proofs,
            # e-mails to the customer), none of the documents Stripe names for a
            # "credit not processed" dispute (`receipt` is the charge's,
            # `refund_policy` the policy as shown at purchase,
            # `customer_communication` the messages themselves): Stripe's field for
            # any other evidence.
            "evidence[uncategorized_file]": file_id,
            "evidence[customer_name]": _fit(
                partner.name or self.partner_name, EVIDENCE_SHORT_TEXT_MAX_LENGTH
            ),
            "evidence[customer_email_address]": _fit(
                partner.email or self.partner_email, EVIDENCE_SHORT_TEXT_MAX_LENGTH
            ),
            # The policy as the customers see it, in Stripe's text field about the
            # refund policy (`refund_policy` takes a file).
            "evidence[refund_policy_disclosure]": _fit(
                dispute.company_id.refund_policy_text, EVIDENCE_TEXT_MAX_LENGTH
            ),
            "evidence[uncategorized_text]": _fit(
                self._refund_proof_stripe_get_refund_statement(dispute),
                EVIDENCE_TEXT_MAX_LENGTH,
            ),
        }
        payload = {key: value for key, value in values.items() if value}
        payload["submit"] = "true"
        return payload

    def _refund_proof_stripe_get_refund_statement(self, dispute):
        """The facts of the refunds of this payment done before `dispute` was opened,
        for the bank: a line for each (number, amount, date in UTC, ARN), in the
        user's language; empty without any.

        Note: self.ensure_one()

        :param recordset dispute: The `payment.dispute`.
        :rtype: str
        """
        self.ensure_one()
        credits = dispute._get_credits_before_dispute().sorted(
            lambda refund: (refund.refund_date, refund.id)
        )
        if not credits:
            return ""
        reference_labels = dict(
            credits._fields["arn_type"]._description_selection(self.env)
        )
        lines = [
            _(
                "Before the dispute was opened, these refunds of the payment "
                "%(payment)s of %(amount)s were processed:",
                payment=self.reference,
                amount=self._refund_proof_stripe_format_amount(
                    self.amount, self.currency_id
                ),
            )
        ]
        for refund in credits:
            if refund.arn:
                reference = f"{reference_labels.get(refund.arn_type, '')} {refund.arn}"
            elif refund.arn_unavailable:
                reference = _("no ARN from the card network")
            else:
                reference = _("ARN not given by the card network yet")
            lines.append(
                _(
                    "Refund %(name)s of %(amount)s processed on %(date)s, "
                    "%(reference)s.",
                    name=refund.name,
                    amount=self._refund_proof_stripe_format_amount(
                        refund.amount, refund.currency_id
                    ),
                    date=refund.refund_date.strftime("%Y-%m-%d %H:%M UTC"),
                    reference=reference.strip(),
                )
            )
        lines.append(
            _(
                "Refunded in total: %(amount)s. The attached evidence pack shows each "
                "refund with its proof and the e-mails sent to the customer.",
                amount=self._refund_proof_stripe_format_amount(
                    sum(credits.mapped("amount")), credits[:1].currency_id
                ),
            )
        )
        return "\n".join(lines)

    @api.model
    def _refund_proof_stripe_format_amount(self, amount, currency):
        """An amount as a bank reads it in any language: `40.00 USD`."""
        return (
            f"{float_repr(currency.round(amount), currency.decimal_places)} "
            f"{currency.name}"
        )

    def _refund_proof_stripe_evidence_key(self, dispute, step, content):
        """Stripe's idempotency key of a request submitting the evidence of
        `dispute`: the same for the same content, another for other content;
        derived from the database too, so that two databases (a copy, a restored
        backup) never share one.

        :param recordset dispute: The `payment.dispute`.
        :param str step: The request (`file`, `evidence`).
        :param bytes content: What the request sends.
        :rtype: str
        """
        # In sudo mode: the database's identity is a system parameter.
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        digest = hashlib.sha256(content).hexdigest()[:32]
        return f"refund_proof-{uuid[:8]}-dispute-{dispute.id}-{step}-{digest}"
