"""What follows an offer of another way to be paid back when nobody acts: the offer
sent by the failure itself (a company setting, off by default), reminders to the
customer, then a to-do for the refund managers."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundPayoutFollowUp(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com"})

    def setUp(self):
        super().setUp()
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"

    def _fail_a_refund(self, amount=40.0, **values):
        tx = self._create_paid_transaction(
            100.0, provider=self.dummy_provider, **values
        )
        refund = self._refund(tx, amount, reason=self.reason_customer)
        # As the provider's webhook does (routes in sudo mode).
        refund.transaction_ids.sudo()._set_error("expired_or_canceled_card")
        self.assertEqual(refund.state, "failed")
        return refund

    def _customer_mails(self, refund):
        return self.env["mail.mail"].search(
            [
                ("model", "=", "payment.refund"),
                ("res_id", "=", refund.id),
                ("recipient_ids", "in", self.partner.ids),
            ],
            order="id",
        )

    def _notes(self, refund, text):
        return refund.message_ids.filtered(lambda m: text in (m.body or ""))

    def _run_cron_at(self, when):
        with freeze_time(when):
            self.env["payment.refund"]._cron_follow_up_payout_offers()

    def test_no_offer_on_failure_by_default(self):
        """Off by default: a refund manager decides to offer."""
        refund = self._fail_a_refund()
        self.assertFalse(self.env.company.refund_payout_auto_offer)
        self.assertFalse(refund.payout_offer_date)
        self.assertFalse(self._customer_mails(refund))

    def test_failure_offers_when_the_company_says_so(self):
        """With the setting, the failure itself e-mails the offer and its link."""
        self.env.company.refund_payout_auto_offer = True
        refund = self._fail_a_refund()
        self.assertTrue(refund.payout_offer_date)
        [mail] = self._customer_mails(refund)
        self.assertIn(f"/my/refunds/{refund.id}/payout?access_token=", mail.body_html)
        self.assertTrue(self._notes(refund, "company setting"), "the chatter says why")

    def test_failure_without_an_address_says_why_no_offer(self):
        """A customer without e-mail gets no offer; the chatter says why."""
        self.env.company.refund_payout_auto_offer = True
        silent = self.env["res.partner"].create({"name": "Sam Silent"})
        refund = self._fail_a_refund(partner_id=silent.id)
        self.assertFalse(refund.payout_offer_date)
        self.assertTrue(self._notes(refund, "has no e-mail address"))

    def test_failed_replacement_is_not_offered_again_by_itself(self):
        """A replacement that fails too waits for a manager: the customer already
        chose once."""
        self.env.company.refund_payout_auto_offer = True
        refund = self._fail_a_refund()
        # As the choice page calls it, after its access check.
        replacement = refund.sudo()._request_payout(
            "bank_transfer", holder="Norbert Buyer", iban="FR7630006000011234567890189"
        )
        replacement.with_user(self.refund_manager).action_reject("Wrong account")
        self.assertEqual(replacement.state, "cancelled")
        self.assertFalse(replacement.payout_offer_date)

    def test_reminders_then_the_managers(self):
        """Days 3 and 10 remind the customer (the same link, their language), day
        14 asks the refund managers; each once, and nothing more after."""
        refund = self._fail_a_refund()
        offered = fields.Datetime.now()
        with freeze_time(offered):
            refund.with_user(self.refund_manager).action_offer_payout()
        self.assertEqual(len(self._customer_mails(refund)), 1, "the offer")
        self._run_cron_at(offered + timedelta(days=2, hours=23))
        self.assertEqual(len(self._customer_mails(refund)), 1, "too early")
        self._run_cron_at(offered + timedelta(days=3, hours=1))
        mails = self._customer_mails(refund)
        self.assertEqual(len(mails), 2)
        self.assertIn("reminder", mails[-1].subject)
        self.assertIn(refund._get_payout_url(), mails[-1].body_html)
        self._run_cron_at(offered + timedelta(days=4))
        self.assertEqual(len(self._customer_mails(refund)), 2, "once each")
        self._run_cron_at(offered + timedelta(days=10, hours=1))
        self.assertEqual(len(self._customer_mails(refund)), 3)
        self.assertEqual(refund.payout_reminder_count, 2)
        self.assertFalse(refund.activity_ids.filtered(lambda a: "contact" in a.summary))
        self._run_cron_at(offered + timedelta(days=14, hours=1))
        todo = refund.activity_ids.filtered(lambda a: "contact them" in a.summary)
        self.assertEqual(todo.user_id, self.refund_manager)
        self.assertTrue(refund.payout_escalation_date)
        self._run_cron_at(offered + timedelta(days=30))
        self.assertEqual(len(self._customer_mails(refund)), 3)
        self.assertEqual(
            len(refund.activity_ids.filtered(lambda a: "contact them" in a.summary)), 1
        )

    def test_an_answer_stops_the_reminders(self):
        """Once the customer chose, nobody is reminded or asked."""
        refund = self._fail_a_refund()
        refund.with_user(self.refund_manager).action_offer_payout()
        refund.sudo()._request_payout(
            "bank_transfer", holder="Norbert Buyer", iban="FR7630006000011234567890189"
        )
        offered = refund.payout_offer_date
        self._run_cron_at(offered + timedelta(days=15))
        self.assertEqual(refund.payout_reminder_count, 0)
        self.assertFalse(refund.payout_escalation_date)

    def test_settings_turn_steps_off(self):
        """0 turns a step off: no first reminder, the second at its day."""
        self.env.company.write(
            {"refund_payout_reminder_days": 0, "refund_payout_escalation_days": 0}
        )
        refund = self._fail_a_refund()
        refund.with_user(self.refund_manager).action_offer_payout()
        offered = refund.payout_offer_date
        self._run_cron_at(offered + timedelta(days=5))
        self.assertEqual(refund.payout_reminder_count, 0)
        self._run_cron_at(offered + timedelta(days=11))
        self.assertEqual(refund.payout_reminder_count, 1)
        self._run_cron_at(offered + timedelta(days=60))
        self.assertEqual(refund.payout_reminder_count, 1)
        self.assertFalse(refund.payout_escalation_date)

    def test_negative_days_are_refused(self):
        with self.assertRaises(ValidationError):
            self.env.company.refund_payout_second_reminder_days = -1
