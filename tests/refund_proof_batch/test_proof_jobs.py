"""The proofs of refund as queue jobs (refund_proof_batch installs queue_job): one job
per refund whose proof or e-mail is pending, on the proofs' channel, doing what the
mail cron does for one refund; the cron stays the safety net, and a job and the cron
never send the same e-mail twice. Jobs trapped and run with queue_job's own test
helpers (`trap_jobs`); the lock between a job and the cron with real cursors on
committed data (a scratch database)."""

from contextlib import contextmanager
from unittest.mock import patch

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields
from odoo.tests import BaseCase, tagged
from odoo.tools import SQL

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.refund_proof_batch.const import PROOF_CRON_SAFETY_DELAY

from refund_proof_testkit.demo_payments import demo_setup, paid_transaction

from ..refund_proof.test_refund_mail import MailCase
from ..refund_proof.test_refund_proof import VALID_ARN
from ..scratch_db import committed_env, scratch_registry

CHANNEL = "root.refund_proof.proof"
CRON = "refund_proof.ir_cron_refund_customer_mail"


class ProofJobCase(MailCase):
    def _proof_jobs(self, trap):
        return [
            job
            for job in trap.enqueued_jobs
            if job.method_name == "_refund_proof_send_pending_mail"
        ]

    def _done_refund_and_job(self, **kwargs):
        """A done refund and the one proof job it queued."""
        with trap_jobs() as trap:
            refund = self._done_refund(**kwargs)
        (job,) = self._proof_jobs(trap)
        return refund, job

    def _perform(self, job):
        """Run the job as the runner does (its own transaction: here a savepoint),
        with real PDFs."""
        job.recordset = job.recordset.with_context(force_report_rendering=True)
        with self.env.cr.savepoint():
            job.perform()
        self.env.invalidate_all()


@tagged("-at_install", "post_install")
class TestProofJobs(ProofJobCase):
    def test_done_refund_queues_one_job_on_the_proof_channel(self):
        """A done refund queues one job on the proofs' channel, with its identity
        key, as the superuser (as the mail cron); the cron runs later, as the
        safety net."""
        cron = self.env.ref(CRON)
        Trigger = self.env["ir.cron.trigger"].sudo()
        Trigger.search([("cron_id", "=", cron.id)]).unlink()
        with freeze_time("2026-12-07 10:00:00"), trap_jobs() as trap:
            refund = self._done_refund(arn=VALID_ARN)
            now = fields.Datetime.now()
        self.assertEqual(refund.customer_mail_pending, "done")
        (job,) = self._proof_jobs(trap)
        self.assertEqual(job.channel, CHANNEL)
        self.assertEqual(job.identity_key, f"refund_proof_proof:{refund.id}")
        self.assertEqual(job.recordset, refund)
        self.assertEqual(job.user_id, SUPERUSER_ID)
        trap.assert_enqueued_job(
            refund._refund_proof_send_pending_mail,
            properties={
                "channel": CHANNEL,
                "identity_key": f"refund_proof_proof:{refund.id}",
            },
        )
        call_ats = set(Trigger.search([("cron_id", "=", cron.id)]).mapped("call_at"))
        self.assertEqual(call_ats, {now + PROOF_CRON_SAFETY_DELAY})

    def test_job_issues_the_proof_and_queues_the_mail_once(self):
        """Performing the job issues the proof and queues the customer's e-mail, the
        proof attached; run twice, or the cron after it, nothing more is sent."""
        refund, job = self._done_refund_and_job(arn=VALID_ARN)
        self.assertFalse(self._customer_mails(refund))
        self._perform(job)
        mail = self._customer_mails(refund)
        self.assertEqual(len(mail), 1)
        self.assertEqual(len(refund.proof_ids), 1)
        self.assertEqual(mail.attachment_ids, refund.proof_ids.attachment_id)
        self.assertTrue(mail.attachment_ids.raw.startswith(b"%PDF"))
        self.assertFalse(refund.customer_mail_pending)
        self.assertFalse(refund.proof_pending)
        self._perform(job)
        self._run_mail_cron()
        self.assertEqual(self._customer_mails(refund), mail, "sent once")
        self.assertEqual(len(refund.proof_ids), 1, "issued once")

    def test_job_after_the_cron_does_nothing(self):
        """A refund with nothing pending (the cron sent it first): its job does
        nothing."""
        refund, job = self._done_refund_and_job()
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        self.assertEqual(len(mail), 1)
        self._perform(job)
        self.assertEqual(self._customer_mails(refund), mail)
        self.assertEqual(len(refund.proof_ids), 1)

    def test_reference_known_later_queues_a_new_job(self):
        """The ARN known after the first e-mail: a new job (the first one is done)
        sends the second e-mail with the proof's new version."""
        refund, job = self._done_refund_and_job()
        self._perform(job)
        first = self._customer_mails(refund)
        with trap_jobs() as trap:
            refund.with_user(self.refund_user).arn = VALID_ARN
        (second_job,) = self._proof_jobs(trap)
        self.assertEqual(second_job.identity_key, f"refund_proof_proof:{refund.id}")
        self._perform(second_job)
        second = self._customer_mails(refund) - first
        self.assertEqual(len(second), 1)
        self.assertEqual(len(refund.proof_ids), 2)
        self.assertEqual(
            second.attachment_ids, refund.proof_ids.sorted("id")[-1].attachment_id
        )


