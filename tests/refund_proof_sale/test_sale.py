"""Refunds of sale orders (refund_proof_sale): a confirmed order paid through a
demo-provider transaction linked to it as sale's portal payment links it
(`sale_order_ids`), refunded through the request path; the order's Refunds button and
refunded amount, the proof and the e-mail naming the order, the customer's order page
listing the refunds with their proofs."""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..pdf_text import pdf_to_text
from ..refund_proof.test_refund_mail import MailCase
from ..refund_proof.test_refund_proof import ProofCommon


class SaleRefundCase(ProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Walnut desk", "type": "consu", "list_price": 100.0}
        )
        # A salesman of the shop, no refund rights.
        cls.salesman = new_test_user(
            cls.env,
            login="refund_proof_salesman",
            name="Sam Sales",
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        # Shop staff with refund rights: reads every order and its refunds.
        cls.shop_refund_user = new_test_user(
            cls.env,
            login="refund_proof_shop_refunds",
            name="Rosa Shop",
            groups="base.group_user,sales_team.group_sale_salesman_all_leads,"
            "refund_proof.group_refund_user",
        )

    # === HELPERS === #

    def _zero_limit_user(self, login):
        """A refund user without a refund limit: every request of theirs waits for
        approval."""
        return new_test_user(
            self.env,
            login=login,
            groups="base.group_user,refund_proof.group_refund_user",
        )

    def _order(self, partner=None, price=100.0):
        """A quotation of one line at `price`, untaxed, of the salesman."""
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.partner).id,
                "user_id": self.salesman.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 1.0,
                            "price_unit": price,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )

    def _pay(self, order):
        """`order` paid in full by a demo-provider transaction linked to it as sale's
        portal payment does (reference from the order's name), confirmed by the
        provider's notification and post-processed: the order is confirmed."""
        Tx = self.env["payment.transaction"]
        links = [Command.set(order.ids)]
        tx = self._create_transaction(
            "direct",
            amount=order.amount_total,
            currency_id=order.currency_id.id,
            partner_id=order.partner_invoice_id.id,
            reference=Tx._compute_reference("demo", sale_order_ids=links),
            sale_order_ids=links,
        )
        tx._handle_notification_data(
            "demo", {"reference": tx.reference, "simulated_state": "done"}
        )
        tx._post_process()
        self.assertEqual(order.state, "sale", "sale confirms the paid order")
        self.assertEqual(order.transaction_ids, tx)
        return tx

    def _refunds_of(self, order, user):
        """What the order's Refunds button opens, as `user` sees it."""
        action = order.with_user(user).action_refund_proof_view_refunds()
        self.assertEqual(action["res_model"], "payment.refund")
        return self.env["payment.refund"].with_user(user).search(action["domain"])


