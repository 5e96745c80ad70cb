from unittest.mock import patch

import requests

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .test_refund_mail import MailCase


@tagged("-at_install", "post_install")
class TestFaults(MailCase):
    """What is left after a fault is the truth, and the retry path works."""

    @mute_logger(
        "odoo.addons.refund_proof.models.payment_refund",
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

    def test_crash_after_the_provider_refunded_is_recovered_by_its_webhook(self):
        """The process dies after the provider refunded but before Odoo committed:
        nothing is in the database, and the provider's webhook records the refund
        truthfully."""
        tx = self._create_paid_transaction(100.0)

        class Crash(Exception):
            pass

        with self.assertRaises(Crash), self.cr.savepoint():
            self._refund(tx, 30.0)  # the demo provider confirms at once
            raise Crash  # killed before the commit: the transaction is rolled back
        self.env.invalidate_all()
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        # The provider still refunded: its notification arrives and is recorded.
        refund_tx = tx.sudo()._create_child_transaction(30.0, is_refund=True)
        refund_tx._handle_notification_data(
            "demo", {"reference": refund_tx.reference, "simulated_state": "done"}
        )
        self.assertRecordValues(
            tx.refund_ids,
            [
                {
                    "origin": "provider",
                    "amount": 30.0,
                    "state": "done",
                }
            ],
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)

    def test_provider_timeout_is_recorded_and_retried(self):
        """A provider API that times out (the network faked, not Odoo) leaves a
        failed refund with the message; the retry succeeds once the API answers."""
        tx = self._create_paid_transaction(100.0)

        def timeout(*args, **kwargs):
            try:
                raise requests.exceptions.ReadTimeout("Read timed out (10 s)")
            except requests.exceptions.RequestException as error:
                # What provider glue does with a network error (payment_stripe et al.).
                raise ValidationError(
                    f"Demo: Could not establish the connection to the API: {error}"
                ) from error

        with patch.object(
            self.registry["payment.transaction"],
            "_send_refund_request",
            side_effect=timeout,
        ):
            refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("Read timed out", refund.failure_message)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.customer_mail_pending, "done")
