"""Issue 26 through Adyen: a refund that Adyen reports failed days after it looked
done (REFUND_FAILED, a signed notification) reaches the customer another way, by
their choice on the e-mailed link."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..payout_choice import form_csrf, offer_link, post_choice
from .test_adyen import AdyenCase


@tagged("-at_install", "post_install")
class TestAdyenPayout(AdyenCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com", "lang": "en_US"})

    def test_refund_failed_after_done_is_paid_back_by_the_customers_choice(self):
        """REFUND_FAILED after the proof went out: the offer is e-mailed (company
        setting); the customer's bank transfer waits for a manager, then is done
        once the transfer is confirmed; the payment's cap holds throughout."""
        self.env.company.refund_payout_auto_offer = True
        tx = self._paid()
        refund = self._done_adyen_refund(tx, event="notification_refund_arn")
        self._run_mail_cron()
        response = self._post_refund_event("notification_refund_failed", refund)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(refund.state, "failed")
        self.assertIn("card scheme rejected it", refund.failure_message)
        self.assertTrue(refund.payout_offer_date)
        [mail] = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", "payment.refund"),
                    ("res_id", "=", refund.id),
                    ("subject", "ilike", "could not reach your card"),
                    ("recipient_ids", "in", self.partner.ids),
                ]
            )
        )
        link = offer_link(mail)
        csrf = form_csrf(self, link)
        self.assertEqual(post_choice(self, link, csrf=csrf).status_code, 200)
        replacement = refund.replacement_refund_ids
        self.assertEqual(replacement.state, "to_approve")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
        # The card refund cannot go out again beside it.
        with self.assertRaisesRegex(UserError, "cannot be sent again"):
            refund.with_user(self.refund_manager).action_retry()
        replacement.with_user(self.refund_manager).action_approve()
        replacement.with_user(self.refund_manager).action_confirm_transfer(
            "TRF2026120600043"
        )
        self.assertEqual(replacement.state, "done")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
