"""The credit note of a refund made from a payment: the refund wizards of the
transaction and of account_payment propose the open credit notes of the paid
invoice (`_refund_proof_get_open_credit_notes`), or, for the full refund of a payment
that alone paid its invoice, have the request path create one through Odoo's
reversal wizard (`_refund_proof_create_credit_note`). Either way the refund goes
through `_request_refund` with ``credit_note``: the same cap, lock and
reconciliation as a refund from the credit note (models/account_move.py).
"""

from odoo import Command, _, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount

# A credit note is created only for a payment in one of these states of its invoice.
INVOICE_PAID_STATES = ("paid", "in_payment")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # === BUSINESS METHODS === #

    def _refund_proof_get_open_credit_notes(self):
        """The credit notes a refund of this payment may pay back: posted customer
        credit notes of its customer, reversing an invoice it paid, with an amount
        left to refund (`account.move._refund_proof_get_link_error` and
        `_refund_proof_get_open_amount`, the rules the request path applies).

        Note: self.ensure_one()

        :rtype: recordset of `account.move`, in sudo mode (filter by what the user
                may read before showing them)
        """
        self.ensure_one()
        tx = self.sudo()
        if tx.operation in ("refund", "validation") or tx.state != "done":
            return self.env["account.move"].sudo()
        candidates = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("move_type", "=", "out_refund"),
                    ("state", "=", "posted"),
                    ("reversed_entry_id", "in", tx.invoice_ids.ids),
                    ("company_id", "=", tx.company_id.id),
                ],
                order="id",
            )
        )
        return candidates.filtered(
            lambda move: (
                not move._refund_proof_get_link_error(tx)
                and move.currency_id.compare_amounts(
                    move._refund_proof_get_open_amount(), 0
                )
                > 0
            )
        )

    def _refund_proof_get_credit_note_blocker(self, amount=None, manual=False):
        """Why the refund of this payment cannot create its credit note, or False.

        Kept simple and safe: only the refund of all that was paid (nothing refunded
        before), by the provider, of a payment that alone paid one posted customer
        invoice of the same amount and currency, which has no credit note yet. The
        credit note is then the invoice's whole reversal, and the refund pays it back
        in full.

        Note: self.ensure_one()

        :param float amount: The amount to refund; None for what remains.
        :param bool manual: Whether the refund is paid outside the provider.
        :rtype: str | bool
        """
        self.ensure_one()
        tx = self.sudo()
        currency = tx.currency_id
        if manual:
            return _(
                "A refund paid outside the payment provider creates no payment in "
                "Odoo: create the credit note and register its payment instead."
            )
        invoice = tx.invoice_ids
        if (
            len(invoice) != 1
            or invoice.move_type != "out_invoice"
            or invoice.state != "posted"
        ):
            return _(
                "A credit note is created only for the payment of one posted customer "
                "invoice."
            )
        if (
            invoice.currency_id != currency
            or invoice.company_id != tx.company_id
            or invoice.commercial_partner_id != tx.partner_id.commercial_partner_id
            or currency.compare_amounts(invoice.amount_total, tx.amount)
            or invoice.payment_state not in INVOICE_PAID_STATES
            or invoice._get_reconciled_payments() != tx.payment_id
            or invoice.transaction_ids.filtered(
                lambda t: (
                    t.state == "done" and t.operation not in ("refund", "validation")
                )
            )
            != tx
        ):
            return _(
                "A credit note is created only when this payment alone paid all of "
                "%(invoice)s: create the credit note of %(invoice)s, then refund it.",
                invoice=invoice.name,
            )
        if invoice.reversal_move_ids.filtered(lambda move: move.state != "cancel"):
            return _(
                "%(invoice)s already has a credit note: refund that one instead.",
                invoice=invoice.name,
            )
        remaining = tx.refund_remaining_amount
        if currency.compare_amounts(remaining, tx.amount) or (
            amount is not None and currency.compare_amounts(amount, remaining)
        ):
            return _(
                "A credit note is created only for the refund of all of the payment "
                "(%(amount)s), when nothing of it was refunded yet.",
                amount=format_amount(self.env, tx.amount, currency),
            )
        return False

    def _refund_proof_create_credit_note(self, amount, reason=None, manual=False):
        """Create and post the credit note of the full refund of this payment, through
        Odoo's reversal wizard (`account.move.reversal`: no move line is written
        here); its reason text is the refund's reason, in the customer's language.
        Called by the request path with the source locked.

        Note: self.ensure_one()

        :param float amount: The amount to refund, rounded.
        :param recordset reason: The `payment.refund.reason`, if any.
        :param bool manual: Whether the refund is paid outside the provider.
        :return: The posted credit note, in sudo mode.
        :rtype: recordset of `account.move`
        :raise UserError: When this refund cannot create its credit note
                          (`_refund_proof_get_credit_note_blocker`).
        """
        self.ensure_one()
        blocker = self._refund_proof_get_credit_note_blocker(
            amount=amount, manual=manual
        )
        if blocker:
            raise UserError(blocker)
        invoice = self.sudo().invoice_ids
        reason_text = (
            reason.sudo().with_context(lang=invoice.partner_id.lang).name
            if reason
            else False
        )
        # In sudo mode: refund users need not have accounting rights; the request
        # path checked their right to refund, and the credit note is the invoice's
        # reversal, made and posted by Odoo's own wizard.
        reversal = (
            self.env["account.move.reversal"]
            .sudo()
            .with_company(invoice.company_id)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": reason_text, "journal_id": invoice.journal_id.id})
        )
        reversal.refund_moves()
        credit_note = reversal.new_move_ids
        credit_note.action_post()
        return credit_note

    def _refund_proof_link_credit_note(self):
        """Give this refund transaction the credit note its refund pays back as its
        invoice, before the transaction is post-processed: account_payment's
        `_create_payment` then reconciles the refund's payment with it (Odoo's own
        reconciliation of a transaction's payment with its `invoice_ids`; no move line
        is written here).

        Note: self.ensure_one()
        """
        self.ensure_one()
        # In sudo mode: the link is the server's record, like `refund_id`.
        credit_note = self.sudo().refund_id.credit_note_id
        if credit_note:
            self.sudo().invoice_ids = [Command.link(credit_note.id)]
