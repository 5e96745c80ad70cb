"""Issue 26 through Stripe: a card refund that Stripe fails after it succeeded
(refund.failed, `expired_or_canceled_card`, a signed webhook) reaches the customer
another way, by their choice on the e-mailed link."""

from odoo.tests import tagged

from ..payout_choice import form_csrf, offer_link, post_choice
from ..provider_api_server import load
from .test_stripe import StripeCase


@tagged("-at_install", "post_install")
class TestStripePayout(StripeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com", "lang": "en_US"})

    def _offer_mails(self, refund):
        return (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", "payment.refund"),
                    ("res_id", "=", refund.id),
                    ("recipient_ids", "in", refund.partner_id.ids),
                    ("subject", "ilike", "could not reach your card"),
                ]
            )
        )

    def _failed_by_stripe(self):
        """A refund done at Stripe, then failed by Stripe's signed refund.failed."""
        tx = self._stripe_payment()
        refund = self._refund_and_answer(tx, status="succeeded")
        self.assertEqual(refund.state, "done")
        failed = load("stripe", "refund_failed")
        self.assertEqual(failed["failure_reason"], "expired_or_canceled_card")
        self.assertEqual(self._post_event("refund.failed", failed).status_code, 200)
        self.assertEqual(refund.state, "failed")
        return tx, refund

    def test_failure_offers_the_customer_another_way_by_itself(self):
        """With the company's setting, Stripe's failure e-mails the offer; the
        customer's choice of a bank transfer (a bad IBAN refused first, nothing
        created) waits for a manager; a second post is refused."""
        self.env.company.refund_payout_auto_offer = True
        tx, refund = self._failed_by_stripe()
        [mail] = self._offer_mails(refund)
        self.assertEqual(mail.state, "outgoing", "in Odoo's mail queue")
        link = offer_link(mail)

        bad = post_choice(self, link, iban="FR76 3000 6000 0112 3456 7890 188")
        self.assertEqual(bad.status_code, 400)
        self.assertIn("This IBAN is not valid", bad.text)
        self.assertFalse(refund.replacement_refund_ids)

        csrf = form_csrf(self, link)
        good = post_choice(self, link, csrf=csrf)
        self.assertEqual(good.status_code, 200)
        replacement = refund.replacement_refund_ids
        self.assertRecordValues(
            replacement,
            [
                {
                    "state": "to_approve",
                    "amount": refund.amount,
                    "origin": "manual",
                    "manual_method": "bank_transfer",
                    "payout_iban_display": "FR76 •••• •••• 0189",
                }
            ],
        )
        self.assertEqual(tx.refund_remaining_amount, 100.0 - refund.amount)
        again = post_choice(self, link, csrf=csrf, iban="DE89 3704 0044 0532 0130 00")
        self.assertEqual(again.status_code, 409)
        self.assertEqual(len(refund.replacement_refund_ids), 1)

        replacement.with_user(self.refund_manager).action_approve()
        self.assertEqual(replacement.state, "pending", "until the transfer is made")
        replacement.with_user(self.refund_manager).action_confirm_transfer(
            "TRF2026120600042"
        )
        self.assertEqual(replacement.state, "done")
        self.assertEqual(tx.refund_remaining_amount, 100.0 - refund.amount)

    def test_another_refunds_token_opens_nothing(self):
        """The link answers for its own refund only."""
        self.env.company.refund_payout_auto_offer = True
        _tx, refund = self._failed_by_stripe()
        link = offer_link(self._offer_mails(refund))
        other = self._refund(
            self._stripe_payment(intent_id="pi_3RpTestIntent0000000002"), 10.0
        )
        other._portal_ensure_token()
        forged = link.replace(f"/my/refunds/{refund.id}/", f"/my/refunds/{other.id}/")
        self.assertEqual(self.url_open(forged).status_code, 404)

    def test_no_offer_without_the_setting(self):
        """Off by default: the back office is told, the customer not yet."""
        _tx, refund = self._failed_by_stripe()
        self.assertFalse(self._offer_mails(refund))
        self.assertFalse(refund.payout_offer_date)
