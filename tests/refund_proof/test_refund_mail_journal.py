import os
import tempfile
import time
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.refund_proof.const import SMTP_JOURNAL_KEEP

from .test_refund_mail import MailCase

JOURNAL_LOGGER = "odoo.addons.refund_proof.models.ir_mail_server"


class RecordLost(Exception):
    """The database lost the transaction that handed the e-mail over."""


@tagged("-at_install", "post_install")
class TestRefundMailJournal(MailCase):
    """An e-mail the outgoing server accepted is not handed over again when the
    record of it is lost (models/ir_mail_server.py). Odoo's real mail queue; only
    the network is replaced (MockEmail's SMTP session); the loss is a rollback of
    the queue's transaction after the handover, as PostgreSQL restarting or the
    worker killed before its commit does."""

    def _journal(self):
        return self.env["ir.mail_server"]._refund_proof_journal_dir()

    def _journal_entries(self):
        directory = self._journal()
        return set(os.listdir(directory)) if os.path.isdir(directory) else set()

    def test_email_handed_over_before_its_record_was_lost_is_not_sent_again(self):
        refund = self._done_refund()
        with self.mock_mail_gateway():
            self._run_mail_cron()
            mail = self._customer_mails(refund)
            before = self._journal_entries()
            with self.assertRaises(RecordLost), self.env.cr.savepoint():
                self._process_mail_queue()
                self.assertEqual(mail.state, "sent")
                self.assertEqual(len(self._delivered(mail)), 1)
                raise RecordLost
            self.env.invalidate_all()
            self.assertEqual(mail.state, "outgoing", "Odoo's record of it is gone")
            handed_over = len(self.emails)  # the customer's, and the followers'
            journaled = self._journal_entries() - before
            self.assertEqual(len(journaled), handed_over, "each handover journaled")
            self._process_mail_queue()
            self.assertEqual(mail.state, "sent")
            self.assertEqual(self._email_notification(mail).notification_status, "sent")
            self.assertEqual(len(self.emails), handed_over, "nothing handed over again")
            self.assertEqual(len(self._delivered(mail)), 1)

    def test_email_is_recorded_sent_when_the_journal_cannot_be_written(self):
        """A journal that cannot be written (here its folder is a file) loses only
        the protection: the e-mail sent is recorded sent, with a warning."""
        refund = self._done_refund()
        with tempfile.NamedTemporaryFile() as not_a_folder:
            broken = os.path.join(not_a_folder.name, "journal")
            with (
                self.mock_mail_gateway(),
                patch.object(
                    type(self.env["ir.mail_server"]),
                    "_refund_proof_journal_dir",
                    lambda server: broken,
                ),
                self.assertLogs(JOURNAL_LOGGER, "WARNING") as logs,
            ):
                self._run_mail_cron()
                mail = self._customer_mails(refund)
                self._process_mail_queue()
                self.assertEqual(mail.state, "sent")
                self.assertEqual(len(self._delivered(mail)), 1)
        self.assertIn("not journaled", logs.output[0])

    def test_same_email_to_other_recipients_is_another_handover(self):
        server = self.env["ir.mail_server"]

        def key(to, cc=None):
            message = server.build_email(
                "shop@example.com",
                to,
                "Your refund",
                "<p>Done</p>",
                email_cc=cc,
                message_id="<1.2-openerp-7-payment.refund@shop>",
            )
            return server._refund_proof_journal_key(message)

        first = key(["a@example.com"])
        self.assertEqual(first, key(["A@example.com"]), "addresses are case-free")
        self.assertNotEqual(first, key(["b@example.com"]))
        self.assertEqual(
            key(["a@example.com"], ["b@example.com"]),
            key(["b@example.com"], ["a@example.com"]),
            "To and Cc are one recipient list",
        )

    def test_autovacuum_forgets_old_entries_only(self):
        directory = self._journal()
        os.makedirs(directory, exist_ok=True)
        old, young = (os.path.join(directory, name) for name in ("old", "young"))
        for path in (old, young):
            with open(path, "w", encoding="ascii") as entry:
                entry.write("<x@y>")
        long_ago = time.time() - SMTP_JOURNAL_KEEP.total_seconds() - 60
        os.utime(old, (long_ago, long_ago))
        self.addCleanup(lambda: os.path.exists(young) and os.unlink(young))
        self.env["ir.mail_server"]._gc_refund_proof_journal()
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(young))
