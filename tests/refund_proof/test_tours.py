from odoo.tests import HttpCase, tagged

from .test_refund_proof import ProofCommon


@tagged("-at_install", "post_install")
class TestRefundTours(ProofCommon, HttpCase):
    """Browser tours in Chromium (Debian package), as the users who do these things."""

    def test_refund_user_refunds_part_of_a_transaction(self):
        tx = self._create_paid_transaction(100.0)
        self.start_tour(
            f"/odoo/action-payment.action_payment_transaction/{tx.id}",
            "refund_proof_partial_refund",
            login=self.refund_user.login,
        )
        self.assertRecordValues(
            tx.refund_ids,
            [
                {
                    "amount": 25.0,
                    "state": "done",
                    "reason_id": self.reason_customer.id,
                    "requested_by_id": self.refund_user.id,
                }
            ],
        )

    def test_manager_approves_a_request(self):
        self.refund_user.refund_limit = 10.0
        refund = self._refund(self._create_paid_transaction(100.0), 60.0)
        self.assertEqual(refund.state, "to_approve")
        self.start_tour(
            f"/odoo/action-refund_proof.payment_refund_action/{refund.id}",
            "refund_proof_approve",
            login=self.refund_manager.login,
        )
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "approved_by_id": self.refund_manager.id,
                }
            ],
        )

    def test_portal_customer_finds_the_proof(self):
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        self._refund(tx, 40.0)
        self.start_tour("/my", "refund_proof_portal", login=self.portal_user.login)

    def test_visitor_opens_a_verification_url(self):
        refund = self._done_refund()
        path = refund.verification_url.split("/", 3)[3]
        self.browser_js(
            f"/{path}",
            "document.querySelector('.verdict.genuine') && "
            "document.body.innerText.includes(arguments_refund) "
            "? console.log('test successful') : console.error('not genuine');".replace(
                "arguments_refund", repr(refund.name)
            ),
            ready="document.readyState === 'complete'",
        )
