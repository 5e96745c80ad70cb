from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from odoo.addons.refund_proof.const import CUSTOMER_MAIL_RETRY_GIVE_UP

from .test_refund_mail import MailCase

CRON = "refund_proof.ir_cron_refund_customer_mail"


@tagged("-at_install", "post_install")
class TestRefundMailRetry(MailCase):
    """The customer's e-mail survives an outage of the outgoing server.

    Odoo's real mail queue (`process_email_queue`) sends; only the network is
    replaced: MockEmail's SMTP session when the server is up, a refused connection
    when it is down.
    """

    @contextmanager
    def _smtp_down(self):
        """The outgoing server refuses connections (nested in mock_mail_gateway)."""
        refused = ConnectionRefusedError(111, "Connection refused")
        with (
            patch("smtplib.SMTP", side_effect=refused),
            patch("smtplib.SMTP_SSL", side_effect=refused),
        ):
            yield

    def _failed_customer_mail(self, refund):
        """The refund's customer e-mail, failed while the outgoing server was down."""
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        with self._smtp_down():
            self._process_mail_queue()
        return mail

    def _age(self, mail, age):
        """Make `mail` `age` old at its failure (its last write)."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mail_mail SET create_date = write_date - %s WHERE id = %s",
            (age, mail.id),
        )
        self.env.invalidate_all()

    def _cron_triggers(self):
        return set(
            self.env["ir.cron.trigger"]
            .sudo()
            .search([("cron_id", "=", self.env.ref(CRON).id)])
            .mapped("call_at")
        )

    def test_mail_failed_for_connection_is_sent_once_when_the_server_is_back(self):
        """An e-mail failed on the connection is requeued after a minute, sent once."""
        refund = self._done_refund()
        with self.mock_mail_gateway():
            mail = self._failed_customer_mail(refund)
            self.assertEqual(mail.state, "exception")
            self.assertIn("Connection refused", mail.failure_reason)
            notification = self._email_notification(mail)
            self.assertEqual(notification.notification_status, "exception")
            self.assertEqual(notification.failure_type, "mail_smtp")
            self.assertFalse(self._delivered(mail))
            failed_at = mail.write_date
            with freeze_time(failed_at + timedelta(seconds=30)):
                self._run_mail_cron()
                self.assertEqual(mail.state, "exception", "not before its retry time")
                self.assertIn(failed_at + timedelta(minutes=1), self._cron_triggers())
            with freeze_time(failed_at + timedelta(minutes=1, seconds=1)):
                self._run_mail_cron()
                self.assertEqual(mail.state, "outgoing", "back in Odoo's mail queue")
                self._process_mail_queue()
            self.assertEqual(mail.state, "sent")
            self.assertEqual(notification.notification_status, "sent")
            with freeze_time(failed_at + timedelta(hours=2)):
                self._run_mail_cron()
                self._process_mail_queue()
            self.assertEqual(mail.state, "sent")
            self.assertEqual(len(self._delivered(mail)), 1, "delivered exactly once")

    def test_requeued_mail_is_not_requeued_again_before_it_failed_again(self):
        """A mail is put back once per failure, and looked at again while queued."""
        refund = self._done_refund()
        with self.mock_mail_gateway():
            mail = self._failed_customer_mail(refund)
            now = (mail.write_date + timedelta(minutes=2)).replace(microsecond=0)
            with (
                freeze_time(now),
                patch.object(
                    self.registry["mail.mail"],
                    "mark_outgoing",
                    autospec=True,
                    side_effect=self.registry["mail.mail"].mark_outgoing,
                ) as mark_outgoing,
            ):
                self._run_mail_cron()
                self._run_mail_cron()
                self.assertEqual(mark_outgoing.call_count, 1)
                self.assertEqual(mail.state, "outgoing")
                self.assertIn(
                    now + timedelta(minutes=1),
                    self._cron_triggers(),
                    "back soon to see whether it could be sent",
                )
            self.assertFalse(self._delivered(mail))

    def test_retry_waits_longer_for_an_older_mail(self):
        """The retry waits a quarter of the mail's age at its failure, at most an
        hour."""
        refund = self._done_refund()
        with self.mock_mail_gateway():
            mail = self._failed_customer_mail(refund)
            self._age(mail, timedelta(hours=2))
            failed_at = mail.write_date
            with freeze_time(failed_at + timedelta(minutes=29)):
                self._run_mail_cron()
                self.assertEqual(mail.state, "exception")
                self.assertIn(failed_at + timedelta(minutes=30), self._cron_triggers())
            self._age(mail, timedelta(hours=12))
            with freeze_time(failed_at + timedelta(minutes=59)):
                self._run_mail_cron()
                self.assertEqual(mail.state, "exception")
                self.assertIn(failed_at + timedelta(hours=1), self._cron_triggers())
            with freeze_time(failed_at + timedelta(hours=1, seconds=1)):
                self._run_mail_cron()
                self.assertEqual(mail.state, "outgoing")

    def test_mail_older_than_the_give_up_limit_stays_failed(self):
        """After two days the mail stays failed, for the back office."""
        refund = self._done_refund()
        with self.mock_mail_gateway():
            mail = self._failed_customer_mail(refund)
            later = (
                mail.create_date + CUSTOMER_MAIL_RETRY_GIVE_UP + timedelta(minutes=1)
            )
            with freeze_time(later):
                before = self._cron_triggers()
                self._run_mail_cron()
                self.assertEqual(mail.state, "exception")
                self.assertEqual(self._cron_triggers(), before, "nothing to wait for")
            self.assertFalse(self._delivered(mail))

    def test_mail_failed_for_an_invalid_recipient_is_not_requeued(self):
        """A recipient address the server cannot use is no outage: no retry."""
        self.partner.email = "norbert.buyer-at-nowhere"
        refund = self._done_refund()
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        with self.mock_mail_gateway():
            self._process_mail_queue()
            self.assertEqual(mail.state, "exception")
            self.assertEqual(
                self._email_notification(mail).failure_type, "mail_email_invalid"
            )
            with freeze_time(mail.write_date + timedelta(hours=1)):
                self._run_mail_cron()
            self.assertEqual(mail.state, "exception")
            self.assertFalse(self._delivered(mail))

    def test_failed_mail_of_another_model_is_left_to_odoo(self):
        """Only the refunds' e-mails are requeued: a contact's message stays failed."""
        colleague = self.env["res.partner"].create(
            {"name": "Ada Colleague", "email": "ada@example.com"}
        )
        self.partner.with_context(mail_notify_force_send=False).message_post(
            body="Your parcel left",
            partner_ids=colleague.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        mail = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "=", self.partner.id),
                    ("recipient_ids", "in", colleague.ids),
                ]
            )
        )
        self.assertEqual(len(mail), 1)
        with self.mock_mail_gateway():
            with self._smtp_down():
                self._process_mail_queue()
            self.assertEqual(mail.state, "exception")
            self.assertEqual(self._email_notification(mail).failure_type, "mail_smtp")
            with freeze_time(mail.write_date + timedelta(hours=1)):
                self._run_mail_cron()
            self.assertEqual(mail.state, "exception")

    def test_full_batch_runs_the_cron_again_at_once(self):
        """Refunds left after a full batch: the cron is triggered for now, in a run
        of its own (not a minute later); a batch that empties the queue does not."""
        refunds = self._done_refund() | self._done_refund() | self._done_refund()
        cron = self.env.ref(CRON)
        self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)]).unlink()
        with freeze_time("2026-12-01 10:00:00"), self.mock_mail_gateway():
            self.env["payment.refund"].with_context(
                force_report_rendering=True
            )._cron_send_customer_mails(limit=2)
            self.assertEqual(
                len(refunds.filtered(lambda r: not r.customer_mail_pending)), 2
            )
            self.assertIn(
                fields.Datetime.now(), self._cron_triggers(), "the next batch at once"
            )
            self.env["ir.cron.trigger"].sudo().search(
                [("cron_id", "=", cron.id)]
            ).unlink()
            self.env["payment.refund"].with_context(
                force_report_rendering=True
            )._cron_send_customer_mails(limit=2)
            self.assertFalse(refunds.filtered("customer_mail_pending"))
            now = fields.Datetime.now()
            self.assertFalse(
                {call_at for call_at in self._cron_triggers() if call_at <= now},
                "nothing left: no run at once",
            )
