"""The customer's portal shows a failed refund once they are offered another way to be
paid back: the offer's link on its page, then what they chose; never before the
offer."""

from odoo.tests import HttpCase, tagged

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundPayoutPortal(RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_partner.email = "portal.customer@example.com"

    def setUp(self):
        super().setUp()
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        tx = self._create_paid_transaction(
            100.0, provider=self.dummy_provider, partner_id=self.portal_partner.id
        )
        self.failed = self._refund(tx, 40.0, reason=self.reason_customer)
        # As the provider's webhook does (routes in sudo mode).
        self.failed.transaction_ids.sudo()._set_error("expired_or_canceled_card")
        self.assertEqual(self.failed.state, "failed")

    def _portal_refunds(self):
        return (
            self.env["payment.refund"]
            .with_user(self.portal_user)
            .search([("id", "=", self.failed.id)])
        )

    def test_failed_refund_is_not_shown_before_an_offer(self):
        """A failure under the back office's review is not the customer's page yet
        (record rule, list and page)."""
        self.assertFalse(self._portal_refunds())
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self.assertNotIn(self.failed.name, self.url_open("/my/refunds").text)
        page = self.url_open(f"/my/refunds/{self.failed.id}", allow_redirects=False)
        self.assertEqual(page.status_code, 303)

    def test_offer_is_on_the_refund_page(self):
        """Once offered, the list says the customer's choice is needed and the page
        links to the choice page."""
        self.failed.with_user(self.refund_manager).action_offer_payout()
        self.assertEqual(self._portal_refunds(), self.failed)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        listing = self.url_open("/my/refunds").text
        self.assertIn(self.failed.name, listing)
        self.assertIn("Your choice needed", listing)
        page = self.url_open(f"/my/refunds/{self.failed.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn('id="refund_payout_offer"', page.text)
        self.assertIn(f"/my/refunds/{self.failed.id}/payout", page.text)
        self.assertNotIn("Download the proof", page.text, "no proof: not refunded")

    def test_page_says_what_was_chosen(self):
        """After the choice, the page says it is being processed, without a second
        link."""
        self.failed.with_user(self.refund_manager).action_offer_payout()
        # As the choice page calls it, after its access check.
        choice = self.failed.sudo()._request_payout(
            "bank_transfer",
            holder="Portal Customer",
            iban="FR7630006000011234567890189",
        )
        page = self.url_open(self.failed.get_portal_url())
        self.assertEqual(page.status_code, 200, "the refund's token opens it too")
        self.assertIn("we are processing it", page.text)
        self.assertIn(choice.name, page.text)
        self.assertNotIn(f"/my/refunds/{self.failed.id}/payout", page.text)
        self.assertNotIn("0189", page.text, "nothing of the account on the page")
