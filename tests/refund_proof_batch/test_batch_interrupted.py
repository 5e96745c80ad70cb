"""Bulk refunds whose jobs stopped half-way: a worker killed, a server stopped, the
database restarted. queue_job (this release) leaves such a job started, or failed;
the cron `refund_proof_batch.ir_cron_refund_batch_resume` settles it. A line is never
asked again by itself (its refund may have been made while Odoo rolled the request
back): it is interrupted until the provider reports the refund, or a refund manager
says it was not made. Jobs are stored as queue_job stores them; the dead worker is a
process id without a database connection, as after a kill."""

import os
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import JobCounter, trap_jobs

from .test_batch import BatchCase

GRACE = (
    "odoo.addons.refund_proof_batch.models.payment_refund_batch_line."
    "INTERRUPTED_JOB_GRACE"
)
# No process holds a database connection under this id (pid_max is 2**22 at most).
DEAD_PID = 99_999_999


@tagged("-at_install", "post_install")
class TestBatchInterrupted(BatchCase):
    def setUp(self):
        super().setUp()
        self.Line = self.env["payment.refund.batch.line"].sudo()
        self.jobs = JobCounter(self.env(su=True))

    def _started_batch(self, *txs):
        batch = self._batch(self.env["payment.transaction"].concat(*txs))
        batch.with_user(self.refund_user).action_start()
        return batch

    def _line_job(self, line):
        return (
            self.env["queue.job"]
            .sudo()
            .search([("identity_key", "=", f"refund_proof_batch_line:{line.id}")])
        )

    def _started_by(self, job, pid, minutes_ago=2):
        """The job as queue_job's controller leaves it when its worker `pid` dies
        during the job: started, never ended."""
        job.write({"state": "started", "worker_pid": pid})
        job.flush_recordset()
        self.env.cr.execute(
            "UPDATE queue_job SET date_started = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(minutes=minutes_ago), job.id),
        )
        job.invalidate_recordset()

    def _resume(self):
        with trap_jobs() as trap:
            self.Line._cron_resume_interrupted()
        self._perform_enqueued(trap)
        self.env.invalidate_all()

    def test_worker_killed_line_is_interrupted_then_linked_to_the_reported_refund(
        self,
    ):
        """A line whose worker died is interrupted (never asked again by itself);
        the refund its provider then reports is linked to it, and the batch ends."""
        tx, tx_ok = self._create_paid_transaction(80.0), self._create_paid_transaction()
        batch = self._started_batch(tx, tx_ok)
        line, line_ok = self._line(batch, tx), self._line(batch, tx_ok)
        job = self._line_job(line)
        self._perform(self._line_jobs_of(line_ok))
        self._started_by(job, DEAD_PID)
        self._resume()
        self.assertRecordValues(
            line, [{"state": "pending", "interrupted": True, "refund_id": False}]
        )
        self.assertIn("Interrupted", line.message)
        self.assertRecordValues(job, [{"state": "cancelled"}])
        self.assertFalse(tx.refund_ids, "never asked again by itself")
        self.assertEqual((batch.state, line_ok.state), ("running", "done"))
        # The provider's webhook: the refund it made while Odoo rolled back.
        with trap_jobs() as trap:
            refund_tx = tx.sudo()._create_child_transaction(80.0, is_refund=True)
        self._perform_enqueued(trap)
        self.env.invalidate_all()
        self.assertRecordValues(
            line,
            [{"refund_id": refund_tx.refund_id.id, "interrupted": False}],
        )
        self.assertIn("its request was interrupted", batch.message_ids[0].body)
        with trap_jobs() as trap:
            refund_tx.sudo()._set_done()
            refund_tx.sudo()._post_process()
        self._perform_enqueued(trap)
        self.env.invalidate_all()
        self.assertEqual(line.state, "done")
        self.assertEqual(batch.state, "done")

    def _line_jobs_of(self, lines):
        return [Job.load(self.env(su=True), job.uuid) for job in self._line_job(lines)]

    def test_refund_reported_before_the_cron_is_linked_by_it(self):
        """The provider's webhook came before the cron: the cron links it at once;
        a refund of another amount is not this line's."""
        tx = self._create_paid_transaction(100.0)
        batch = self._started_batch(tx)
        line = batch.line_ids
        self._started_by(self._line_job(line), DEAD_PID)
        other = tx.sudo()._create_child_transaction(30.0, is_refund=True).refund_id
        reported = tx.sudo()._create_child_transaction(70.0, is_refund=True).refund_id
        self.assertFalse(line.refund_id, "a queued line is not linked")
        self._resume()
        self.assertRecordValues(
            line, [{"refund_id": False, "state": "pending", "interrupted": True}]
        )
        self.assertTrue(other and reported)
        # Of the line's amount only: 100.00, neither 30.00 nor 70.00.
        full = self._create_paid_transaction(100.0)
        batch_full = self._started_batch(full)
        line_full = batch_full.line_ids
        self._started_by(self._line_job(line_full), DEAD_PID)
        made = full.sudo()._create_child_transaction(100.0, is_refund=True).refund_id
        self._resume()
        self.assertRecordValues(
            line_full, [{"refund_id": made.id, "interrupted": False}]
        )

    def test_live_job_and_a_job_just_started_are_left_alone(self):
        """A job whose worker holds a database connection opened before it (this
        test's own process) runs: nothing is touched; nor one started less than the
        grace period ago, whatever its worker."""
        tx_live, tx_young = (self._create_paid_transaction() for _i in range(2))
        batch = self._started_batch(tx_live, tx_young)
        live, young = self._line(batch, tx_live), self._line(batch, tx_young)
        self._started_by(self._line_job(live), os.getpid(), minutes_ago=0)
        self._started_by(self._line_job(young), DEAD_PID, minutes_ago=0)
        with patch(GRACE, timedelta(seconds=-5)):
            self._resume()
        self.assertEqual(young.state, "pending", "dead, once the grace is over")
        self.assertRecordValues(live, [{"state": "queued", "interrupted": False}])
        self.assertEqual(self._line_job(live).state, "started")

    def test_failed_job_of_a_queued_line_is_interrupted(self):
        """A job that failed (its worker lost the database, then stored the error)
        while its line was still queued: interrupted, as a killed one."""
        tx = self._create_paid_transaction()
        batch = self._started_batch(tx)
        job = self._line_job(batch.line_ids)
        job.write(
            {"state": "failed", "exc_info": "OperationalError: the server closed"}
        )
        self._resume()
        self.assertRecordValues(
            batch.line_ids, [{"state": "pending", "interrupted": True}]
        )

    def test_manager_marks_not_refunded_then_retry_failed_refunds_once(self):
        """Only a refund manager decides, having checked the provider: the line
        fails, Retry Failed asks for it again, one refund."""
        tx = self._create_paid_transaction()
        batch = self._started_batch(tx)
        line = batch.line_ids
        self._started_by(self._line_job(line), DEAD_PID)
        self._resume()
        with self.assertRaises(AccessError):
            line.with_user(self.refund_user).action_mark_not_refunded()
        self.assertTrue(line.interrupted)
        line.with_user(self.refund_manager).action_mark_not_refunded()
        self.assertRecordValues(
            line, [{"state": "failed", "interrupted": False, "refund_id": False}]
        )
        self.assertIn("as checked with the provider by", line.message)
        with self.assertRaisesRegex(UserError, "only an interrupted payment"):
            line.with_user(self.refund_manager).action_mark_not_refunded()
        with trap_jobs() as trap:
            batch.with_user(self.refund_user).action_retry_failed()
        self._perform(self._line_jobs(trap))
        self.assertEqual(line.state, "done")
        self.assertEqual(len(tx.refund_ids), 1)
        self.assertEqual(batch.state, "done")

    def test_dead_proof_job_is_queued_again(self):
        """A proof's job whose worker died is queued again (it does nothing twice;
        the mail cron is the other safety net)."""
        refund = self._refund(self._create_paid_transaction())
        self.assertEqual(refund.state, "done")
        proof_job = (
            self.env["queue.job"]
            .sudo()
            .search([("method_name", "=", "_refund_proof_send_pending_mail")])
        )
        self.assertTrue(proof_job, "the done refund queued its proof's job")
        self._started_by(proof_job[:1], DEAD_PID)
        self._resume()
        self.assertEqual(proof_job[:1].state, "pending")

    def test_job_sent_but_never_started_is_queued_again(self):
        """A job the runner sent to a worker that never started it (the database
        away, the worker dead first) is queued again after the grace period, not
        queue_job's five minutes; a job sent just now is left to its worker."""
        tx_old, tx_new = (self._create_paid_transaction() for _i in range(2))
        batch = self._started_batch(tx_old, tx_new)
        old_job = self._line_job(self._line(batch, tx_old))
        new_job = self._line_job(self._line(batch, tx_new))
        (old_job | new_job).write({"state": "enqueued"})
        old_job.write({"date_enqueued": fields.Datetime.now() - timedelta(minutes=2)})
        new_job.write({"date_enqueued": fields.Datetime.now()})
        self._resume()
        self.assertEqual((old_job.state, new_job.state), ("pending", "enqueued"))
        self.assertEqual(batch.line_ids.mapped("state"), ["queued", "queued"])


@tagged("-at_install", "post_install")
class TestBatchEndCheck(BatchCase):
    def test_only_the_last_lines_queue_the_check_of_the_end(self):
        """A line's end queues the check of its batch's end only near the end (most
        lines end with many open: a check would find the batch running); the last
        line's check ends the batch."""
        txs = [self._create_paid_transaction(10.0) for _i in range(4)]
        batch = self._batch(self.env["payment.transaction"].concat(*txs))
        jobs = self._line_jobs(self._start(batch))
        checks = []
        with patch(
            "odoo.addons.refund_proof_batch.models.payment_refund_batch.CHECK_NEAR_END",
            1,
        ):
            for job in jobs:
                with trap_jobs() as trap:
                    with self.env.cr.savepoint():
                        job.perform()
                    checks.append(
                        [
                            queued.method_name
                            for queued in trap.enqueued_jobs
                            if queued.method_name == "_refund_proof_check_finished"
                        ]
                    )
                    self.assertEqual(batch.state, "running")
                    self._perform_enqueued(trap)
                self.env.invalidate_all()
        # Three lines open, then two: no check; one, then none: a check each.
        self.assertEqual([len(queued) for queued in checks], [0, 0, 1, 1])
        self.assertEqual(batch.state, "done")
