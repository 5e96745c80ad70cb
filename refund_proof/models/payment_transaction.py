import logging
import math

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.misc import format_amount, format_datetime

from ..const import (
    GROUP_USER,
    RESERVING_STATES,
    SENDING_REFUND_KEY,
)
from ..db_tools import execute_lock, superuser_savepoint

_logger = logging.getLogger(__name__)

# What a user's create() of a transaction may not set (see `_check_user_create_values`).
USER_CREATE_FORBIDDEN_FIELDS = frozenset(
    {
        "source_transaction_id",
        "child_transaction_ids",
        "refund_id",
        "last_state_change",
        "state_message",
        "refund_charge_descriptor",
        "is_post_processed",
        "payment_id",
    }
)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    refund_id = fields.Many2one(
        comodel_name="payment.refund",
        string="Refund Record",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="For a refund transaction: the refund it is an attempt of.",
    )
    refund_ids = fields.One2many(
        comodel_name="payment.refund",
        inverse_name="source_transaction_id",
        string="Refund Records",
    )
    refund_proof_refund_count = fields.Integer(
        string="Refund Record Count", compute="_compute_refund_proof_refund_count"
    )
    refunded_amount = fields.Monetary(
        string="Refunded",
        compute="_compute_refund_status",
        store=True,
        help="Sum of the refunds done on this payment.",
    )
    refund_status = fields.Selection(
        selection=[
            ("none", "Not refunded"),
            ("partial", "Partially refunded"),
            ("full", "Refunded"),
        ],
        compute="_compute_refund_status",
        store=True,
        index=True,
    )
    refund_charge_descriptor = fields.Char(
        string="Descriptor of the Charge",
        readonly=True,
        copy=False,
        help="The statement descriptor the provider reported for this payment: what "
        "the customer's statement really shows. Printed on its refunds' proofs "
        "instead of the configured descriptor.",
    )
    refund_remaining_amount = fields.Monetary(
        string="Remaining Refundable",
        compute="_compute_refund_remaining_amount",
        help="What can still be refunded: the amount paid minus every refund that is "
        "not failed or cancelled (done, pending and awaiting approval ones included).",
    )

    # === COMPUTE METHODS === #

    def _compute_refund_proof_refund_count(self):
        counts = dict(
            self.env["payment.refund"]._read_group(
                [("source_transaction_id", "in", self.ids)],
                ["source_transaction_id"],
                ["__count"],
            )
        )
        for tx in self:
            tx.refund_proof_refund_count = counts.get(tx, 0)

    @api.depends("amount", "refund_ids.state", "refund_ids.amount")
    def _compute_refund_status(self):
        # The refunds of the transaction are read once per request and stay cached for
        # the recomputations that follow (an aggregate query would run at each one).
        for tx in self:
            done = tx.refund_ids.filtered(lambda r: r.state == "done")
            tx.refunded_amount = sum(done.mapped("amount"))
            if not done or tx.operation == "refund":
                tx.refund_status = "none"
            elif tx.currency_id.compare_amounts(tx.refunded_amount, tx.amount) >= 0:
                tx.refund_status = "full"
            else:
                tx.refund_status = "partial"

    @api.depends(
        "amount", "state", "operation", "refund_ids.state", "refund_ids.amount"
    )
    def _compute_refund_remaining_amount(self):
        reserved = self._get_refund_reserved_amounts()
        for tx in self:
            if tx.operation == "refund" or tx.state != "done":
                tx.refund_remaining_amount = 0.0
            else:
                tx.refund_remaining_amount = max(
                    tx.amount - reserved.get(tx.id, 0.0), 0.0
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                self._check_user_create_values(vals)
        txs = super().create(vals_list)
        txs.filtered(
            lambda tx: tx.operation == "refund" and tx.source_transaction_id
        )._refund_proof_link_refunds()
        return txs

    def write(self, vals):
        if not self.env.su and vals:
            # Users read payment transactions; Odoo's own flows write them in sudo
            # (capture, void, refund, the providers' notifications, post-processing,
            # account_payment's transactions by token). What a refund stands on — the
            # amount paid, its currency, customer, company, provider, date and state,
            # and which refund an attempt belongs to — is read from these records, so
            # a user's write (billing users have write access) would move the cap,
            # the refund window, the customer or the company of refunds. Every field:
            # a field Odoo adds later is guarded by itself.
            raise AccessError(
                _(
                    "Payment transactions are written by Odoo and the payment "
                    "provider only: refunds are checked against them. Refund the "
                    "payment, or ask the provider, instead of changing it."
                )
            )
        return super().write(vals)

    @api.model
    def _check_user_create_values(self, vals):
        """Raise unless a user (not the server) may create a transaction with `vals`:
        a draft payment only, as account_payment lets billing users create one. A
        refund transaction becomes a refund record (`_refund_proof_link_refunds`) and
        a confirmed one would be refundable: both would skip the request path and the
        provider."""
        if vals.get("operation") == "refund" or vals.get("refund_id"):
            raise AccessError(
                _(
                    "Refund transactions are created by a refund request or by the "
                    "payment provider, not by hand: refund the payment instead."
                )
            )
        if set(vals) & USER_CREATE_FORBIDDEN_FIELDS or vals.get("state", "draft") != (
            "draft"
        ):
            raise AccessError(
                _(
                    "A payment transaction is created as a draft: its state, date, "
                    "origin and descriptor are set by Odoo and the payment provider, "
                    "not by hand."
                )
            )

    # === ACTION METHODS === #

    def action_refund(self, amount_to_refund=None):
        """Override of `payment`: every refund is a `payment.refund`, within the cap.

        The whole request goes through `_request_refund`, which checks the right, locks
        the source, validates the amount and only then asks the provider. All
        transactions are checked before any of them is sent, so a bad one leaves nothing
        written.

        :param float amount_to_refund: The amount to refund; None refunds what remains.
        :return: True (Odoo returns None, which XML-RPC cannot marshal: the call then
                 failed after the refund was made, and the request was rolled back).
        """
        self._check_refund_rights()
        for tx in self:
            tx._check_refund_request(amount_to_refund)
        for tx in self:
            tx._request_refund(amount_to_refund=amount_to_refund)
        return True

    def action_open_refund_wizard(self):
        self.ensure_one()
        self._check_refund_rights()
        self._check_refundable()
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund %(reference)s", reference=self.reference),
            "res_model": "payment.refund.request",
            "view_mode": "form",
            "target": "new",
            "context": {"default_source_transaction_id": self.id},
        }

    def action_view_refund_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "refund_proof.payment_refund_action"
        )
        action["domain"] = [("source_transaction_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # === BUSINESS METHODS === #

    def _check_refund_rights(self):
        """Raise unless the current user may refund these transactions (group, read).

        Runs before anything is written or sent. Sudo environments (crons,
        provider glue) pass."""
        if self.env.su:
            return
        if not self.env.user.has_group(GROUP_USER):
            raise AccessError(
                _(
                    "You are not allowed to refund payments. Ask an administrator for "
                    "the "
                    '"Refunds: User" access right.'
                )
            )
        self.check_access("read")

    def _check_refundable(self):
        """Raise unless this transaction can be the source of a refund.

        Note: self.ensure_one()
        """
        self.ensure_one()
        if self.operation == "refund":
            raise ValidationError(
                _(
                    "%(reference)s is itself a refund and cannot be refunded.",
                    reference=self.reference,
                )
            )
        if self.state != "done":
            raise ValidationError(_("Only confirmed transactions can be refunded."))
        self._check_not_charged_back()

    def _check_refund_request(
        self, amount, manual=False, credit_note=None, exclude=None
    ):
        """The one check of a refund about to be decided, whatever asks for it: a
        request (`_request_refund`, every entry point), a retry, an approval, a credit
        note's refund. A rule every way money leaves must meet goes here, and nowhere
        else.

        In this order: the caller's right, the payment (confirmed, not a refund, not
        charged back), the provider (enabled, unless the refund is paid outside it),
        the payment's row lock, the amount (a number, positive, within what remains,
        as the provider supports it, whole under an inquiry; for a refund decided
        again, not both a failed refund and its replacement), then the credit note it
        pays back (its open amount, under its own lock). The user's limits and the
        refund policy decide afterwards whether it waits for approval
        (`payment.refund._get_approval_reasons`).

        Note: self.ensure_one()

        :param float amount: The amount to refund, or None for what remains.
        :param bool manual: Whether the refund is paid outside the provider.
        :param recordset credit_note: The credit note (`account.move`) it pays back,
            in the environment whose access is checked (sudo when the requester's
            choice is checked again).
        :param recordset exclude: The `payment.refund` being decided (approval, retry),
            whose own reservation is not counted.
        :return: The amount to refund, rounded to the currency.
        :rtype: float
        """
        self.ensure_one()
        self._check_refund_rights()
        self._check_refundable()
        if not manual:
            self._ensure_provider_is_not_disabled()
        self._lock_for_refund()
        if exclude:
            # A failed refund and the refund replacing it never both go out
            # (models/payment_refund_payout.py).
            exclude._check_replacement()
        amount = self._check_refund_amount(amount, manual=manual, exclude=exclude)
        if credit_note:
            # Locks the credit note too: its open amount caps what is refunded on it
            # (models/account_move.py).
            credit_note._refund_proof_check_refund(
                self, amount, manual=manual, exclude=exclude
            )
        return amount

    def _get_refund_support(self):
        """How the provider and payment method refund: none, full_only or partial.

        Decided by account_payment's own rule (its refund wizard's
        `_compute_support_refund`), so that both refund dialogs agree.

        Note: self.ensure_one()
        """
        self.ensure_one()
        # In sudo mode: the provider and its payment method are configuration that
        # billing users may not read.
        wizard = (
            self.env["payment.refund.wizard"].sudo().new({"transaction_id": self.id})
        )
        return wizard.support_refund

    def _lock_for_refund(self):
        """Lock the source rows while deciding what is refundable, and write on them.

        One UPDATE does both: its row lock serialises concurrent refund requests of the
        same payment (waiting at most REFUND_LOCK_TIMEOUT), and writing the row makes a
        request whose snapshot predates a concurrent committed refund fail with a
        serialization error instead of deciding on stale data. Request handlers
        (`odoo.service.model.retrying`) retry both errors with a fresh snapshot, so a
        double click ends as one refund and one clear refusal.
        """
        self._lock_rows_for_refund("payment_transaction", self.ids)

    def _lock_rows_for_refund(self, table, ids):
        """Lock rows of `table` by writing on them (see `_lock_for_refund`), waiting
        at most REFUND_LOCK_TIMEOUT."""
        # The UPDATE takes the row lock (FOR NO KEY UPDATE: no key column changes) and
        # fails on a stale snapshot.
        execute_lock(
            self.env,
            SQL(
                "UPDATE %s SET write_date = write_date WHERE id IN %s",
                SQL.identifier(table),
                tuple(ids),
            ),
        )

    def _get_refund_reserved_amounts(self, exclude=None):
        """{source transaction id: amount held by its refunds in RESERVING_STATES}.

        :param recordset exclude: `payment.refund` records not to count (one being
                                  approved).
        """
        if not self.ids:
            return {}
        self.env["payment.refund"].flush_model(
            ["source_transaction_id", "state", "amount"]
        )
        groups = (
            self.env["payment.refund"]
            .sudo()
            ._read_group(
                [
                    ("source_transaction_id", "in", self.ids),
                    ("state", "in", RESERVING_STATES),
                    ("id", "not in", exclude.ids if exclude else []),
                ],
                ["source_transaction_id"],
                ["amount:sum"],
            )
        )
        return {tx.id: amount for tx, amount in groups}

    def _check_refund_amount(self, amount, manual=False, exclude=None):
        """Validate an amount to refund against what remains and the provider.

        Call it with the source locked (`_lock_for_refund`).

        :param float amount: The amount to refund, or None for what remains.
        :param bool manual: Whether the refund is paid outside the provider.
        :param recordset exclude: A `payment.refund` whose own reservation is not
                                  counted.
        :return: The amount to refund, rounded to the currency.
        :rtype: float
        """
        self.ensure_one()
        if amount is not None and (
            isinstance(amount, bool)
            or not isinstance(amount, (int, float))
            or not math.isfinite(amount)
        ):
            # RPC clients send any JSON value: true would be refunded as 1.00.
            raise ValidationError(_("The amount to refund must be a number."))
        currency = self.currency_id
        remaining = currency.round(
            self.amount
            - self._get_refund_reserved_amounts(exclude=exclude).get(self.id, 0.0)
        )

        def fmt(value):
            return format_amount(self.env, value, currency)

        if currency.compare_amounts(remaining, 0) <= 0:
            raise ValidationError(
                _(
                    "%(reference)s has already been fully refunded, or the rest is "
                    "awaiting approval.",
                    reference=self.reference,
                )
            )
        amount = remaining if amount is None else currency.round(amount)
        if currency.compare_amounts(amount, 0) <= 0:
            raise ValidationError(_("The amount to refund must be positive."))
        if currency.compare_amounts(amount, remaining) > 0:
            raise ValidationError(
                _(
                    "You cannot refund %(amount)s on %(reference)s: only %(remaining)s "
                    "can still be refunded (paid %(paid)s, already refunded or "
                    "reserved %(reserved)s).",
                    amount=fmt(amount),
                    reference=self.reference,
                    remaining=fmt(remaining),
                    paid=fmt(self.amount),
                    reserved=fmt(self.amount - remaining),
                )
            )
        self._check_refund_inquiry(amount, remaining)
        if not manual:
            support = self._get_refund_support()
            provider_name = self.sudo().provider_id.name
            if support == "none":
                raise UserError(
                    _(
                        "%(provider)s cannot refund this payment automatically. Pay "
                        "the customer back by other means and record it as a manual "
                        "refund.",
                        provider=provider_name,
                    )
                )
            if support == "full_only" and currency.compare_amounts(amount, remaining):
                raise UserError(
                    _(
                        "%(provider)s only refunds the full remaining amount "
                        "(%(remaining)s).",
                        provider=provider_name,
                        remaining=fmt(remaining),
                    )
                )
        return amount

    def _check_manual_refund_date(self, refund_date):
        """The date a manual refund was paid on, checked: between the payment (to the
        minute) and now. A date outside would print on the proof a refund paid
        before the payment, or in the future.

        Note: self.ensure_one()

        :param datetime refund_date: The date given, or None for now.
        :return: The date (UTC, naive), or False for now.
        """
        self.ensure_one()
        if not refund_date:
            return False
        refund_date = fields.Datetime.to_datetime(refund_date)
        paid_on = (self.last_state_change or self.create_date).replace(
            second=0, microsecond=0
        )
        if refund_date < paid_on or refund_date > fields.Datetime.now():
            raise ValidationError(
                _(
                    "A manual refund is paid between the payment (%(paid_on)s) and "
                    "now: %(date)s is not.",
                    paid_on=format_datetime(self.env, paid_on),
                    date=format_datetime(self.env, refund_date),
                )
            )
        return refund_date

    def _prepare_refund_values(self, amount, **values):
        self.ensure_one()
        return {
            "source_transaction_id": self.id,
            "amount": amount,
            "requested_by_id": self.env.user.id,
            **values,
        }

    def _request_refund(
        self,
        amount_to_refund=None,
        reason=None,
        note=None,
        arn=None,
        manual=False,
        manual_method=None,
        refund_date=None,
        credit_note=None,
        create_credit_note=False,
        replaced_refund=None,
        payout_account=None,
        approval=None,
    ):
        """The one path of a refund decided in Odoo; every entry point ends here.

        In this order: the caller's right, the source's state, a lock on the source, the
        amount against what remains and what the provider supports, the decision "issue
        now" or "needs approval" (user limits, refund policy), the `payment.refund`
        record, then (when issued through the provider) the provider request.

        Note: self.ensure_one()

        :param float amount_to_refund: The amount to refund; None refunds what remains.
        :param recordset reason: The `payment.refund.reason`, if any.
        :param str note: A free note.
        :param str arn: The ARN or bank reference, when known.
        :param bool manual: Whether the refund is paid outside the provider (cash,
                            wire...); it is then done at once, on `refund_date`
                            (default: now).
        :param str manual_method: How a manual refund was paid.
        :param datetime refund_date: When a manual refund was paid.
        :param recordset credit_note: The customer credit note (`account.move`) the
                                      refund pays back, if any: the refund is capped by
                                      its open amount, and its payment is reconciled
                                      with it when done.
        :param bool create_credit_note: Create the invoice's credit note (the full
                                        refund of a payment that alone paid it) and
                                        refund it, as with ``credit_note``.
        :param recordset replaced_refund: The failed `payment.refund` this one
                                          replaces (the customer's choice of another
                                          way to be paid back).
        :param dict payout_account: The bank account the customer gave for a manual
                                    bank transfer (`holder`, `iban`, `bic`): stored on
                                    the refund, which then always waits for a
                                    manager's approval (`_get_approval_reasons`).
        :param recordset approval: A record standing for a manager's approval given
            before the request (a bulk refund's line whose batch another manager
            approved, `payment.refund.batch.line`). It checks itself against the
            database for this payment, this amount and the current user
            (`_refund_proof_get_approval(source, amount)`, which raises when it does
            not stand) and returns the approving manager: the refund is issued as
            approved by them whatever the requester's limits say, and does not
            count in their daily total. An argument, never a context key: no RPC
            client can pass it (private method).
        :return: The refund: done, pending or failed when issued; to_approve when the
                 user's limits or the refund policy require a manager's approval
                 (nothing is sent).
        :rtype: recordset of `payment.refund`
        """
        self.ensure_one()
        if credit_note and create_credit_note:
            raise UserError(
                _("Choose the credit note to refund or create one, not both.")
            )
        if credit_note:
            # Read as the requester, whichever environment it was passed in.
            credit_note = credit_note.with_env(self.env)
        if manual:
            refund_date = self._check_manual_refund_date(refund_date)
        amount = self._check_refund_request(
            amount_to_refund, manual=manual, credit_note=credit_note
        )
        if create_credit_note:
            # Odoo's reversal wizard makes it, then it is checked as a chosen one
            # (models/payment_transaction_credit_note.py).
            credit_note = self._refund_proof_create_credit_note(
                amount, reason=reason, manual=manual
            )
            credit_note._refund_proof_check_refund(self, amount, manual=manual)
        Refund = self.env["payment.refund"]
        Refund._lock_user_limits()
        approval_reasons = Refund._get_approval_reasons(
            self, amount, reason, payout_account=payout_account
        )
        approval_values = {}
        if approval and not payout_account:
            # Checked by the approval itself, from the database: the approved batch
            # of this payment and amount, started by this user. Approved, the refund
            # does not count in the requester's daily total.
            approver = approval._refund_proof_get_approval(self, amount)
            approval_values = {
                "approved_by_id": approver.id,
                "approval_date": fields.Datetime.now(),
                "approval_reasons": "\n".join(approval_reasons) or False,
            }
            approval_reasons = []
        values = self._prepare_refund_values(
            amount,
            reason_id=reason and reason.id,
            note=note,
            arn=arn,
            origin="manual" if manual else "odoo",
            manual_method=manual_method if manual else False,
            refund_date=refund_date if manual else False,
            credit_note_id=credit_note.id if credit_note else False,
            state="to_approve" if approval_reasons else "draft",
            approval_reasons="\n".join(approval_reasons) or False,
            **(
                {}
                if approval_reasons or approval_values
                else Refund._get_limit_values()
            ),
            **Refund._prepare_payout_values(replaced_refund, payout_account),
        )
        values.update(approval_values)
        # In sudo mode because refund users need not have create access on every related
        # model (sequence, followers); the right was checked above.
        # No "created" message: the record says who requested it and when, and its
        # chatter logs each state it goes through.
        refund = (
            self.env["payment.refund"]
            .sudo()
            .with_context(mail_create_nolog=True)
            .create(values)
            .with_env(self.sudo().env)  # Not for the records created from here on.
        )
        if credit_note:
            # Its accountants read there why it is refunded (models/account_move.py).
            credit_note._refund_proof_log_refund_request(refund)
        # Awaiting approval, the managers were asked at its creation (`payment.refund.
        # _on_state_change`) and nothing is sent.
        if not approval_reasons:
            refund._execute()
        return refund.sudo(False)

    def _refund_proof_link_refunds(self):
        """Attach refund transactions to their `payment.refund`, creating it when the
        refund did not start in Odoo (a provider's webhook, a refund made in the
        provider's dashboard, or refunds older than this module). Never raises.
        """
        refund_id = self.env.context.get(SENDING_REFUND_KEY)
        for tx in self:
            if tx.refund_id or tx.operation != "refund" or not tx.source_transaction_id:
                continue
            # In sudo mode: the link is the server's record, whoever's notification or
            # request created the transaction (users may not write it).
            if refund_id:
                tx.sudo().refund_id = refund_id
                tx._refund_proof_link_credit_note()
                continue
            # The answer to a refund sent in Odoo whose outcome was unknown, else a
            # refund made outside Odoo.
            refund = tx._get_refund_of_unknown_outcome()
            if refund:
                body = _(
                    "The provider reported the refund %(reference)s: this is its "
                    "outcome.",
                    reference=tx.reference,
                )
            else:
                refund = (
                    self.env["payment.refund"]
                    .sudo()
                    .create(
                        {
                            "source_transaction_id": tx.source_transaction_id.id,
                            "amount": abs(tx.amount),
                            "origin": "provider",
                            "requested_by_id": False,
                            "state": "pending",
                        }
                    )
                )
                body = _(
                    "Refund %(reference)s reported by %(provider)s.",
                    reference=tx.reference,
                    provider=tx.provider_id.name,
                )
            tx.sudo().refund_id = refund
            tx._refund_proof_link_credit_note()
            refund._sync_state_from_attempts()
            refund.message_post(body=body)
            if refund.origin == "provider":
                tx.source_transaction_id._refund_proof_release_outrun_refunds(refund)

    def _refund_proof_release_outrun_refunds(self, outside_refund):
        """Cancel the refunds of this payment not yet sent (draft, awaiting approval)
        that a refund made outside Odoo left above what was paid, the newest first,
        telling their requesters why.

        The provider's refund is the truth and is recorded whatever the cap; a request
        reserved in Odoo while it was unknown (made in the dashboard, or whose request
        Odoo rolled back after the provider made it) can no longer be paid, and an
        approver must not be asked to. Refunds already sent stay: the provider refuses
        what is beyond its charge.

        :param recordset outside_refund: The `payment.refund` made outside Odoo.
        """
        self.ensure_one()
        currency = self.currency_id
        # A webhook may hold it already (the fake PSP's and the bridges' handlers).
        self._lock_for_refund()
        excess = currency.round(
            self._get_refund_reserved_amounts().get(self.id, 0.0) - self.amount
        )
        if currency.compare_amounts(excess, 0) <= 0:
            return
        # Skipped if locked: a manager is deciding it now, and the decision checks
        # the cap again under this payment's lock (`_check_refund_request`); waiting
        # would deadlock (a decision locks its refund, then the payment).
        self.env["payment.refund"].flush_model(["source_transaction_id", "state"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM payment_refund WHERE source_transaction_id = %s "
                "AND state IN ('draft', 'to_approve') ORDER BY id DESC "
                "FOR NO KEY UPDATE SKIP LOCKED",
                self.id,
            )
        )
        unsent = (
            self.env["payment.refund"]
            .sudo()
            .browse([row[0] for row in self.env.cr.fetchall()])
        )
        reason = _(
            "%(provider)s reported a refund of %(amount)s made outside this request "
            "(%(refund)s): %(payment)s cannot also refund this one without refunding "
            "more than was paid.",
            provider=self.sudo().provider_id.name,
            amount=format_amount(self.env, outside_refund.amount, currency),
            refund=outside_refund.name,
            payment=self.reference,
        )
        for refund in unsent:
            if currency.compare_amounts(excess, 0) <= 0:
                break
            # In sudo mode: the server's decision, made while recording what the
            # provider reports (no user made it).
            refund._set_state(
                "cancelled",
                cancelled_by_id=False,
                cancel_date=fields.Datetime.now(),
                cancel_reason=reason,
            )
            refund.message_post(
                body=reason,
                partner_ids=refund.requested_by_id.partner_id.ids,
            )
            excess = currency.round(excess - refund.amount)

    def _get_refund_of_unknown_outcome(self):
        """The refund of the source that this refund transaction reported by the
        provider answers: one sent without an attempt recorded, the same amount,
        either still of unknown outcome or since marked refunded by a manager (the
        oldest of unknown outcome first). Empty when there is none.

        Note: self.ensure_one()
        """
        self.ensure_one()
        candidates = (
            self.env["payment.refund"]
            .sudo()
            .search(
                [
                    ("source_transaction_id", "=", self.source_transaction_id.id),
                    ("origin", "=", "odoo"),
                    ("state", "in", ("pending", "done")),
                    ("transaction_ids", "=", False),
                ],
                order="id",
            )
        )
        return candidates.filtered(
            lambda r: not r.currency_id.compare_amounts(r.amount, abs(self.amount))
        ).sorted(lambda r: not r.outcome_unknown)[:1]

    def _handle_notification_data(self, provider_code, notification_data):
        """Override of `payment`: the provider's notification is processed in sudo
        mode, whoever delivered it (see `_update_state`)."""
        if not self.env.su:
            # A user's action passing a notification on (the demo provider's test
            # buttons, public over RPC): a refund's outcome is the provider's to tell
            # (its routes run in sudo mode) or a refund manager's to decide (Mark
            # Refunded / Not Refunded, after checking the provider), never a button's.
            tx = self.sudo()._get_tx_from_notification_data(
                provider_code, notification_data
            )
            if tx.operation == "refund":
                raise AccessError(
                    _(
                        "The outcome of refund %(reference)s is told by the payment "
                        "provider, or decided by a refund manager on its refund.",
                        reference=tx.reference,
                    )
                )
        # In sudo mode because users write no transaction (`write`): what the
        # provider reports is the provider's record. Private: reached through the
        # providers' routes and actions (the demo provider's test buttons among them),
        # never over RPC.
        tx = super(PaymentTransaction, self.sudo())._handle_notification_data(
            provider_code, notification_data
        )
        return tx.with_env(self.env)

    def _post_process(self):
        """Override of `payment`: post-processing writes the transaction in sudo
        mode, whoever runs it (see `_update_state`)."""
        # In sudo mode because users write no transaction; Odoo runs it in sudo from
        # its cron and routes, and a user's call reaches it only through those flows.
        return super(PaymentTransaction, self.sudo())._post_process()

    def _update_state(self, allowed_states, target_state, state_message):
        """Override of `payment` to let each refund follow the state of its attempts.

        The state is written in sudo mode, whoever calls Odoo's state machine
        (`_set_done`, `_set_error`...): users write no transaction (`write`), and the
        state machine is private, reached only through Odoo's and the providers'
        flows.
        """
        # In sudo mode: see above.
        updated = (
            super(PaymentTransaction, self.sudo())
            ._update_state(allowed_states, target_state, state_message)
            .with_env(self.env)
        )
        refunds = updated.filtered(lambda tx: tx.operation == "refund").refund_id
        # A refund being sent syncs itself once the provider call returns
        # (`payment.refund._send_to_provider`), outside the call's savepoint.
        refunds = refunds.filtered(
            lambda r: r.id != self.env.context.get(SENDING_REFUND_KEY)
        )
        if refunds:
            try:
                with superuser_savepoint(self.env):
                    refunds.sudo()._sync_state_from_attempts()
            except Exception:  # The provider's state change must never be lost.
                _logger.exception("Could not update refunds %s", refunds.ids)
        return updated

    def _process_notification_data(self, notification_data):
        """Override of `payment` to let provider glue fill the ARN of a refund."""
        res = super()._process_notification_data(notification_data)
        self._refund_proof_record_notification_arn(notification_data)
        return res

    def _refund_proof_record_notification_arn(self, notification_data):
        """Record on this refund attempt's refund the ARN its bridge finds in the
        provider's notification (the hook `_get_refund_arn_from_notification`), while
        the refund has none. A service for bridges that process a refund's
        notification without Odoo's `_process_notification_data` (PayPal).

        Note: self.ensure_one()
        """
        self.ensure_one()
        if self.operation != "refund" or not self.refund_id or self.refund_id.arn:
            return
        # A hook of the bridges (models/payment_transaction_bridge.py).
        arn = self._get_refund_arn_from_notification(notification_data)
        if arn:
            # Invalid ones are logged and ignored (`_record_reference`).
            with superuser_savepoint(self.env):
                self.refund_id.sudo()._record_reference(arn)
