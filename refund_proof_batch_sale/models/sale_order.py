"""Refund Selected on sale orders: a bulk refund of the orders' payments.

An order's payments are its payment transactions (`transaction_ids`, the payments sale
links to the order: the portal's Pay Now, a payment link) that are paid (`done`) and
are not refunds themselves. The batch is made by `payment.transaction.
action_refund_proof_batch`, which checks the user's right to refund them: this module
adds no rule of its own.
"""

from odoo import _, models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _inherit = "sale.order"

    # === ACTION METHODS === #

    def action_refund_proof_batch(self):
        """Refund Selected: a draft bulk refund of the paid payments of these orders,
        one line each, as Refund Selected on payment transactions makes it (same
        rights, same preview, same approval). The orders without a paid payment are
        left out and named in the batch's chatter.

        :return: The new batch's form.
        :rtype: dict
        :raise AccessError: When the user may not refund payments or read the
            orders.
        :raise UserError: When no order of the selection has a paid payment.
        """
        # The right to refund payments first, as on payment transactions (checked
        # again on the payments themselves by `action_refund_proof_batch`).
        self.env["payment.transaction"]._check_refund_rights()
        self.check_access("read")
        if not self:
            raise UserError(_("Select the sale orders to refund."))
        transactions = self._refund_proof_get_paid_transactions()
        unpaid = self.filtered(lambda order: not transactions.get(order))
        if unpaid == self:
            raise UserError(
                _(
                    "None of the selected sale orders has a paid online payment to "
                    "refund: %(orders)s.",
                    orders=", ".join(unpaid.mapped("display_name")),
                )
            )
        payments = self.env["payment.transaction"].union(*transactions.values())
        action = payments.with_env(self.env).action_refund_proof_batch()
        if unpaid:
            batch = self.env["payment.refund.batch"].browse(action["res_id"])
            # In sudo mode: the server's note on the batch it just made for this
            # user (`write` is the batch's guard; a note changes none of its fields).
            batch.sudo().message_post(
                body=_(
                    "Sale orders without a paid online payment, left out: %(orders)s.",
                    orders=", ".join(unpaid.mapped("display_name")),
                ),
                subtype_xmlid="mail.mt_note",
            )
        return action

    # === BUSINESS METHODS === #

    def _refund_proof_get_paid_transactions(self):
        """The paid payments of each order: its payment transactions done, refunds
        excepted.

        :return: {order: recordset of `payment.transaction`}, in sudo mode (the
            caller refunds them in its own environment, which checks its rights).
        :rtype: dict
        """
        # In sudo mode: which payments paid which order (transactions are read by
        # billing and refund users only), as refund_proof_sale reads them.
        return {
            order: order.sudo().transaction_ids.filtered(
                lambda tx: tx.state == "done" and tx.operation != "refund"
            )
            for order in self
        }
