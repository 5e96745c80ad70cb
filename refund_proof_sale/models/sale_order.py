"""Sale orders and the refunds of their payments.

A refund belongs to an order through its original payment: `payment.refund` whose
`source_transaction_id` is one of the order's `transaction_ids` (sale links the
transactions of its portal payments to the order). Nothing is stored on the order: the
refunds stay the one source, read as the user in the back office and, on the
customer's order page, in sudo mode after the order's own portal access check.
"""

from odoo import fields, models

from odoo.addons.refund_proof.const import GROUP_USER, PORTAL_STATES, RESERVING_STATES

# Who reads refunds (refund_proof's ACLs): the refund users, and the accounting's
# read-only auditors, as on credit notes.
REFUND_READERS = f"{GROUP_USER},account.group_account_readonly"
# Refunds holding an amount of the payment (the cap counts them) not done yet.
IN_PROGRESS_STATES = tuple(state for state in RESERVING_STATES if state != "done")
# What the customer sees of the refunds: those sent to the provider or done, as on
# refund_proof's own portal pages (and its portal record rule).


class SaleOrder(models.Model):
    _inherit = "sale.order"

    refund_proof_refund_count = fields.Integer(
        string="Refunds",
        compute="_compute_refund_proof_refunds",
        groups=REFUND_READERS,
    )
    refund_proof_refunded_amount = fields.Monetary(
        string="Refunded",
        compute="_compute_refund_proof_refunds",
        groups=REFUND_READERS,
        help="The refunds of the order's payments that are done, in the order's "
        "currency.",
    )
    refund_proof_refund_in_progress_amount = fields.Monetary(
        string="Refund in Progress",
        compute="_compute_refund_proof_refunds",
        groups=REFUND_READERS,
        help="The refunds of the order's payments not done yet: awaiting approval, "
        "or sent to the payment provider.",
    )

    # === COMPUTE METHODS === #

    def _compute_refund_proof_refunds(self):
        # In sudo mode: which payments paid which order (transactions are read by
        # billing and refund users only); the refunds themselves are read as the user.
        tx_ids_by_order = {
            order.id: set(order.sudo().transaction_ids.ids) for order in self
        }
        all_tx_ids = set().union(*tx_ids_by_order.values())
        groups = self.env["payment.refund"]._read_group(
            [("source_transaction_id", "in", list(all_tx_ids))],
            ["source_transaction_id", "state", "currency_id"],
            ["amount:sum", "__count"],
        )
        for order in self:
            count, refunded, in_progress = 0, 0.0, 0.0
            for tx, state, currency, amount_sum, group_count in groups:
                if tx.id not in tx_ids_by_order[order.id]:
                    continue
                count += group_count
                if state not in RESERVING_STATES:
                    continue  # failed or cancelled: nothing left the shop
                amount = order._refund_proof_to_order_currency(amount_sum, currency)
                if state == "done":
                    refunded += amount
                else:
                    in_progress += amount
            order.refund_proof_refund_count = count
            order.refund_proof_refunded_amount = refunded
            order.refund_proof_refund_in_progress_amount = in_progress

    # === ACTION METHODS === #

    def action_refund_proof_view_refunds(self):
        """Open the refunds of the order's payments."""
        self.ensure_one()
        # Refunds are read by refund users and auditors only: say so here rather than
        # in the list the action would open.
        self.env["payment.refund"].check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "refund_proof.payment_refund_action"
        )
        action["domain"] = self._refund_proof_get_refunds_domain()
        action["context"] = {"create": False}
        return action

    # === BUSINESS METHODS === #

    def _refund_proof_get_refunds_domain(self):
        """The domain of the refunds of these orders' payments.

        :return: A domain on `payment.refund`.
        :rtype: list
        """
        # In sudo mode: the order's payments, whoever reads the order.
        return [("source_transaction_id", "in", self.sudo().transaction_ids.ids)]

    def _refund_proof_get_portal_refunds(self):
        """The refunds the customer sees on the order's portal page: those of the
        order's payments made by the order's customer, sent or done, newest first.

        Note: self.ensure_one()

        :return: The refunds, in the environment of the order (the portal page reads
            them in sudo mode after its access check on the order).
        :rtype: recordset of `payment.refund`
        """
        self.ensure_one()
        return self.env["payment.refund"].search(
            [
                *self._refund_proof_get_refunds_domain(),
                ("state", "in", PORTAL_STATES),
                (
                    "partner_id",
                    "child_of",
                    self.partner_id.commercial_partner_id.id,
                ),
            ],
            order="id desc",
        )

    def _refund_proof_to_order_currency(self, amount, currency):
        """`amount` in `currency` converted into the order's currency at today's
        rate (the refunds of a sale order's payments are in its currency but for a
        payment made in another one).

        Note: self.ensure_one()

        :param float amount: An amount of refunds.
        :param recordset currency: Its `res.currency`.
        :return: The amount in the order's currency.
        :rtype: float
        """
        self.ensure_one()
        if not currency or currency == self.currency_id:
            return amount
        return currency._convert(
            amount,
            self.currency_id,
            self.company_id,
            fields.Date.context_today(self),
        )