@tagged("-at_install", "post_install")
class TestProofJobLock(BaseCase):
    """A job and the mail cron on real cursors: the one that holds the refund's row
    sends, the other skips it; committed data in a scratch database. The proof's
    render and the e-mail are replaced by recorders (no report server there)."""

    @contextmanager
    def _recorded_sends(self, registry):
        sent = []
        Refund = registry["payment.refund"]

        def ensure_proof(refund):
            sent.append(("proof", refund.id))
            refund.sudo().proof_pending = False

        def send_customer_mail(refund):
            sent.append(("mail", refund.id))
            refund.sudo().customer_mail_pending = False

        with (
            patch.object(Refund, "_ensure_proof", ensure_proof),
            patch.object(Refund, "_send_customer_mail", send_customer_mail),
        ):
            yield sent

    def _committed_done_refund(self, registry):
        """A done refund, committed, its proof and e-mail pending; its id."""
        with committed_env(registry) as env:
            provider, user = demo_setup(env)
            tx = paid_transaction(env, provider, 100.0, "PROOF-JOB-1")
            refund = tx.with_user(user)._request_refund(amount_to_refund=30.0)
            self.assertEqual(refund.sudo().customer_mail_pending, "done")
            # The refund's job is run by hand in the tests: none left for a runner.
            env["queue.job"].search([]).unlink()
            return refund.id

    def test_job_and_cron_never_send_the_same_mail_twice(self):
        """While the cron holds the refund, its job skips it; while the job holds
        it, the cron skips it; once sent, neither sends again."""
        with scratch_registry() as registry:
            refund_id = self._committed_done_refund(registry)
            with (
                self._recorded_sends(registry) as sent,
                committed_env(registry) as holder,
            ):
                # The cron (or another job) busy with the refund: its row locked.
                holder.cr.execute(
                    SQL(
                        "SELECT id FROM payment_refund WHERE id = %s FOR NO KEY UPDATE",
                        refund_id,
                    )
                )
                with committed_env(registry) as env:
                    env["payment.refund"].browse(
                        refund_id
                    )._refund_proof_send_pending_mail()
                with committed_env(registry) as env:
                    env["payment.refund"]._cron_send_customer_mails()
                self.assertEqual(sent, [], "the refund is the holder's")
                holder.cr.rollback()
                with committed_env(registry) as env:
                    env["payment.refund"].browse(
                        refund_id
                    )._refund_proof_send_pending_mail()
                self.assertEqual(sent, [("proof", refund_id), ("mail", refund_id)])
                with committed_env(registry) as env:
                    env["payment.refund"]._cron_send_customer_mails()
                    env["payment.refund"].browse(
                        refund_id
                    )._refund_proof_send_pending_mail()
                    refund = env["payment.refund"].sudo().browse(refund_id)
                    self.assertFalse(refund.customer_mail_pending)
                    self.assertFalse(refund.proof_pending)
                self.assertEqual(len(sent), 2, "sent once")

    def test_cron_started_before_the_job_committed_sends_nothing_more(self):
        """The job sends and commits while the cron's transaction, begun before,
        still sees the refund pending: the cron's lock fails as a concurrent update
        (logged at INFO, tried again later) and it sends nothing."""
        with scratch_registry() as registry:
            refund_id = self._committed_done_refund(registry)
            with (
                self._recorded_sends(registry) as sent,
                committed_env(registry) as cron_env,
            ):
                # The cron's snapshot: taken at its transaction's first query.
                cron_env.cr.execute(SQL("SELECT id FROM payment_refund LIMIT 1"))
                with committed_env(registry) as env:
                    env["payment.refund"].browse(
                        refund_id
                    )._refund_proof_send_pending_mail()
                self.assertEqual(sent, [("proof", refund_id), ("mail", refund_id)])
                cron_env["payment.refund"]._cron_send_customer_mails()
                self.assertEqual(len(sent), 2, "sent once")
