"""Factories shared by the tests: RefundProofCommon, the base class of the refund tests
(a demo provider with a journal, refund users, paid transactions, a refund through the
request path, account_payment's Refund wizard).
"""

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account_payment.tests.common import AccountPaymentCommon


class RefundProofCommon(AccountPaymentCommon):
    @classmethod
    def default_env_context(cls):
        # Odoo's BaseCommon disables tracking and chatter in tests; the refund's chatter
        # is part of what we test (decisions, notifications), so keep mail features on.
        return {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.demo_provider = cls._prepare_provider(
            "demo",
            update_values={"journal_id": cls.company_data["default_journal_bank"].id},
        )
        cls.provider = cls.demo_provider
        cls.provider.payment_method_ids.write({"active": True})
        cls.payment_method = cls.provider.payment_method_ids[:1]
        cls.payment_method_id = cls.payment_method.id
        cls.currency = cls.env.company.currency_id
        cls.reason_customer = cls.env.ref("refund_proof.reason_customer_request")
        cls.reason_fraud = cls.env.ref("refund_proof.reason_fraud")
        # Limits high enough for the foundation tests; test_refund_approval sets its
        # own.
        cls.refund_user = new_test_user(
            cls.env,
            login="refund_user",
            name="Rita Refund",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=1_000_000,
        )
        cls.refund_manager = new_test_user(
            cls.env,
            login="refund_manager",
            name="Max Manager",
            groups="base.group_user,refund_proof.group_refund_manager",
        )
        cls.plain_user = new_test_user(
            cls.env,
            login="plain_user",
            name="Paul Plain",
            groups="base.group_user",
        )
        cls.billing_user = new_test_user(
            cls.env,
            login="billing_user",
            name="Bill Billing",
            groups="base.group_user,account.group_account_invoice",
            refund_limit=1_000_000,
        )
        cls._tx_counter = 0

    @classmethod
    def _next_reference(cls):
        cls._tx_counter += 1
        return f"RP-TEST-{cls._tx_counter:04d}"

    def _create_paid_transaction(self, amount=100.0, provider=None, **values):
        """A demo-provider payment confirmed through the provider's own notification
        flow, post-processed so that its account.payment exists."""
        provider = provider or self.provider
        tx = self._create_transaction(
            "direct",
            amount=amount,
            reference=self._next_reference(),
            provider_id=provider.id,
            payment_method_id=(
                provider.payment_method_ids[:1] or self.payment_method
            ).id,
            **values,
        )
        if provider.code == "demo":
            tx._handle_notification_data(
                "demo", {"reference": tx.reference, "simulated_state": "done"}
            )
        else:
            tx._set_done()
        tx._post_process()
        return tx

    def _refund(self, tx, amount=None, user=None, **kwargs):
        """Refund as a refund user through the one path every entry point takes; the
        refund is returned in the test's environment."""
        tx = tx.with_user(user or self.refund_user)
        return tx._request_refund(amount_to_refund=amount, **kwargs).with_env(self.env)

    def _open_payment_wizard(self, tx, amount, user=None, **values):
        """The standard account.payment Refund wizard, as a user opens it."""
        payment = tx.payment_id.with_user(user or self.billing_user)
        return (
            self.env["payment.refund.wizard"]
            .with_user(user or self.billing_user)
            .with_context(active_id=payment.id, active_model="account.payment")
            .create({"amount_to_refund": amount, **values})
        )

    @classmethod
    def _give_groups(cls, user, *xmlids):
        user.groups_id = [Command.link(cls.env.ref(x).id) for x in xmlids]
        return user
