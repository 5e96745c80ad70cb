import os
import sys

from odoo import SUPERUSER_ID
from odoo.tests import tagged
from odoo.tools import convert_file

from ..refund_factories import RefundProofCommon

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import demo_shop  # noqa: E402 (scripts/demo_shop.py, the shop step of `make run`)

DEMO_LOGINS = ["refund_proof_customer", "refund_proof_manager", "refund_proof_support"]


@tagged("-at_install", "post_install")
class TestDemoData(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.main = cls.env.ref("base.main_company")
        # As Odoo loads demo data and `make run` runs its step: superuser, main company.
        cls.su_env = cls.env(
            user=SUPERUSER_ID,
            su=True,
            context=dict(cls.env.context, allowed_company_ids=cls.main.ids),
        )
        cls.base_values = cls._base_values()
        # refund_proof's demo data, loaded as on a database with demo data (the test
        # database has none).
        convert_file(
            cls.su_env,
            "refund_proof",
            "demo/refund_proof_demo.xml",
            {},
            mode="init",
            noupdate=True,
            kind="demo",
        )

    @classmethod
    def _base_values(cls):
        """What other modules' tests read of base records."""
        env = cls.su_env
        company = env.ref("base.main_company")
        return {
            "company": company.read(["name", "email", "logo", "website", "phone"]),
            "company_tz": company.partner_id.tz,
            "admin_lang": env.ref("base.user_admin").lang,
            "provider": env.ref("payment.payment_provider_demo").read(
                ["state", "journal_id"]
            ),
        }

    def test_demo_data_has_namespaced_logins_and_leaves_base_records_alone(self):
        """The demo users' logins are refund_proof_*; no base record is changed."""
        env = self.su_env
        demo_users = env["res.users"].browse(
            env["ir.model.data"]
            .search([("module", "=", "refund_proof"), ("model", "=", "res.users")])
            .mapped("res_id")
        )
        self.assertEqual(sorted(demo_users.mapped("login")), DEMO_LOGINS)
        self.assertEqual(self._base_values(), self.base_values)

    def test_demo_shop_builds_refunds_in_every_state(self):
        """The shop step of `make run` builds refunds in every state, once."""
        env = self.su_env
        self.assertTrue(demo_shop.dress_shop(env))
        main = env.ref("base.main_company")
        self.assertEqual(main.name, "Myshop Online")
        self.assertEqual(main.refund_statement_descriptor, "MYSHOP.EXAMPLE")
        self.assertEqual(env.ref("base.user_admin").lang, "en_US")
        self.assertTrue(env.ref("base.lang_en").active)
        refunds = env["payment.refund"].search([("company_id", "=", main.id)])
        self.assertTrue(
            {"done", "to_approve", "pending", "failed", "cancelled"}
            <= set(refunds.mapped("state"))
        )
        self.assertTrue(
            refunds.filtered(lambda r: r.origin == "manual" and r.state == "done")
        )
        self.assertTrue(refunds.filtered(lambda r: r.state == "done" and r.arn))
        self.assertTrue(refunds.filtered(lambda r: r.state == "done" and not r.arn))
        self.assertTrue(refunds.filtered("is_partial"))
        self.assertTrue(
            refunds.filtered(lambda r: r.state == "failed" and r.failure_message)
        )
        self.assertTrue(
            refunds.filtered(lambda r: r.state == "pending" and r.outcome_unknown)
        )
        # A chargeback on a payment refunded before it: the credit-processed case.
        dispute = env["payment.dispute"].search([("company_id", "=", main.id)])
        self.assertEqual(len(dispute), 1)
        self.assertEqual(dispute.state, "needs_response")
        self.assertTrue(dispute.credit_processed_date)
        self.assertTrue(main.refund_policy_text)
        # A refund that paid back the credit note it created: the credit note paid.
        credited = refunds.filtered("credit_note_id")
        self.assertEqual(len(credited), 1)
        self.assertEqual(credited.state, "done")
        self.assertIn(
            credited.credit_note_id.payment_state,
            ("paid", credited.credit_note_id._get_invoice_in_payment_state()),
        )
        requesters = refunds.mapped("requested_by_id.login")
        for login in ("refund_proof_manager", "refund_proof_support"):
            self.assertIn(login, requesters)
        # Running the step again records nothing more.
        count = env["payment.refund"].search_count([])
        self.assertFalse(demo_shop.dress_shop(env))
        self.assertEqual(env["payment.refund"].search_count([]), count)
