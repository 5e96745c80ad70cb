from odoo.tests import HttpCase, new_test_user, tagged

from .test_refund_proof import ProofCommon


@tagged("-at_install", "post_install")
class TestRefundPortal(ProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_partner.email = "portal.customer@example.com"
        cls.other_portal_user = new_test_user(
            cls.env,
            login="other_customer",
            groups="base.group_portal",
            name="Other Customer",
        )

    def _refund_for(self, partner, amount=20.0):
        tx = self._create_paid_transaction(100.0, partner_id=partner.id)
        return self._refund(tx, amount)

    def test_owner_lists_and_opens_their_refunds(self):
        """A portal customer sees their refunds, not others', and their detail."""
        mine = self._refund_for(self.portal_partner)
        theirs = self._refund_for(self.other_portal_user.partner_id)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open("/my/refunds")
        self.assertEqual(page.status_code, 200)
        self.assertIn(mine.name, page.text)
        self.assertNotIn(theirs.name, page.text)
        detail = self.url_open(f"/my/refunds/{mine.id}")
        self.assertEqual(detail.status_code, 200)
        self.assertIn(mine.name, detail.text)
        self.assertIn("Download the proof", detail.text)

    def test_owner_downloads_the_proof(self):
        """The owner downloads the proof, named after the refund."""
        mine = self._refund_for(self.portal_partner)
        # Issued as the mail cron does after the commit: a download serves that file.
        self.env["ir.config_parameter"].sudo().set_param("report.url", self.base_url())
        proof = mine.with_context(force_report_rendering=True)._ensure_proof()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(f"/my/refunds/{mine.id}?report_type=pdf&download=true")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, proof.attachment_id.raw)
        # Odoo's portal makes the name file-system safe: "Proof of refund -
        # RF/2026/00001"
        self.assertIn(
            f"Proof_of_refund_{mine.name.replace('/', '_')}.pdf",
            response.headers["Content-Disposition"],
        )

    def test_another_customer_is_redirected(self):
        """Another portal user asking for the refund is redirected, with no data."""
        mine = self._refund_for(self.portal_partner)
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        for url in (
            f"/my/refunds/{mine.id}",
            f"/my/refunds/{mine.id}?report_type=pdf&download=true",
        ):
            with self.subTest(url=url):
                response = self.url_open(url, allow_redirects=False)
                self.assertEqual(response.status_code, 303)
                self.assertTrue(response.headers["Location"].endswith("/my"))

    def test_access_token_works_without_account_and_wrong_one_fails(self):
        """The e-mail's link works without an account; a wrong token does not."""
        refund = self._done_refund()  # the customer has no user
        refund._portal_ensure_token()
        ok = self.url_open(
            f"/my/refunds/{refund.id}?access_token={refund.access_token}"
        )
        self.assertEqual(ok.status_code, 200)
        self.assertIn(refund.name, ok.text)
        pdf = self.url_open(
            f"/my/refunds/{refund.id}?access_token={refund.access_token}"
            "&report_type=pdf&download=true"
        )
        self.assertEqual(pdf.status_code, 200)
        wrong = self.url_open(
            f"/my/refunds/{refund.id}?access_token={'0' * 36}", allow_redirects=False
        )
        self.assertEqual(wrong.status_code, 303)

    def test_requests_awaiting_approval_are_not_shown(self):
        """A refund not sent yet (awaiting approval) is not on the portal."""
        user = new_test_user(
            self.env,
            login="zero_limit",
            groups="base.group_user,refund_proof.group_refund_user",
        )
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        request = self._refund(tx, 10.0, user=user)
        self.assertEqual(request.state, "to_approve")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self.assertNotIn(request.name, self.url_open("/my/refunds").text)
        response = self.url_open(f"/my/refunds/{request.id}", allow_redirects=False)
        self.assertEqual(response.status_code, 303)

    def test_home_counter(self):
        """The Refunds tile counts the customer's refunds."""
        self._refund_for(self.portal_partner)
        self._refund_for(self.portal_partner)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        result = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["refund_count"]}
        )
        self.assertEqual(result["refund_count"], 2)
