"""The dispute side of a payment: its disputes and the refund rules they set (no
refund on top of a chargeback, only a whole one under an inquiry). What bridges call
with a provider's dispute events, and override to send evidence, is in
payment_transaction_bridge.py.
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