@tagged("-at_install", "post_install")
class TestSaleOrderRefunds(SaleRefundCase):
    def test_refunds_button_and_refunded_amount(self):
        """Refunded twice, the order counts both refunds and their total."""
        order = self._order()
        tx = self._pay(order)
        self._refund(self._create_paid_transaction(100.0), 10.0)  # another payment
        first = self._refund(tx, 30.0)
        second = self._refund(tx, 20.0)
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        order_as_user = order.with_user(self.shop_refund_user)
        self.assertEqual(order_as_user.refund_proof_refund_count, 2)
        self.assertEqual(order_as_user.refund_proof_refunded_amount, 50.0)
        self.assertEqual(order_as_user.refund_proof_refund_in_progress_amount, 0.0)
        self.assertEqual(self._refunds_of(order, self.shop_refund_user), first | second)

    def test_refunded_amount_counts_done_refunds_only(self):
        """A request awaiting approval is in progress, not refunded; once cancelled,
        neither, but still listed."""
        order = self._order()
        tx = self._pay(order)
        done = self._refund(tx, 30.0)
        request = self._refund(tx, 25.0, user=self._zero_limit_user("zero_limit_sale"))
        self.assertEqual(request.state, "to_approve")
        order_as_user = order.with_user(self.shop_refund_user)
        self.assertEqual(order_as_user.refund_proof_refunded_amount, 30.0)
        self.assertEqual(order_as_user.refund_proof_refund_in_progress_amount, 25.0)
        request.with_user(self.refund_manager).action_cancel(reason="Duplicate")
        order_as_user.invalidate_recordset()
        self.assertEqual(order_as_user.refund_proof_refund_count, 2)
        self.assertEqual(order_as_user.refund_proof_refunded_amount, 30.0)
        self.assertEqual(order_as_user.refund_proof_refund_in_progress_amount, 0.0)
        self.assertEqual(self._refunds_of(order, self.shop_refund_user), done | request)

    def test_refunds_in_another_currency_are_converted(self):
        """A payment of the order in another currency: its refunds are counted in
        the order's currency, at today's rate."""
        other = self.setup_other_currency("EUR", rates=[("2000-01-01", 2.0)])
        self.assertNotEqual(other, self.env.company.currency_id)
        order = self._order()
        tx = self._create_transaction(
            "direct",
            amount=100.0,
            currency_id=other.id,
            reference=f"{order.name}-EUR",
            sale_order_ids=[Command.set(order.ids)],
        )
        tx._handle_notification_data(
            "demo", {"reference": tx.reference, "simulated_state": "done"}
        )
        self._refund(tx, 40.0)
        order_as_user = order.with_user(self.shop_refund_user)
        self.assertEqual(order.currency_id, self.env.company.currency_id)
        self.assertEqual(order_as_user.refund_proof_refunded_amount, 20.0)

    def test_order_without_refund_counts_none(self):
        """A paid order never refunded, and a quotation, show no refund."""
        paid = self._order()
        self._pay(paid)
        quotation = self._order()
        for order in (paid, quotation):
            order_as_user = order.with_user(self.shop_refund_user)
            self.assertEqual(order_as_user.refund_proof_refund_count, 0)
            self.assertEqual(order_as_user.refund_proof_refunded_amount, 0.0)

    def test_proof_names_the_order(self):
        """The proof of a refund of the order's payment names the order."""
        order = self._order()
        refund = self._refund(self._pay(order), 30.0)
        self.assertEqual(refund._get_proof_order_names(), [order.name])
        html = self._html(refund)
        self.assertIn("Order", html)
        self.assertIn(order.name, html)

    def test_salesman_without_refund_rights_reads_no_refund(self):
        """A salesman reads the order, not its refunds: the fields and the action
        are refused, and the form has neither the button nor the amounts."""
        order = self._order()
        self._refund(self._pay(order), 30.0)
        order_as_salesman = order.with_user(self.salesman)
        self.assertEqual(order_as_salesman.name, order.name)
        for field in (
            "refund_proof_refund_count",
            "refund_proof_refunded_amount",
            "refund_proof_refund_in_progress_amount",
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                order_as_salesman.read([field])
        with self.assertRaises(AccessError):
            order_as_salesman.action_refund_proof_view_refunds()
        arch = (
            self.env["sale.order"]
            .with_user(self.salesman)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn("action_refund_proof_view_refunds", arch)
        self.assertNotIn("refund_proof_refunded_amount", arch)
        arch = (
            self.env["sale.order"]
            .with_user(self.shop_refund_user)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn("action_refund_proof_view_refunds", arch)

    def test_refund_user_of_another_company_sees_none(self):
        """A refund user of another company reads neither the order nor its
        refunds."""
        company_b = self.setup_other_company(name="Company B")["company"]
        user_b = new_test_user(
            self.env,
            login="refund_user_b",
            groups="base.group_user,refund_proof.group_refund_user,"
            "sales_team.group_sale_salesman_all_leads",
            company_id=company_b.id,
            company_ids=[company_b.id],
        )
        order = self._order()
        self._refund(self._pay(order), 30.0)
        with self.assertRaises(AccessError):
            order.with_user(user_b).read(["refund_proof_refund_count"])
        domain = order._refund_proof_get_refunds_domain()
        self.assertFalse(self.env["payment.refund"].with_user(user_b).search(domain))


@tagged("-at_install", "post_install")
class TestSaleOrderRefundMail(SaleRefundCase, MailCase):
    def test_customer_mail_and_its_proof_name_the_order(self):
        """The customer's e-mail of the refund names the order on a line of its own
        (not only through the payment's reference, the order's number), and so does
        the proof attached."""
        order = self._order()
        refund = self._refund(self._pay(order), 30.0)
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        self.assertEqual(len(mail), 1)
        self.assertIn(f"Order: {order.name}", mail.body_html)
        text = pdf_to_text(mail.attachment_ids.raw)
        self.assertIn(order.name, text)


@tagged("-at_install", "post_install")
class TestSaleOrderPortal(SaleRefundCase, MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_partner.email = "portal.customer@example.com"
        cls.other_portal_user = new_test_user(
            cls.env,
            login="other_sale_customer",
            groups="base.group_portal",
            name="Other Customer",
        )

    def _pay_on_the_portal(self, order):
        """The customer pays `order` on its portal page as sale's payment form does:
        sale's transaction route, then the demo provider's answer."""
        processing_values = self.make_jsonrpc_request(
            f"/my/orders/{order.id}/transaction",
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.payment_method_id,
                "token_id": None,
                "amount": order.amount_total,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": order.get_portal_url(),
                "access_token": order._portal_ensure_token(),
            },
        )
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {
                "reference": processing_values["reference"],
                "customer_input": "4242",
                "simulated_state": "done",
            },
        )
        tx = self._get_tx(processing_values["reference"])
        tx._post_process()  # the payment status page's (or the cron's) work
        self.assertEqual(tx.sale_order_ids, order)
        self.assertEqual(order.state, "sale")
        return tx

    def _refunds_shown(self, page):
        return [
            refund
            for refund in self.env["payment.refund"].search([])
            if f'data-refund-id="{refund.id}"' in page
        ]

    def test_order_page_lists_its_sent_refunds_with_their_proofs(self):
        """The customer's order page lists the order's refunds sent or done (not a
        request awaiting approval, nor another payment's), the done ones with a link
        to their issued proof."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        order = self._order(self.portal_partner)
        tx = self._pay_on_the_portal(order)
        first = self._refund(tx, 30.0)
        second = self._refund(tx, 20.0)
        request = self._refund(tx, 5.0, user=self._zero_limit_user("zero_limit_portal"))
        self.assertEqual(request.state, "to_approve")
        self._refund(
            self._create_paid_transaction(100.0, partner_id=self.portal_partner.id),
            10.0,
        )  # another payment of the same customer
        self._run_mail_cron()  # issues the proofs, as after the commit

        page = self.url_open(f"/my/orders/{order.id}")
        self.assertEqual(page.status_code, 200)
        self.assertEqual(self._refunds_shown(page.text), [second, first])
        self.assertIn("Proof of refund", page.text)
        for refund in (first, second):
            with self.subTest(refund=refund.name):
                proof_url = refund.get_portal_url(report_type="pdf", download=True)
                self.assertIn(proof_url.replace("&", "&amp;"), page.text)
                proof = self.url_open(proof_url)
                self.assertEqual(proof.status_code, 200)
                self.assertEqual(
                    proof.content, refund._get_current_proof().attachment_id.raw
                )

    def test_order_page_through_its_link_without_account(self):
        """Opened from the order's e-mailed link without signing in, the page lists
        the refunds, and their proof links work without an account too."""
        order = self._order(self.portal_partner)
        refund = self._refund(self._pay(order), 30.0)
        self._run_mail_cron()
        page = self.url_open(order.get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertEqual(self._refunds_shown(page.text), [refund])
        proof = self.url_open(refund.get_portal_url(report_type="pdf", download=True))
        self.assertEqual(proof.status_code, 200)
        self.assertTrue(proof.content.startswith(b"%PDF"))

    def test_another_customer_gets_nothing(self):
        """Another customer asking for the order's page is redirected, and their own
        order's page lists none of this order's refunds."""
        order = self._order(self.portal_partner)
        refund = self._refund(self._pay(order), 30.0)
        theirs = self._order(self.other_portal_user.partner_id)
        self._pay(theirs)
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self.url_open(f"/my/orders/{order.id}", allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith("/my"))
        page = self.url_open(f"/my/orders/{theirs.id}")
        self.assertEqual(page.status_code, 200)
        self.assertEqual(self._refunds_shown(page.text), [])
        self.assertNotIn(refund.name, page.text)


@tagged("-at_install", "post_install")
class TestSaleOrderPageProofLinks(SaleRefundCase, MailCase):
    def test_salesman_gets_no_proof_from_the_customer_order_page(self):
        """A salesman reading the order (no refund rights) opens the customer's
        order page without its refunds' links nor their tokens; a refund user of the
        shop gets them, as the customer does."""
        order = self._order(self.portal_partner)
        refund = self._refund(self._pay(order), 30.0)
        refund._portal_ensure_token()
        proof_url = refund.get_portal_url(report_type="pdf", download=True)
        self.authenticate(self.salesman.login, self.salesman.login)
        page = self.url_open(f"/my/orders/{order.id}")
        self.assertEqual(page.status_code, 200, "the salesman reads the order")
        self.assertNotIn(refund.access_token, page.text)
        self.assertNotIn(f'data-refund-id="{refund.id}"', page.text)
        self.assertNotIn(proof_url.replace("&", "&amp;"), page.text)
        for user in (self.shop_refund_user, self.portal_user):
            with self.subTest(user=user.login):
                self.authenticate(user.login, user.login)
                page = self.url_open(f"/my/orders/{order.id}")
                self.assertEqual(page.status_code, 200)
                self.assertIn(f'data-refund-id="{refund.id}"', page.text)
                self.assertIn(proof_url.replace("&", "&amp;"), page.text)
