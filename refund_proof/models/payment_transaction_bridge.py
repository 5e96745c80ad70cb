"""The contract between refund_proof and its provider bridges (refund_proof_<provider>).

A bridge is an addon auto-installed with refund_proof and one of Odoo's provider
modules; it holds all of that provider's knowledge, and meets the core through three
kinds of methods, and only these (refund_proof_razorpay is the smallest example):

HOOKS, what a bridge overrides, calling super() first and answering only for its own
provider. The defaults answer "nothing known" with an empty value of the documented
type, as Odoo's hooks do, so that a provider without a bridge changes nothing:
    payment.transaction  `_get_refund_arn_from_notification` (an empty string),
                         `_refund_proof_fetch_reference` (an empty dict),
                         `_refund_proof_submit_dispute_evidence` (raises: cannot);
    payment.provider     `_get_refund_expected_arrival`, `_get_refund_no_arn_note`
                         (models/payment_provider.py);
    payment.refund       the other ways to pay back a failed refund
                         (models/payment_refund_payout.py): `_get_payout_methods`
                         (the core's list: bank transfer),
                         `_refund_proof_request_payout` (the new refund of a method
                         the bridge added; raises by default),
                         `_get_payout_proof_line` (how the money came back, an empty
                         string by default) — refund_proof_loyalty;
    and Odoo's own: `_send_refund_request` (the refund at the provider),
    `_get_tx_from_notification_data` and `_process_notification_data` (its events).

CAPABILITIES, what a bridge declares its provider can do, on payment.provider
(models/payment_provider.py): `_refund_proof_can_fetch_reference` and
`_refund_proof_can_submit_dispute_evidence` (False by default),
`_refund_proof_gives_arn` (True by default: False when no ARN ever comes, and the proof
says how the refund appears instead); Odoo's own fields say the rest
(`support_refund`: none, full_only or partial).

SERVICES, what a bridge calls and never overrides, server side, after it checked the
event's signature (Odoo's check stays the judge):
    payment.transaction    `_get_refund_idempotency_key`, `_get_refund_being_sent`,
                           `_refund_proof_record_notification_arn`,
                           `_lock_for_refund`, `_refund_proof_upsert_dispute`,
                           `_refund_proof_log_dispute_event`;
    payment.refund         `_record_reference` (an ARN or bank reference, validated);
                           before the payment settled at the provider
                           (models/payment_refund_settlement.py): `_hold` (not sent
                           yet, cancellable), `_release_hold` (send it now),
                           `_record_done_by_cancellation` (the provider voided the
                           whole payment instead of refunding it);
    payment.provider       `_refund_proof_get_signing_secrets` (secret rotation);
    refund_proof.utils     `RefundOutcomeUnknown`: raised when a request may have
                           reached the provider (the refund stays pending, held);
    refund_proof.db_tools  `superuser_savepoint`.

A bridge's own methods are named `_refund_proof_<provider>_*`, never in the namespace
of Odoo's provider module (`_<provider>_*`).
"""

import logging

from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount

