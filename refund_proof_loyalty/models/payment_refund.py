"""Store credit, the other way to be paid back that Odoo's eWallet gives.

When the company has an active eWallet program (`loyalty.program`, program_type
"ewallet") in the failed refund's currency, the customer of a failed refund may choose
store credit on the choice page (`_get_payout_methods`). The choice makes a new manual
refund of the failed one's amount through the one request path
(`_refund_proof_request_payout`), done at once: carrying it out
(`_execute`) credits the customer's eWallet card, found or created through loyalty's
own models, with the amount as points and a history line naming the refund, in the
same transaction as the refund's done state; if crediting fails, nothing is done.
"""

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount, format_date


def mask_card_code(code):
    """A loyalty card's code as the customer's documents show it: its last four
    characters (``•••• 8842``)."""
    code = (code or "").strip()
    return f"•••• {code[-4:]}" if len(code) > 4 else "••••"


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    # Written by `_refund_proof_loyalty_credit` only (not in USER_EDITABLE_FIELDS).
    payout_loyalty_card_id = fields.Many2one(
        comodel_name="loyalty.card",
        string="Store Credit Card",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="The customer's eWallet card credited with this refund's amount, as "
        "the customer chose after the refund to their card failed.",
    )

    # === ACTION METHODS === #

    def _execute(self):
        """Override of `payment.refund`: a store credit the customer chose is
        credited to their eWallet before it is done (super()), in the same
        transaction: if crediting raises, the refund is not done either."""
        for refund in self.filtered(lambda refund: refund._is_store_credit_payout()):
            refund._refund_proof_loyalty_credit()
        return super()._execute()

    # === BUSINESS METHODS === #

    def _is_store_credit_payout(self):
        """Whether this refund is store credit the customer chose after a failed
        refund (credited to their eWallet), not a manual refund recorded as paid by
        store credit outside Odoo.

        Note: self.ensure_one()
        """
        return self._is_payout_by("store_credit")

    def _refund_proof_loyalty_get_program(self):
        """The eWallet program that holds this refund's store credit: active, valid
        today, of the refund's company (or of every company) and in its currency
        (one point is one unit of it); the first in loyalty's order.

        Note: self.ensure_one()

        :return: The `loyalty.program`, in sudo mode, or an empty recordset.
        :rtype: recordset of `loyalty.program`
        """
        self.ensure_one()
        today = fields.Date.context_today(self)
        # In sudo mode: which programs the shop has is the server's to know; the
        # customer and refund users need not read them.
        return (
            self.env["loyalty.program"]
            .sudo()
            .search(
                [
                    ("program_type", "=", "ewallet"),
                    ("company_id", "in", [self.company_id.id, False]),
                    ("currency_id", "=", self.currency_id.id),
                    "|",
                    ("date_from", "=", False),
                    ("date_from", "<=", today),
                    "|",
                    ("date_to", "=", False),
                    ("date_to", ">=", today),
                ],
                limit=1,
            )
        )

    def _get_payout_methods(self):
        """Override of `payment.refund`: store credit, when the customer is known
        and the company has an eWallet program in the refund's currency."""
        methods = super()._get_payout_methods()
        if self.partner_id and self._refund_proof_loyalty_get_program():
            methods.append(("store_credit", _("Store credit (eWallet)")))
        return methods

    def _refund_proof_request_payout(self, method, **values):
        """Override of `payment.refund`: store credit is a new manual refund of this
        failed refund's amount, through the one request path, done at once."""
        if method != "store_credit":
            return super()._refund_proof_request_payout(method, **values)
        self.ensure_one()
        # No manager's approval, unlike a bank transfer to an account the customer
        # typed: the money goes to the customer's own eWallet, on their partner, with
        # this shop; it never leaves the shop, and nobody can redirect it. Called in
        # sudo mode (the choice page, after its access check), the request path asks
        # no approval and carries the refund out at once (`_execute`: credited).
        refund = self.source_transaction_id._request_refund(
            amount_to_refund=self.amount,
            reason=self.reason_id,
            manual=True,
            manual_method="store_credit",
            replaced_refund=self,
        ).with_env(self.env)  # As the caller: the request path drops sudo mode.
        card = refund.payout_loyalty_card_id
        self.message_post(
            body=_(
                "The customer chose store credit instead: %(refund)s credited "
                "%(amount)s to their eWallet (card %(card)s).",
                refund=refund.name,
                amount=format_amount(self.env, refund.amount, refund.currency_id),
                card=mask_card_code(card.code),
            ),
            subtype_xmlid="mail.mt_note",
        )
        refund.message_post(
            body=_(
                "Replaces the failed refund %(failed)s: store credit on the "
                "customer's eWallet (card %(card)s), chosen by the customer.",
                failed=self.name,
                card=mask_card_code(card.code),
            ),
            subtype_xmlid="mail.mt_note",
        )
        return refund

    def _refund_proof_loyalty_credit(self):
        """Credit this refund's amount to its customer's eWallet card, found or
        created through loyalty's models, with a history line naming the refund,
        and keep the card on the refund. Server side: the request path checked the
        choice.

        Note: self.ensure_one()

        :raise UserError: when no eWallet program can hold it any more.
        """
        self.ensure_one()
        program = self._refund_proof_loyalty_get_program()
        if not program or not self.partner_id:
            raise UserError(
                _(
                    "Store credit is not available for this refund: please choose "
                    "another way to be paid back."
                )
            )
        # In sudo mode: the customer's card is the server's to find, create and
        # credit (loyalty's models are its managers'); the choice was checked above.
        Card = self.env["loyalty.card"].sudo()
        card = Card.search(
            [("program_id", "=", program.id), ("partner_id", "=", self.partner_id.id)],
            order="id",
            limit=1,
        ) or Card.create(
            {"program_id": program.id, "partner_id": self.partner_id.id, "points": 0}
        )
        # Credits of one card wait for each other: a credit whose snapshot predates
        # another's fails on a stale snapshot and is retried, never losing points.
        self.env["payment.transaction"]._lock_rows_for_refund("loyalty_card", card.ids)
        card.invalidate_recordset(["points"])
        description = self.with_context(
            lang=self.partner_id.lang or self.env.lang
        )._refund_proof_loyalty_history_description()
        self.env["loyalty.history"].sudo().create(
            {
                "card_id": card.id,
                "description": description,
                "issued": self.amount,
                "order_model": self._name,
                "order_id": self.id,
            }
        )
        card.points += self.amount
        # In sudo mode: the card is the server's record of the payout.
        self.sudo()._write_server_values({"payout_loyalty_card_id": card.id})

    def _refund_proof_loyalty_history_description(self):
        """The eWallet history line of this refund, in the context's language."""
        self.ensure_one()
        return _(
            "Refund %(refund)s (the refund to your card %(failed)s failed)",
            refund=self.name,
            failed=self.replaced_refund_id.name,
        )

    def _get_payout_proof_line(self):
        """Override of `payment.refund`: a store credit says where it went."""
        line = super()._get_payout_proof_line()
        self.ensure_one()
        if not (self._is_store_credit_payout() and self.payout_loyalty_card_id):
            return line
        credited = _(
            "Credited to your store credit (card %(card)s) on %(date)s.",
            card=mask_card_code(self.payout_loyalty_card_id.sudo().code),
            date=format_date(self.env, self.refund_date),
        )
        return f"{credited} {self._get_payout_replaced_words()}"
