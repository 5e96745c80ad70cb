from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.addons.mail.tests.common import MockEmail

from .test_refund_proof import VALID_ARN, RealPdfCase


class MailCase(RealPdfCase, MockEmail):
    def _run_mail_cron(self):
        # What the triggered cron does after the refund's commit, with real PDFs.
        self.env["payment.refund"].with_context(
            force_report_rendering=True
        )._cron_send_customer_mails()

    def _customer_mails(self, refund):
        return (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", "payment.refund"),
                    ("res_id", "=", refund.id),
                    ("recipient_ids", "in", refund.partner_id.ids),
                ]
            )
        )

    def _process_mail_queue(self):
        self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()

    def _delivered(self, mail):
        """The messages handed to the SMTP server for `mail` (its message's other
        mails, to other recipients, share its Message-Id)."""
        addresses = set(mail.recipient_ids.mapped("email"))
        return [
            email
            for email in self.emails
            if mail.message_id in email["message"]
            and addresses & set(email["smtp_to_list"])
        ]

    def _email_notification(self, mail):
        return self.env["mail.notification"].search(
            [("mail_mail_id", "=", mail.id), ("notification_type", "=", "email")]
        )


@tagged("-at_install", "post_install")
class TestRefundMail(MailCase):
    def test_done_refund_mails_the_customer_the_proof_after_commit(self):
        """A done refund queues one e-mail to the customer, the PDF proof attached."""
        refund = self._done_refund(arn=VALID_ARN)
        self.assertEqual(refund.customer_mail_pending, "done")
        self.assertFalse(self._customer_mails(refund), "nothing sent inside the refund")
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing", "queued, sent by Odoo's mail queue")
        self.assertIn(refund.name, mail.subject)
        self.assertIn("40.00", mail.body_html)
        self.assertIn("7 461234 5678 90123456789 3", mail.body_html)
        self.assertIn(refund.verification_url, mail.body_html)
        self.assertIn(
            "access_token=", mail.body_html, "portal link that works without account"
        )
        self.assertEqual(mail.attachment_ids.mimetype, "application/pdf")
        self.assertEqual(
            mail.attachment_ids.name, f"Proof of refund - {refund.name}.pdf"
        )
        self.assertTrue(mail.attachment_ids.raw.startswith(b"%PDF"))
        self.assertEqual(refund.proof_ids.attachment_id, mail.attachment_ids)
        self.assertFalse(refund.customer_mail_pending)
        self.assertIn(
            refund.name, refund.message_ids[:1].subject or "", "shown in the chatter"
        )
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1, "sent once")

    def test_arn_arriving_later_sends_a_second_mail_with_a_new_proof(self):
        """The ARN known days later brings a second e-mail with the updated proof."""
        refund = self._done_refund()
        self._run_mail_cron()
        first = self._customer_mails(refund)
        self.assertIn("to follow", first.body_html)
        refund.with_user(self.refund_user).arn = VALID_ARN
        self.assertEqual(refund.customer_mail_pending, "arn")
        self._run_mail_cron()
        second = self._customer_mails(refund) - first
        self.assertEqual(len(second), 1)
        self.assertIn("7 461234 5678 90123456789 3", second.body_html)
        self.assertEqual(len(refund.proof_ids), 2, "a new proof was issued")
        latest = refund.proof_ids.sorted("id")[-1]
        self.assertEqual(second.attachment_ids, latest.attachment_id)
        self.assertEqual(latest.arn, VALID_ARN)

    def test_arn_known_before_the_first_mail_is_not_mailed_twice(self):
        """An ARN filled before the first e-mail went out rides along with it."""
        refund = self._done_refund()
        refund.with_user(self.refund_user).arn = VALID_ARN
        self.assertEqual(refund.customer_mail_pending, "done")
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1)

    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_smtp_failure_leaves_refund_done_and_mail_retryable(self):
        """The outgoing server failing leaves the refund done and the mail to retry."""
        refund = self._done_refund()
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        # Odoo's own SMTP mock, then the outgoing server refusing the message.
        with (
            self.mock_mail_gateway(),
            patch(
                "odoo.addons.base.models.ir_mail_server.IrMailServer.send_email",
                side_effect=MailDeliveryException("Connection refused by smtp.example"),
            ),
        ):
            mail.send(raise_exception=False)
        self.assertEqual(mail.state, "exception")
        self.assertIn("Connection refused", mail.failure_reason)
        self.assertEqual(refund.state, "done")
        mail.mark_outgoing()
        self.assertEqual(mail.state, "outgoing", "back in the queue")
        with self.mock_mail_gateway():
            mail.send()
        self.assertTrue(
            not mail.exists() or mail.state == "sent",
            mail.read(["state", "failure_reason"]),
        )

    def test_concurrent_update_leaves_the_mail_pending_for_the_next_run(self):
        """A serialization failure while mailing keeps the e-mail pending (retry)."""
        import psycopg2.errors

        refund = self._done_refund()
        with (
            patch.object(
                self.registry["payment.refund"],
                "_send_customer_mail",
                side_effect=psycopg2.errors.SerializationFailure("concurrent update"),
            ),
            mute_logger("odoo.addons.refund_proof.models.payment_refund_mail"),
        ):
            self._run_mail_cron()
        self.assertEqual(refund.customer_mail_pending, "done")
        self.assertFalse(self._customer_mails(refund))
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1)

    def test_settings_can_turn_off_mails_and_attachment(self):
        """Merchants can stop the e-mails or send them without the PDF."""
        self.env.company.refund_proof_attach_pdf = False
        refund = self._done_refund()
        self._run_mail_cron()
        self.assertFalse(self._customer_mails(refund).attachment_ids)
        self.env.company.refund_proof_send_email = False
        other = self._done_refund()
        self.assertFalse(other.customer_mail_pending)

    def test_no_caller_names_who_decided_to_silence_a_manager(self):
        """ "Who decided" keeps the deciding manager out of the failure's to-dos; a
        caller's own context naming a manager (as any RPC client may send it) does
        not: the manager still gets the to-do of the failed retry."""
        refund = self._done_refund()
        refund.transaction_ids._set_error(
            "Refund refused by the issuer", extra_allowed_states=("done",)
        )
        refund.activity_ids.unlink()
        with patch.object(
            self.registry["payment.transaction"],
            "_send_refund_request",
            side_effect=ValidationError("Refused again"),
        ):
            refund.with_user(self.refund_user).with_context(
                refund_proof_decided_by=self.refund_manager.id
            ).action_retry()
        self.assertEqual(refund.state, "failed")
        todos = (
            self.env["mail.activity"]
            .sudo()
            .search([("res_model", "=", refund._name), ("res_id", "=", refund.id)])
        )
        self.assertIn(self.refund_manager, todos.user_id)

    def test_failed_refund_notifies_the_back_office_not_the_customer(self):
        """A failed refund: activities for requester and managers, no customer mail."""
        self.env.company.refund_failure_email = "payments@myshop.example"
        refund = self._done_refund()
        self._run_mail_cron()
        before = self._customer_mails(refund)
        refund.transaction_ids._set_error(
            "Refund refused by the issuer", extra_allowed_states=("done",)
        )
        self.assertEqual(refund.state, "failed")
        self.assertIn(self.refund_user, refund.activity_ids.user_id)
        self.assertIn(self.refund_manager, refund.activity_ids.user_id)
        self.assertEqual(self._customer_mails(refund), before)
        alert = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("email_to", "=", "payments@myshop.example"),
                    ("res_id", "=", refund.id),
                ]
            )
        )
        self.assertIn("Refund refused by the issuer", alert.body_html)
