from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundAccess(RefundProofCommon):
    def _assert_nothing_written(self, tx):
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_user_without_refund_group_cannot_refund(self):
        """Every entry point refuses a user without the refund group, writes nothing."""
        tx = self._create_paid_transaction()
        for user in (self.plain_user, self.billing_user):
            entry_points = {
                "action_refund": lambda u: tx.with_user(u).action_refund(
                    amount_to_refund=10.0
                ),
                "_request_refund": lambda u: tx.with_user(u)._request_refund(10.0),
                "transaction wizard": lambda u: tx.with_user(
                    u
                ).action_open_refund_wizard(),
                "manual refund": lambda u: tx.with_user(u)._request_refund(
                    10.0, manual=True
                ),
            }
            for name, call in entry_points.items():
                with self.subTest(user=user.login, entry_point=name):
                    with self.assertRaisesRegex(AccessError, "not allowed to refund"):
                        call(user)
                    self._assert_nothing_written(tx)

    def test_billing_user_without_refund_group_cannot_use_payment_wizard(self):
        """The account.payment Refund wizard goes through the same check."""
        tx = self._create_paid_transaction()
        wizard = self._open_payment_wizard(tx, 10.0)
        with self.assertRaisesRegex(AccessError, "not allowed to refund"):
            wizard.action_refund()
        self._assert_nothing_written(tx)

    def test_refund_user_without_accounting_rights_can_refund(self):
        """Support staff with only the refund group refund from the transaction."""
        tx = self._create_paid_transaction()
        refund = self._refund(tx, 10.0, user=self.refund_user)
        self.assertEqual(refund.state, "done")
        self.assertEqual(
            refund.with_user(self.refund_user).source_transaction_id.reference,
            tx.reference,
        )

    def test_reasons_are_configured_by_managers_only(self):
        """Refund users read reasons; only managers create them."""
        Reason = self.env["payment.refund.reason"]
        self.assertTrue(Reason.with_user(self.refund_user).search([]))
        with self.assertRaises(AccessError):
            Reason.with_user(self.refund_user).create({"name": "Because"})
        Reason.with_user(self.refund_manager).create({"name": "Because"})


@tagged("-at_install", "post_install")
class TestRefundMultiCompany(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company(name="Company B")["company"]
        cls.provider_b = cls._prepare_provider(
            "demo",
            company=cls.company_b,
            update_values={
                "journal_id": cls.env["account.journal"]
                .search(
                    [
                        ("company_id", "=", cls.company_b.id),
                        ("type", "=", "bank"),
                    ],
                    limit=1,
                )
                .id,
            },
        )
        cls.refund_manager.company_ids |= cls.company_b
        cls.user_a = new_test_user(
            cls.env,
            login="refund_user_a",
            groups="base.group_user,refund_proof.group_refund_user",
            company_id=cls.env.company.id,
            company_ids=[cls.env.company.id],
        )

    def test_refunds_of_another_company_are_invisible(self):
        """A refund user of company A neither sees nor refunds company B's payments."""
        tx_b = self._create_paid_transaction(
            provider=self.provider_b, currency_id=self.company_b.currency_id.id
        )
        refund_b = (
            tx_b.with_user(self.refund_manager)
            .with_company(self.company_b)
            ._request_refund(10.0)
        )
        self.assertEqual(refund_b.company_id, self.company_b)
        Refund = self.env["payment.refund"].with_user(self.user_a)
        self.assertFalse(Refund.search([("id", "=", refund_b.id)]))
        with self.assertRaises(AccessError):
            refund_b.with_user(self.user_a).read(["amount"])
        with self.assertRaises(AccessError):
            tx_b.with_user(self.user_a)._request_refund(5.0)
        self.assertEqual(len(tx_b.refund_ids), 1)
