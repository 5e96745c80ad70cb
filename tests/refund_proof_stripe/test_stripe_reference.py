"""refund_proof_stripe: the ARN asked of Stripe when no event brings it.

The reference cron of refund_proof (`payment.refund._cron_fetch_refund_references`)
runs at controlled times (frozen clock); Stripe's API is the local fake server.
"""

from datetime import datetime, timedelta

from odoo.tests import freeze_time, tagged

from odoo.addons.payment_stripe import const as stripe_const

from ..provider_api_server import load
from .test_stripe import ARN, REFUND_ID, StripeCase

START = datetime(2026, 6, 1, 9, 0)


@tagged("-at_install", "post_install")
class TestStripeReferencePolling(StripeCase):
    def _done_stripe_refund(self):
        with freeze_time(START):
            tx = self._stripe_payment()
            refund = self._refund_and_answer(tx, status="succeeded")
        self.assertRecordValues(refund, [{"state": "done", "arn": False}])
        return refund

    def _stripe_answers(self, *answers):
        """GET refunds/<id> answers these recorded refunds in turn, then the last
        again; `refund_pending` is the succeeded refund whose ARN is pending."""
        answers = list(answers)

        def answer(request, match):
            name = answers.pop(0) if len(answers) > 1 else answers[0]
            if name == "refund_pending":
                return load("stripe", name, status="succeeded")
            return load("stripe", name)

        self.api.route("GET", rf"/v1/refunds/{REFUND_ID}$", answer)

    def _questions(self):
        return self.api.requests_to("GET", rf"/v1/refunds/{REFUND_ID}$")

    def _run_cron(self, when):
        with freeze_time(when):
            self.env["payment.refund"]._cron_fetch_refund_references()
        self.env.invalidate_all()

    def test_arn_fetched_by_polling_with_back_off(self):
        """An ARN no event brings is asked of Stripe one hour after the refund, then
        6 hours later, then a day later, and recorded when Stripe has it."""
        refund = self._done_stripe_refund()
        self._stripe_answers("refund_pending", "refund_pending", "refund_available")
        self._run_cron(START)
        self.assertFalse(self._questions(), "the first pass only plans")
        self.assertEqual(refund.reference_next_fetch, START + timedelta(hours=1))
        self._run_cron(START + timedelta(minutes=59))
        self.assertFalse(self._questions(), "not due yet")
        self._run_cron(START + timedelta(hours=1))
        self.assertEqual(len(self._questions()), 1)
        self.assertEqual(refund.reference_next_fetch, START + timedelta(hours=7))
        self._run_cron(START + timedelta(hours=7))
        self.assertEqual(refund.reference_next_fetch, START + timedelta(hours=31))
        self._run_cron(START + timedelta(hours=31))
        self.assertEqual(len(self._questions()), 3)
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "arn": ARN,
                    "reference_next_fetch": False,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self._run_cron(START + timedelta(days=40))
        self.assertEqual(len(self._questions()), 3, "not asked again")
        question = self._questions()[0]
        self.assertEqual(
            question["headers"]["Stripe-Version"], stripe_const.API_VERSION
        )
        self.assertEqual(
            question["headers"]["AUTHORIZATION"], "Bearer sk_test_refund_proof"
        )

    def test_first_question_is_one_hour_after_the_refund_not_the_cron(self):
        """The cron's first pass over a refund comes three hours after it (the cron
        was down, or the refund came in between two passes): Stripe is asked at once,
        as it was due one hour after the refund (it was planned one hour after that
        first pass: four hours after the refund), then six hours after that
        question."""
        refund = self._done_stripe_refund()
        self._stripe_answers("refund_pending")
        self._run_cron(START + timedelta(hours=3))
        self.assertEqual(len(self._questions()), 1, "due since 1 h after the refund")
        self.assertEqual(refund.reference_next_fetch, START + timedelta(hours=3 + 6))

    def test_polling_stops_after_30_days_and_tells_the_managers(self):
        """Stripe never giving the ARN, it is asked with back-off (1 h, 6 h, 1 d,
        2 d, 4 d, 8 d, then every 8 days) until 30 days after the refund; then the
        refund managers get an activity to look for it in Stripe's dashboard."""
        refund = self._done_stripe_refund()
        self._stripe_answers("refund_pending")
        self._run_cron(START)
        asked_at = []
        while refund.reference_next_fetch:
            when = refund.reference_next_fetch
            asked_at.append(when - START)
            self._run_cron(when)
        hours = timedelta(hours=1)
        days = timedelta(days=1)
        self.assertEqual(
            asked_at,
            [
                hours,
                7 * hours,
                31 * hours,
                3 * days + 7 * hours,
                7 * days + 7 * hours,
                15 * days + 7 * hours,
                23 * days + 7 * hours,
                31 * days + 7 * hours,
            ],
        )
        self.assertEqual(len(self._questions()), 8)
        self.assertRecordValues(
            refund,
            [{"reference_fetch_stopped": True, "arn": False, "state": "done"}],
        )
        activity = refund.sudo().activity_ids.filtered(
            lambda a: a.user_id == self.refund_manager
        )
        self.assertEqual(len(activity), 1)
        self.assertIn("gave no ARN in 30 days", activity.summary)

    def test_polling_unavailable_says_no_arn_will_come(self):
        """Stripe answering that the reference is unavailable (a reversal) records
        that no ARN will come, and it is not asked again."""
        refund = self._done_stripe_refund()
        self._stripe_answers("refund_unavailable")
        self._run_cron(START)
        self._run_cron(START + timedelta(hours=1))
        self.assertRecordValues(
            refund,
            [{"arn": False, "arn_unavailable": True, "reference_next_fetch": False}],
        )
        self._run_cron(START + timedelta(days=2))
        self.assertEqual(len(self._questions()), 1)

    def test_polling_finds_a_late_failure(self):
        """A refund Stripe reports failed when asked (its event was missed) fails,
        its amount freed, and gets no reference."""
        refund = self._done_stripe_refund()
        self._stripe_answers("refund_failed")
        self._run_cron(START)
        self._run_cron(START + timedelta(hours=1))
        self.assertRecordValues(
            refund, [{"state": "failed", "arn": False, "arn_unavailable": False}]
        )
        self.assertAlmostEqual(
            refund.source_transaction_id.refund_remaining_amount, 100
        )
