"""Refund Selected on sale orders (refund_proof_batch_sale): a draft bulk refund of the
selected orders' paid payments, made by the payments' own Refund Selected
(`payment.transaction.action_refund_proof_batch`); the orders without a paid payment
left out and named, or a user error when none has one; refund users only."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..refund_proof_sale.test_sale import SaleRefundCase


class BatchSaleCase(SaleRefundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Read as the system: the tests' own user is no refund user.
        cls.Batch = cls.env["payment.refund.batch"].sudo()

    def _refund_selected(self, orders, user=None):
        """Refund Selected on `orders` as `user`: the new batch, in sudo mode."""
        action = (
            orders.with_user(user or self.shop_refund_user)
            .browse(orders.ids)
            .action_refund_proof_batch()
        )
        self.assertEqual(
            (action["res_model"], action["view_mode"]),
            ("payment.refund.batch", "form"),
        )
        return self.Batch.browse(action["res_id"])

    def _unpaid_transaction(self, order):
        """A payment of `order` started by the customer and never paid (draft)."""
        links = [Command.set(order.ids)]
        return self._create_transaction(
            "direct",
            amount=order.amount_total,
            currency_id=order.currency_id.id,
            partner_id=order.partner_invoice_id.id,
            reference=self.env["payment.transaction"]._compute_reference(
                "demo", sale_order_ids=links
            ),
            sale_order_ids=links,
        )


@tagged("-at_install", "post_install")
class TestRefundSelectedOrders(BatchSaleCase):
    def test_batch_of_the_orders_paid_payments(self):
        """One draft batch of the orders' paid payments, one line each, what remains
        on each; a refund of an order's payment is no payment of the order."""
        order_a, order_b = self._order(price=100.0), self._order(price=60.0)
        tx_a, tx_b = self._pay(order_a), self._pay(order_b)
        self._refund(tx_a, 30.0)
        batch = self._refund_selected(order_a | order_b)
        self.assertRecordValues(
            batch,
            [
                {
                    "state": "draft",
                    "create_uid": self.shop_refund_user.id,
                    "line_count": 2,
                    "refused_count": 0,
                }
            ],
        )
        lines = {line.source_transaction_id: line for line in batch.line_ids}
        self.assertEqual(set(lines), {tx_a, tx_b})
        self.assertEqual(lines[tx_a].amount, 70.0)
        self.assertEqual(lines[tx_b].amount, 60.0)

    def test_orders_without_paid_payment_are_left_out_and_named(self):
        """A quotation and an order whose payment was never paid are left out; the
        batch's chatter names them."""
        order_paid, quotation, order_unpaid = (self._order() for _i in range(3))
        tx = self._pay(order_paid)
        self._unpaid_transaction(order_unpaid)
        batch = self._refund_selected(order_paid | quotation | order_unpaid)
        self.assertEqual(batch.line_ids.source_transaction_id, tx)
        note = batch.message_ids.filtered(lambda m: "left out" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertIn(quotation.name, note.body)
        self.assertIn(order_unpaid.name, note.body)
        self.assertNotIn(order_paid.name, note.body)
        self.assertEqual(note.author_id, self.shop_refund_user.partner_id)

    def test_no_paid_order_is_a_user_error(self):
        """None of the selection has a paid payment: nothing made, the user told
        why."""
        quotation = self._order()
        count = self.Batch.search_count([])
        with self.assertRaisesRegex(UserError, "paid online payment"):
            self._refund_selected(quotation)
        self.assertEqual(self.Batch.search_count([]), count)

    def test_no_paid_order_is_told_in_the_users_language(self):
        """A French user reads why in French."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["refund_proof_batch_sale"], ["fr_FR"], overwrite=True
        )
        self.shop_refund_user.lang = "fr_FR"
        quotation = self._order()
        with self.assertRaisesRegex(UserError, "paiement en ligne"):
            quotation.with_user(self.shop_refund_user).with_context(
                lang="fr_FR"
            ).action_refund_proof_batch()

    def test_refund_selected_needs_the_right_to_refund(self):
        """A salesman without refund rights makes no batch, even of orders he
        reads."""
        order = self._order()
        self._pay(order)
        count = self.Batch.search_count([])
        with self.assertRaises(AccessError):
            self._refund_selected(order, user=self.salesman)
        self.assertEqual(self.Batch.search_count([]), count)

    def test_refund_selected_is_a_list_action_of_refund_users(self):
        """The server action is bound to the list of sale orders, for refund users,
        and opens the new batch."""
        action = self.env.ref(
            "refund_proof_batch_sale.sale_order_action_refund_proof_batch"
        )
        self.assertRecordValues(
            action,
            [
                {
                    "binding_model_id": self.env["ir.model"]._get_id("sale.order"),
                    "binding_view_types": "list",
                }
            ],
        )
        self.assertEqual(
            action.groups_id, self.env.ref("refund_proof.group_refund_user")
        )
        orders = self._order() | self._order()
        txs = self._pay(orders[0]) | self._pay(orders[1])
        result = (
            action.with_user(self.shop_refund_user)
            .with_context(active_model="sale.order", active_ids=orders.ids)
            .run()
        )
        self.assertEqual(result["res_model"], "payment.refund.batch")
        batch = self.Batch.browse(result["res_id"])
        self.assertEqual(batch.line_ids.source_transaction_id, txs)