from ..const import IDEMPOTENCY_KEY, SENDING_REFUND_KEY

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === HOOKS FOR BRIDGES === #

    def _get_refund_arn_from_notification(self, notification_data):
        """The ARN or bank reference of a refund in the provider's notification.

        Provider glue overrides this (e.g. Adyen's `additionalData.arn`, Stripe's
        `destination_details.card.reference`).

        Note: self.ensure_one()

        :param dict notification_data: The notification data sent by the provider.
        :return: The reference, or an empty string when the notification carries
                 none (the default).
        :rtype: str
        """
        self.ensure_one()
        return ""

    def _refund_proof_fetch_reference(self):
        """Ask the provider for the reference of this refund transaction.

        Note: self.ensure_one()

        :return: An empty dict when the provider cannot tell (the default), else a
                 dict with ``reference`` (the ARN or bank reference, or None while it
                 is not known) and ``unavailable`` (True when the provider says none
                 will come).
        :rtype: dict
        """
        self.ensure_one()
        return {}

    def _refund_proof_submit_dispute_evidence(self, dispute, attachment):
        """Send the evidence of `dispute` (a dispute of this payment) to the provider,
        and submit it. Bridges whose provider can
        (`payment.provider._refund_proof_can_submit_dispute_evidence`) override it;
        a provider error raises, and the dispute records nothing.

        Note: self.ensure_one()

        :param recordset dispute: The `payment.dispute`, in sudo mode.
        :param recordset attachment: Its evidence pack (`ir.attachment`, a PDF).
        :return: What was sent, field by field as the provider names them.
        :rtype: dict
        """
        self.ensure_one()
        raise UserError(
            _(
                "%(provider)s cannot receive evidence from Odoo.",
                provider=self.provider_id.name,
            )
        )

    # === SERVICES FOR BRIDGES === #

    def _get_refund_being_sent(self):
        """The `payment.refund` being sent to the provider (`payment.refund.
        _send_to_provider`), in sudo mode, for a bridge to hold it
        (`payment.refund._hold`) or record how the provider settled it
        (`_record_done_by_cancellation`); empty outside a refund request.

        :rtype: recordset of `payment.refund`
        """
        refund_id = self.env.context.get(SENDING_REFUND_KEY)
        return self.env["payment.refund"].sudo().browse(refund_id or [])

    def _get_refund_idempotency_key(self):
        """The idempotency key of the refund request being sent (`payment.refund.
        _get_idempotency_key`), for a bridge to pass to its provider, or None outside
        a refund request.

        :rtype: str | None
        """
        return self.env.context.get(IDEMPOTENCY_KEY)

    def _refund_proof_upsert_dispute(self, values):
        """Create or update the `payment.dispute` of this payment that a provider's
        event reports (found by its provider reference). Server side: bridges call it
        after checking the event's signature, in any environment (it works in sudo
        mode). A state the dispute cannot go to from its own (a late event) is
        logged on the dispute and changes nothing; the kind only moves forward.

        Note: self.ensure_one()

        :param dict values: ``provider_reference`` (required), and any of ``amount``
            (in ``currency``, a `res.currency` or its code, default the payment's),
            ``card_network`` (a brand or scheme code: "visa", "mc"...),
            ``reason_code``, ``provider_reason``, ``kind`` (inquiry, chargeback,
            pre_arbitration), ``state`` (needs_response, under_review, won, lost,
            closed), ``evidence_due_date`` (datetime), ``opened_date`` (when the
            bank opened it, datetime; kept from the first event), ``summary`` (what
            happened, posted on the dispute, escaped).
        :return: The dispute.
        :rtype: recordset of `payment.dispute`
        """
        self.ensure_one()
        values = dict(values)
        reference = values.pop("provider_reference")
        summary = values.pop("summary", None)
        opened_date = values.pop("opened_date", None)
        state = values.pop("state", None)
        kind = values.pop("kind", None)
        currency = values.pop("currency", None)
        if isinstance(currency, str):
            currency = (
                self.env["res.currency"]
                .with_context(active_test=False)
                .search([("name", "=", currency.upper())], limit=1)
            )
        values["card_network"] = self.env["payment.dispute"]._normalize_card_network(
            values.get("card_network")
        )
        values = {
            key: value for key, value in values.items() if value not in (None, "")
        }
        if not values.get("card_network"):
            values.pop("card_network", None)
        if currency:
            values["currency_id"] = currency.id
        # In sudo mode: the provider's record, whoever delivered the event (the public
        # user of the webhook route).
        Dispute = self.env["payment.dispute"].sudo()
        dispute = Dispute.search(
            [
                ("source_transaction_id", "=", self.id),
                ("provider_reference", "=", reference),
            ],
            limit=1,
        )
        if not dispute:
            if "amount" not in values:
                values["amount"] = self.amount
            dispute = Dispute.create(
                {
                    "source_transaction_id": self.id,
                    "provider_reference": reference,
                    "origin": "provider",
                    "kind": kind or "chargeback",
                    "state": state or "needs_response",
                    **({"opened_date": opened_date} if opened_date else {}),
                    **values,
                }
            )
            if summary:
                dispute.message_post(body=summary)
            return dispute
        if summary:
            dispute.message_post(body=summary)
        was_chargeback = dispute._is_chargeback()
        was_open = dispute.is_open
        if values:
            dispute.write(values)
        dispute._apply_kind(kind)
        if state and state != dispute.state:
            try:
                with self.env.cr.savepoint():
                    dispute._set_state(state)
            except UserError:
                dispute.message_post(
                    body=_(
                        "%(provider)s reports the dispute %(state)s; it stays "
                        "%(current)s (an earlier event arriving late, or a decision "
                        "already recorded).",
                        provider=self.provider_id.name,
                        state=dispute._get_state_label(state),
                        current=dispute._get_state_label(),
                    )
                )
        # Escalated from an inquiry (a reopened dispute was flagged by `_set_state`).
        if dispute._is_chargeback() and not was_chargeback and was_open:
            dispute._flag_refunds_in_flight()
        return dispute

    def _refund_proof_log_dispute_event(self, summary, reference=None, amount=None):
        """Record a dispute event of the provider (chargeback, request for
        information, reversal...) on the documents of this payment (its invoices and
        account payment, Odoo's `_log_message_on_linked_documents`: a transaction has
        no chatter), never as a refund. Server side: bridges call it after checking
        the event's signature.

        Note: self.ensure_one()

        :param str summary: What happened, in the provider's words (escaped).
        :param str reference: The provider's reference of the dispute.
        :param float amount: The disputed amount, in the payment's currency.
        """
        self.ensure_one()
        body = _(
            "Dispute event from %(provider)s: %(summary)s (reference %(reference)s, "
            "amount %(amount)s). It is not a refund: no refund was recorded.",
            provider=self.provider_id.name,
            summary=summary,
            reference=reference or "-",
            amount=format_amount(self.env, amount, self.currency_id)
            if amount is not None
            else "-",
        )
        _logger.info("Payment %s: %s", self.reference, body)
        # In sudo mode: the event comes from the provider's notification route,
        # whose caller (the public user) may not post on invoices and payments.
        self_sudo = self.sudo()
        self_sudo._log_message_on_linked_documents(body)
        # account_payment logs on the payment itself only for child transactions.
        if self_sudo.payment_id:
            self_sudo.payment_id.message_post(body=body)
