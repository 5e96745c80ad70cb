"""The dispute side of a payment: its disputes, the refund rules they set (no refund
on top of a chargeback, only a whole one under an inquiry), and the services bridges
call with a provider's signed dispute events (`_refund_proof_upsert_dispute`,
`_refund_proof_log_dispute_event`) or to send evidence
(`_refund_proof_submit_dispute_evidence`, a hook).
"""

import logging

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount

from ..const import DISPUTE_CHARGEBACK_KINDS, DISPUTE_OPEN_STATES

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    dispute_ids = fields.One2many(
        comodel_name="payment.dispute",
        inverse_name="source_transaction_id",
        string="Disputes",
        groups="refund_proof.group_refund_user,account.group_account_readonly",
    )

    # === BUSINESS METHODS - REFUND RULES === #

    def _get_open_disputes(self, kinds=None):
        """The disputes of this payment the bank has not decided yet.

        :param tuple kinds: Only these kinds (default: all).
        :rtype: recordset of `payment.dispute`
        """
        self.ensure_one()
        # In sudo mode: whether a payment is disputed decides whether it may be
        # refunded, whoever asks (refund users read disputes, billing users do not).
        domain = [
            ("source_transaction_id", "=", self.id),
            ("state", "in", DISPUTE_OPEN_STATES),
        ]
        if kinds:
            domain.append(("kind", "in", kinds))
        return self.env["payment.dispute"].sudo().search(domain, order="id")

    def _check_not_charged_back(self):
        """Raise while the bank has taken this payment back (an open chargeback or
        pre-arbitration): a refund on top of it would pay the customer twice. Called
        by `_check_refundable`, on every path (request, retry, approval).

        Note: self.ensure_one()
        """
        self.ensure_one()
        chargeback = self._get_open_disputes(DISPUTE_CHARGEBACK_KINDS)[:1]
        if chargeback:
            raise UserError(
                _(
                    "%(reference)s cannot be refunded: it is disputed (%(dispute)s, "
                    "%(kind)s, %(state)s) and the bank already took the money back "
                    "from you; a refund would pay the customer twice. Answer the "
                    "dispute instead: open %(dispute)s in Refunds > Disputes.",
                    reference=self.reference,
                    dispute=chargeback.name,
                    kind=chargeback._get_kind_label(),
                    state=chargeback._get_state_label(),
                )
            )

    def _check_refund_inquiry(self, amount, remaining):
        """Raise unless a refund of `amount` ends the open inquiries of this payment:
        while the bank asks, only a refund of all that remains is allowed (it ends
        the inquiry; a partial one would leave it open).

        Note: self.ensure_one()
        """
        self.ensure_one()
        inquiry = self._get_open_disputes(("inquiry",))[:1]
        if inquiry and self.currency_id.compare_amounts(amount, remaining):
            raise UserError(
                _(
                    "%(reference)s is under an inquiry of the customer's bank "
                    "(%(dispute)s): only a refund of everything that remains "
                    "(%(remaining)s) is allowed, which ends the inquiry.",
                    reference=self.reference,
                    dispute=inquiry.name,
                    remaining=format_amount(self.env, remaining, self.currency_id),
                )
            )

    # === BUSINESS METHODS - PROVIDER EVENTS === #

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
