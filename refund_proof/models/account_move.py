"""Credit notes refunded to the customer: the accounting side of refund_proof.

A posted customer credit note whose reversed invoice was paid through payment
transactions can be refunded to the customer's payment method (wizard
`payment.refund.credit.note`). Each refund goes through the request path
(`payment.transaction._request_refund`, with ``credit_note``), which calls
`_refund_proof_check_refund` here: the credit note's open amount caps its refunds,
under a row lock. The refund's attempts carry the credit note as their invoice
(`payment.transaction._refund_proof_link_credit_note`), so that account_payment's
post-processing reconciles the refund's payment with it: no move line is written by
refund_proof.
"""

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import plaintext2html
from odoo.tools.misc import format_amount

from ..const import GROUP_USER, RESERVING_STATES

# Refunds of a credit note whose payment does not exist yet: money may still move (or
# has moved and is not post-processed yet), and the post-processing would reconcile
# it with the credit note (account_payment posts a draft one first).


class AccountMove(models.Model):
    _inherit = "account.move"

    refund_proof_refund_ids = fields.One2many(
        comodel_name="payment.refund",
        inverse_name="credit_note_id",
        string="Refunds to Customer",
        readonly=True,
        groups=f"{GROUP_USER},account.group_account_readonly",
    )
    refund_proof_refund_count = fields.Integer(
        string="Refunds",
        compute="_compute_refund_proof_refund_count",
        groups=f"{GROUP_USER},account.group_account_readonly",
    )
    refund_proof_can_refund = fields.Boolean(
        string="Can Be Refunded to the Customer",
        compute="_compute_refund_proof_can_refund",
        # In sudo mode: whether the button shows is not a secret, and billing users,
        # who see credit notes, do not read refunds and transactions.
        compute_sudo=True,
        help="A posted customer credit note whose invoice was paid through payment "
        "transactions, with an amount left to refund on them: refund users refund it "
        "to the customer's payment method.",
    )

    # === COMPUTE METHODS === #

    def _compute_refund_proof_refund_count(self):
        counts = dict(
            self.env["payment.refund"]._read_group(
                [("credit_note_id", "in", self.ids)], ["credit_note_id"], ["__count"]
            )
        )
        for move in self:
            move.refund_proof_refund_count = counts.get(move, 0)

    @api.depends("move_type", "state", "amount_residual", "reversed_entry_id")
    def _compute_refund_proof_can_refund(self):
        for move in self:
            move.refund_proof_can_refund = (
                bool(move.id) and not move._refund_proof_get_refund_blocker()
            )

    # === CRUD / ACTION METHODS === #

    def button_draft(self):
        """Override of `account`: no reset while a refund of the credit note has no
        payment yet (its post-processing would post the credit note again)."""
        self._refund_proof_check_no_refund_in_flight()
        return super().button_draft()

    def button_cancel(self):
        """Override of `account`: no cancel while a refund of the credit note has no
        payment yet."""
        self._refund_proof_check_no_refund_in_flight()
        return super().button_cancel()

    def action_refund_proof_refund_to_customer(self):
        """Open the refund of this credit note to the customer's payment method."""
        self.ensure_one()
        self.env["payment.transaction"]._check_refund_rights()
        self.check_access("read")
        # In sudo mode: refund users read the credit note, not necessarily the
        # refunds and transactions of others that decide what is left.
        blocker = self.sudo()._refund_proof_get_refund_blocker()
        if blocker:
            raise UserError(blocker)
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund %(name)s to the Customer", name=self.name),
            "res_model": "payment.refund.credit.note",
            "view_mode": "form",
            "target": "new",
            "context": {"default_credit_note_id": self.id},
        }

    def action_refund_proof_view_refunds(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "refund_proof.payment_refund_action"
        )
        action["domain"] = [("credit_note_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # === BUSINESS METHODS === #

    def _refund_proof_get_source_transactions(self):
        """The payments that paid the invoice this credit note reverses, in its
        currency: the transactions its refunds are made on (refunded or not).

        Note: self.ensure_one()

        :rtype: recordset of `payment.transaction`, in sudo mode
        """
        self.ensure_one()
        move = self.sudo()
        invoice = move.reversed_entry_id
        if move.move_type != "out_refund" or invoice.move_type != "out_invoice":
            return self.env["payment.transaction"].sudo()
        return invoice.transaction_ids.filtered(
            lambda tx: (
                tx.state == "done"
                and tx.operation not in ("refund", "validation")
                and tx.currency_id == move.currency_id
                and tx.company_id == move.company_id
            )
        )

    def _refund_proof_get_open_amount(self, exclude=None):
        """What is left to refund on this credit note: its residual, minus its refunds
        that hold an amount (`RESERVING_STATES`) and are not reconciled with it yet
        (awaiting approval, in flight, or done and not post-processed).

        Note: self.ensure_one()

        :param recordset exclude: A `payment.refund` not to count (one being
                                  approved or retried).
        :rtype: float
        """
        self.ensure_one()
        move = self.sudo()
        currency = move.currency_id
        refunds = move.refund_proof_refund_ids.filtered(
            lambda r: r.state in RESERVING_STATES
        )
        if exclude:
            refunds -= exclude
        # What Odoo reconciled of their payments with the credit note is already out
        # of its residual: the credit note's receivable line is the credit side.
        payment_lines = refunds.transaction_ids.payment_id.move_id.line_ids
        reconciled = sum(
            partial.credit_amount_currency
            for partial in move.line_ids.matched_debit_ids
            if partial.debit_move_id in payment_lines
        )
        unreconciled = sum(refunds.mapped("amount")) - reconciled
        return max(currency.round(move.amount_residual - unreconciled), 0.0)

    def _refund_proof_get_refund_blocker(self):
        """Why this credit note cannot be refunded to the customer now, or False.

        Note: self.ensure_one()

        :rtype: str | bool
        """
        self.ensure_one()
        move = self.sudo()
        if move.move_type != "out_refund" or move.state != "posted":
            return _(
                "Only posted customer credit notes can be refunded to the customer."
            )
        sources = move._refund_proof_get_source_transactions()
        if not sources:
            return _(
                "%(name)s cannot be refunded to the customer: the invoice it reverses "
                "was not paid through a payment provider. Register its payment "
                "instead.",
                name=move.name,
            )
        currency = move.currency_id
        if not any(
            currency.compare_amounts(tx.refund_remaining_amount, 0) > 0
            for tx in sources
        ):
            return _(
                "The payments of %(invoice)s have already been fully refunded, or the "
                "rest is awaiting approval.",
                invoice=move.reversed_entry_id.name,
            )
        if currency.compare_amounts(move._refund_proof_get_open_amount(), 0) <= 0:
            return _(
                "%(name)s has nothing left to refund: it is paid, reconciled, or its "
                "refunds are in progress.",
                name=move.name,
            )
        return False

    def _refund_proof_get_refund_split(self, amount):
        """How a refund of `amount` on this credit note is spread over the payments of
        its invoice: largest refundable first, one refund each.

        Note: self.ensure_one()

        :param float amount: The amount to refund.
        :return: [(transaction, amount)], transactions in sudo mode.
        :rtype: list[tuple]
        :raise UserError: When the payments cannot refund that much.
        """
        self.ensure_one()
        currency = self.currency_id
        sources = self._refund_proof_get_source_transactions()
        # The refunds made in this request count (the cache may predate them).
        sources.invalidate_recordset(["refund_remaining_amount"])
        sources = sources.filtered(
            lambda tx: currency.compare_amounts(tx.refund_remaining_amount, 0) > 0
        ).sorted(lambda tx: (-tx.refund_remaining_amount, tx.id))
        left = currency.round(amount)
        split = []
        for tx in sources:
            if currency.compare_amounts(left, 0) <= 0:
                break
            part = currency.round(min(tx.refund_remaining_amount, left))
            split.append((tx, part))
            left = currency.round(left - part)
        if currency.compare_amounts(left, 0) > 0:
            refundable = sum(sources.mapped("refund_remaining_amount"))
            raise UserError(
                _(
                    "You cannot refund %(amount)s on %(name)s: the payments of "
                    "%(invoice)s can only refund %(refundable)s more.",
                    amount=format_amount(self.env, amount, currency),
                    name=self.name,
                    invoice=self.sudo().reversed_entry_id.name,
                    refundable=format_amount(self.env, refundable, currency),
                )
            )
        return split

    def _refund_proof_lock(self):
        """Lock the credit note's row while deciding what is left to refund on it (the
        same UPDATE as `payment.transaction._lock_for_refund`): two refunds of one
        credit note, even on different payments, are decided one after the other."""
        self.env["payment.transaction"]._lock_rows_for_refund("account_move", self.ids)

    def _refund_proof_get_link_error(self, source, manual=False):
        """Why a refund on `source` may not pay back this credit note, or False: the
        one list of the rules, read by the request path (`_refund_proof_check_refund`)
        and by the refund wizards' proposals
        (`payment.transaction._refund_proof_get_open_credit_notes`).

        Note: self.ensure_one()

        :param recordset source: The `payment.transaction` refunded.
        :param bool manual: Whether the refund is paid outside the provider.
        :rtype: str | bool
        """
        self.ensure_one()
        move = self.sudo()
        if move.move_type != "out_refund" or move.state != "posted":
            return _(
                "Only posted customer credit notes can be refunded to the customer."
            )
        if manual:
            # No payment comes out of a manual refund: nothing would reconcile it.
            return _(
                "A refund paid outside the payment provider creates no payment in "
                "Odoo: register the payment of %(name)s instead.",
                name=move.name,
            )
        source = source.sudo()
        if move.commercial_partner_id != source.partner_id.commercial_partner_id:
            # Its payment would be the payer's, reconciled with another's credit note.
            return _(
                "%(name)s is a credit note of %(partner)s, not of the customer who "
                "made %(reference)s.",
                name=move.name,
                partner=move.commercial_partner_id.display_name,
                reference=source.reference,
            )
        if source not in move._refund_proof_get_source_transactions():
            return _(
                "%(reference)s did not pay %(invoice)s, which %(name)s reverses: "
                "it cannot pay back this credit note.",
                reference=source.reference,
                invoice=move.reversed_entry_id.name or "-",
                name=move.name,
            )
        return False

    def _refund_proof_check_refund(self, source, amount, manual=False, exclude=None):
        """Raise unless a refund of `amount` on `source` may pay back this credit
        note; lock the credit note. Called by the request path with the source locked
        (`payment.transaction._request_refund`), and again on approval and retry.

        Note: self.ensure_one()

        :param recordset source: The `payment.transaction` refunded.
        :param float amount: The amount to refund, rounded.
        :param bool manual: Whether the refund is paid outside the provider.
        :param recordset exclude: A `payment.refund` whose own amount is not counted.
        """
        self.ensure_one()
        if not self.env.su:
            self.check_access("read")
        move = self.sudo()
        error = move._refund_proof_get_link_error(source, manual=manual)
        if error:
            raise UserError(error)
        move._refund_proof_check_open_amount(amount, exclude=exclude)

    def _refund_proof_check_open_amount(self, amount, exclude=None):
        """Lock this credit note and raise unless `amount` is within what is left to
        refund on it (its open amount, minus its refunds in progress): one refund's
        part (`_refund_proof_check_refund`) or the whole of the credit note's refund
        wizard, split over several payments.

        Note: self.ensure_one()

        :param float amount: The amount to refund, rounded.
        :param recordset exclude: A `payment.refund` whose own amount is not counted.
        """
        self.ensure_one()
        # In sudo mode: what is left to refund counts refunds the reader may not read;
        # the caller checked the reader's access to the credit note.
        move = self.sudo()
        move._refund_proof_lock()
        currency = move.currency_id
        open_amount = move._refund_proof_get_open_amount(exclude=exclude)
        if currency.compare_amounts(amount, open_amount) > 0:
            raise UserError(
                _(
                    "You cannot refund %(amount)s on %(name)s: only %(open)s of it is "
                    "left to refund (its open amount, minus its refunds in progress).",
                    amount=format_amount(self.env, amount, currency),
                    name=move.name,
                    open=format_amount(self.env, open_amount, currency),
                )
            )

    def _refund_proof_log_refund_request(self, refund):
        """Post on this credit note's chatter the refund requested to pay it back,
        with its reason and note (the requester's text: escaped).

        Note: self.ensure_one()

        :param recordset refund: The `payment.refund` just requested.
        """
        self.ensure_one()
        refund = refund.sudo()
        body = Markup("<p>%s</p>") % _(
            "%(user)s requested %(refund)s: %(amount)s of this credit note refunded "
            "to the customer on %(payment)s.",
            user=refund.requested_by_id.name,
            refund=refund._get_html_link(),
            amount=format_amount(self.env, refund.amount, refund.currency_id),
            payment=refund.source_transaction_id.reference,
        )
        if refund.reason_id:
            body += Markup("<p>%s</p>") % _(
                "Reason: %(reason)s", reason=refund.reason_id.name
            )
        if refund.note:
            body += Markup("<p>%s</p>%s") % (_("Note:"), plaintext2html(refund.note))
        # In sudo mode: refund users need not write on credit notes; the request
        # path checked their right to refund this one.
        self.sudo().message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_note"
        )

    def _refund_proof_check_no_refund_in_flight(self):
        """Raise while a refund of one of these credit notes has no payment yet."""
        if not self:
            return
        # In sudo mode: accountants reset or cancel credit notes whatever refunds
        # they may read.
        refunds = (
            self.env["payment.refund"]
            .sudo()
            .search(
                [
                    ("credit_note_id", "in", self.ids),
                    ("state", "in", RESERVING_STATES),
                ]
            )
            .filtered(lambda r: not r.transaction_ids.payment_id)
        )
        if refunds:
            raise UserError(
                _(
                    "%(name)s is being refunded to the customer (%(refunds)s): it "
                    "cannot be reset to draft or cancelled until the refund is "
                    "settled or cancelled.",
                    name=refunds[0].credit_note_id.name,
                    refunds=", ".join(refunds.mapped("name")),
                )
            )
