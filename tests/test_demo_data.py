from odoo.tests import tagged

from .common import RefundProofCommon


@tagged("-at_install", "post_install")
class TestDemoData(RefundProofCommon):
    def test_demo_builds_refunds_in_every_state(self):
        """The demo of `make run` builds users per role and refunds in every state."""
        main = self.env.ref("base.main_company")
        # As demo data loads: superuser, main company.
        self.assertTrue(
            self.env["payment.refund"].sudo().with_company(main)._demo_populate()
        )
        refunds = (
            self.env["payment.refund"].sudo().search([("company_id", "=", main.id)])
        )
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
        Users = self.env["res.users"].sudo()
        for login in ("manager", "support", "customer"):
            self.assertTrue(Users.search([("login", "=", login)]), login)
