from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..fakepsp_server import FakePSPServer
from .test_refund_mail import MailCase
from .test_refund_proof import VALID_ARN

WEBHOOK_SECRET = "whsec_refund_proof_tests"


@tagged("-at_install", "post_install")
class TestFaults(MailCase):
    """What is left after a fault is the truth, and the retry path works.

    Provider faults go through the fake PSP (tests/addons/payment_fakepsp): provider
    glue written as Odoo's own, talking HTTP to a scripted server
    (tests/fakepsp_server.py). Only the network is fake.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fakepsp = cls._prepare_provider(
            "fakepsp",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "fakepsp_webhook_secret": WEBHOOK_SECRET,
            },
        )
        cls.fakepsp.payment_method_ids.write({"active": True})

    def setUp(self):
        super().setUp()
        self.psp = FakePSPServer(WEBHOOK_SECRET).start()
        self.addCleanup(self.psp.stop)
        self.fakepsp.fakepsp_api_url = self.psp.url

    def _paid(self, amount=100.0):
        return self._create_paid_transaction(amount, provider=self.fakepsp)

    def _post_webhook(self, refund_id, **changes):
        """Post the PSP's notification of one of its refunds to Odoo's webhook."""
        body, headers = self.psp.refund_event(refund_id, **changes)
        response = self.url_open("/payment/fakepsp/webhook", data=body, headers=headers)
        self.env.invalidate_all()
        return response

    def _assert_nothing_half_written(self, tx, refund):
        self.assertFalse(refund.transaction_ids, "no attempt left by the failed call")
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(self.psp.refunds, "the PSP made no refund")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")
        self.assertFalse(refund.customer_mail_pending, "nothing to tell the customer")

    def _assert_retry_makes_it_done(self, tx, refund):
        self.psp.make_refund(arn=VALID_ARN)
        refund.with_user(self.refund_user).action_retry()
        [psp_refund] = self.psp.refunds.values()
        self.assertEqual(psp_refund["amount"], 4000, "sent in minor units")
        self.assertEqual(psp_refund["payment_reference"], tx.reference)
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "failure_message": False,
                    "arn": VALID_ARN,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self.assertEqual(refund.transaction_ids.provider_reference, psp_refund["id"])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    @mute_logger(
        "odoo.addons.refund_proof.models.payment_refund_mail",
        "odoo.addons.base.models.ir_actions_report",
    )
    def test_pdf_rendering_failing_keeps_the_refund_and_the_mail_pending(self):
        """wkhtmltopdf failing (here: a binary that exits with an error) leaves the
        refund done and its e-mail pending; the next run sends it."""
        refund = self._done_refund()
        with patch(
            "odoo.addons.base.models.ir_actions_report._get_wkhtmltopdf_bin",
            return_value="/bin/false",
        ):
            self._run_mail_cron()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.customer_mail_pending, "done")
        self.assertFalse(self._customer_mails(refund))
        self.assertFalse(refund.proof_ids, "no proof stored from a failed rendering")
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1)
        self.assertEqual(len(refund.proof_ids), 1)

    @mute_logger("odoo.addons.refund_proof.models.payment_refund_mail")
    def test_pdf_tool_missing_keeps_the_refund_and_the_mail_pending(self):
        """wkhtmltopdf not installed: the refund stays done, its e-mail pending, no
        proof is stored; once it is installed, the next run sends it."""
        refund = self._done_refund()
        with patch.object(
            self.registry["ir.actions.report"],
            "get_wkhtmltopdf_state",
            return_value="install",
        ):
            self._run_mail_cron()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.customer_mail_pending, "done")
        self.assertFalse(self._customer_mails(refund))
        self.assertFalse(refund.proof_ids)
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1)
        self.assertEqual(len(refund.proof_ids), 1)

    def test_psp_decline_is_recorded_with_its_message_and_retried(self):
        """The PSP declining (HTTP 402) leaves a failed refund with the PSP's message
        and nothing half-written; the retry makes it done once the PSP accepts."""
        tx = self._paid(100.0)
        self.psp.decline("Insufficient balance on the merchant account.")
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("HTTP 402", refund.failure_message)
        self.assertIn(
            "Insufficient balance on the merchant account.", refund.failure_message
        )
        self._assert_nothing_half_written(tx, refund)
        self._assert_retry_makes_it_done(tx, refund)

    def _assert_outcome_unknown(self, tx, refund):
        """Pending, its amount held, nothing to retry: the PSP may have refunded."""
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertEqual(len(self.psp.received), 1, "the request reached the PSP")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="amount held")
        self.assertFalse(refund.customer_mail_pending)
        with self.assertRaisesRegex(UserError, "Only failed refunds can be retried"):
            refund.with_user(self.refund_user).action_retry()
        self.assertEqual(len(self.psp.received), 1, "nothing sent twice")
        with self.assertRaisesRegex(UserError, "only .*60.00 can still be refunded"):
            self._refund(tx, 70.0)
        activities = refund.sudo().activity_ids.filtered(
            lambda a: "outcome unknown" in (a.summary or "")
        )
        self.assertEqual(
            activities.user_id, self.refund_user | self.refund_manager, "who must check"
        )

    def test_psp_timeout_after_refunding_is_settled_by_its_webhook(self):
        """The PSP refunds but answers after the provider's timeout: the refund may have
        been made, so it stays pending with its amount held (a retry could refund the
        customer twice); the PSP's webhook then makes that same refund done."""
        tx = self._paid(100.0)
        self.fakepsp.fakepsp_timeout = 0.5
        self.psp.stall(30, made=True)
        refund = self._refund(tx, 40.0)
        self.assertIn("timed out", refund.failure_message)
        self.assertIn("0.5 seconds", refund.failure_message)
        self.assertFalse(refund.transaction_ids, "the call's attempt was rolled back")
        self._assert_outcome_unknown(tx, refund)

        [psp_id] = self.psp.refunds
        self.assertEqual(self._post_webhook(psp_id, arn=VALID_ARN).status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "outcome_unknown": False,
                    "failure_message": False,
                    "arn": VALID_ARN,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self.assertEqual(refund.transaction_ids.provider_reference, psp_id)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
        self.assertFalse(refund.sudo().activity_ids, "nothing left to check")

    def test_connection_lost_after_sending_is_an_unknown_outcome(self):
        """The connection closing after the request was sent is no refusal either."""
        tx = self._paid(100.0)
        self.psp.drop(made=True)
        refund = self._refund(tx, 40.0)
        self._assert_outcome_unknown(tx, refund)

    def test_unknown_outcome_decided_by_a_manager(self):
        """Without the PSP's notification, a refund manager who checked the PSP's
        dashboard decides: not refunded (then it can be retried) or refunded."""
        tx = self._paid(100.0)
        self.fakepsp.fakepsp_timeout = 0.5
        self.psp.stall(30)  # The PSP made nothing.
        refund = self._refund(tx, 40.0)
        self._assert_outcome_unknown(tx, refund)
        with self.assertRaisesRegex(AccessError, "Only a refund manager"):
            refund.with_user(self.refund_user).action_mark_not_refunded()
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.assertRecordValues(refund, [{"state": "failed", "outcome_unknown": False}])
        self.assertIn("Max Manager", refund.failure_message)
        self.assertEqual(
            refund.sudo().activity_ids.user_id,
            self.refund_user,
            "the requester may retry",
        )
        self.assertFalse(self.psp.refunds)
        self.psp.received.clear()
        self._assert_retry_makes_it_done(tx, refund)
        with self.assertRaisesRegex(UserError, "outcome of .* is known"):
            refund.with_user(self.refund_manager).action_mark_refunded()

        other = self._paid(100.0)
        self.psp.stall(30, made=True)
        self.psp.received.clear()
        second = self._refund(other, 40.0)
        self._assert_outcome_unknown(other, second)
        second.with_user(self.refund_manager).action_mark_refunded()
        self.assertRecordValues(
            second,
            [
                {
                    "state": "done",
                    "outcome_unknown": False,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self.assertTrue(second.refund_date)
        # The PSP's notification arriving after the decision is that same refund.
        psp_id = list(self.psp.refunds)[-1]
        self.assertEqual(self._post_webhook(psp_id, arn=VALID_ARN).status_code, 200)
        self.assertEqual(other.refund_ids, second, "not recorded twice")
        self.assertRecordValues(second, [{"state": "done", "arn": VALID_ARN}])
        self.assertEqual(second.transaction_ids.provider_reference, psp_id)
        self.assertAlmostEqual(other.refund_remaining_amount, 60.0)

    def test_late_reversal_reported_by_webhook_fails_the_refund(self):
        """A done refund the PSP later reports failed (a public webhook request) fails,
        frees its amount and says when."""
        tx = self._paid(100.0)
        self.psp.make_refund(arn=VALID_ARN)
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "done")
        [psp_id] = self.psp.refunds
        response = self._post_webhook(
            psp_id, status="failed", failure_message="Returned by the issuer."
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund,
            [{"state": "failed", "failure_message": "Returned by the issuer."}],
        )
        self.assertTrue(refund.reversal_date)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_psp_down_is_recorded_and_retried(self):
        """The PSP refusing connections leaves a failed refund saying so, and nothing
        half-written; the retry makes it done once the PSP is back."""
        tx = self._paid(100.0)
        self.psp.stop()
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("could not establish the connection", refund.failure_message)
        self.assertIn("Connection refused", refund.failure_message)
        self._assert_nothing_half_written(tx, refund)
        self.psp.start()
        self._assert_retry_makes_it_done(tx, refund)

    def test_refund_the_psp_reports_failed_keeps_its_attempt_and_message(self):
        """A refund the PSP answers as failed is failed with the PSP's message, its
        attempt kept in error and its amount freed."""
        tx = self._paid(100.0)
        self.psp.make_refund(status="failed", failure_message="The card was closed.")
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(
            refund, [{"state": "failed", "failure_message": "The card was closed."}]
        )
        self.assertRecordValues(
            refund.transaction_ids,
            [{"state": "error", "provider_reference": "re_0001"}],
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_crash_after_the_psp_refunded_is_recovered_by_its_webhook(self):
        """The process dies after the PSP refunded but before Odoo committed: nothing
        is in Odoo, and the PSP's webhook records the refund truthfully, once."""
        tx = self._paid(100.0)
        self.psp.make_refund(arn=VALID_ARN)

        class Crash(Exception):
            pass

        with self.assertRaises(Crash), self.cr.savepoint():
            self._refund(tx, 30.0)
            raise Crash  # killed before the commit: the transaction is rolled back
        self.env.invalidate_all()
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        # The PSP did refund; its webhook arrives (at least once: here twice).
        [psp_refund] = self.psp.refunds.values()
        self.assertEqual(psp_refund["amount"], 3000)
        for _delivery in range(2):
            response = self._post_webhook(psp_refund["id"])
            self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            tx.refund_ids,
            [
                {
                    "origin": "provider",
                    "state": "done",
                    "amount": 30.0,
                    "arn": VALID_ARN,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self.assertEqual(
            tx.refund_ids.transaction_ids.provider_reference, psp_refund["id"]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)

    def test_pending_refund_is_made_done_by_the_psp_webhook_with_its_arn(self):
        """A refund the PSP accepts as pending holds its amount; the PSP's webhook
        makes it done, with its ARN, and the customer's e-mail is scheduled."""
        tx = self._paid(100.0)
        self.psp.make_refund(status="pending")
        refund = self._refund(tx, 25.0)
        self.assertRecordValues(
            refund, [{"state": "pending", "arn": False, "customer_mail_pending": False}]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 75.0, msg="held")
        [psp_id] = self.psp.refunds
        self.assertEqual(refund.transaction_ids.provider_reference, psp_id)
        response = self._post_webhook(psp_id, status="succeeded", arn=VALID_ARN)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "completed, nothing new recorded")
        self.assertRecordValues(
            refund,
            [
                {
                    "origin": "odoo",
                    "state": "done",
                    "arn": VALID_ARN,
                    "customer_mail_pending": "done",
                }
            ],
        )
        self.assertTrue(refund.refund_date)
        self.assertAlmostEqual(tx.refund_remaining_amount, 75.0)

    @mute_logger("odoo.addons.payment_fakepsp.controllers.main")
    def test_webhook_not_signed_by_the_psp_is_refused(self):
        """A notification not signed with the webhook secret is refused, no change."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "done")
        self.psp.webhook_secret = "not-the-secret"
        response = self._post_webhook(
            refund.transaction_ids.provider_reference, status="failed"
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.transaction_ids.state, "done")
