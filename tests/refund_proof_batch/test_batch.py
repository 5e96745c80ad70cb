"""Bulk refunds (refund_proof_batch): the preview, one approval of the batch by another
manager, then one queue job per payment through the one request path. The jobs are
trapped and run with queue_job's own test helpers (`trap_jobs`), as its runner runs
them; the retries of a provider never reached run on stored jobs, tried as queue_job's
runner tries them (controllers/main.py)."""

from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import JobCounter, trap_jobs

from ..fakepsp_server import FakePSPServer
from ..refund_factories import RefundProofCommon

WEBHOOK_SECRET = "whsec_refund_proof_batch_tests"


class BatchCase(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.limited_user = new_test_user(
            cls.env,
            login="batch_limited_user",
            name="Lena Limited",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=100.0,
            refund_daily_limit=200.0,
        )
        cls.other_manager = new_test_user(
            cls.env,
            login="batch_other_manager",
            name="Olga Other",
            groups="base.group_user,refund_proof.group_refund_manager",
        )
        cls.another_user = new_test_user(
            cls.env,
            login="batch_another_user",
            name="Alex Another",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=1.0,
        )
        # Read as the system: the tests' own user is no refund user.
        cls.Batch = cls.env["payment.refund.batch"].sudo()

    def _batch(self, txs, user=None, **kwargs):
        """Refund Selected on `txs` as `user`: the new batch, in the test's env."""
        user = user or self.refund_user
        action = (
            self.env["payment.transaction"]
            .with_user(user)
            .browse(txs.ids)
            .action_refund_proof_batch(**kwargs)
        )
        self.assertEqual(action["res_model"], "payment.refund.batch")
        return self.Batch.browse(action["res_id"])

    def _line(self, batch, tx):
        return batch.line_ids.filtered(lambda line: line.source_transaction_id == tx)

    def _start(self, batch, user=None):
        """Start the batch with its jobs trapped; returns the trap."""
        with trap_jobs() as trap:
            batch.with_user(user or batch.create_uid).action_start()
        return trap

    def _line_jobs(self, trap):
        return [
            job for job in trap.enqueued_jobs if job.method_name == "_refund_proof_run"
        ]

    def _perform(self, jobs):
        """Run jobs as the runner does (each in its own transaction: here a
        savepoint), the jobs they enqueue (the batch's check) included."""
        with trap_jobs() as trap:
            for job in jobs:
                with self.env.cr.savepoint():
                    job.perform()
            self._perform_enqueued(trap)
        self.env.invalidate_all()

    def _perform_enqueued(self, trap):
        """The trapped jobs, but the proofs' of the refunds done (one per refund,
        rendered for real: test_proof_jobs.py runs them)."""
        trap.enqueued_jobs = [
            job
            for job in trap.enqueued_jobs
            if job.method_name != "_refund_proof_send_pending_mail"
        ]
        trap.perform_enqueued_jobs()


@tagged("-at_install", "post_install")
class TestBatchPreview(BatchCase):
    def test_preview_counts_totals_refusals_and_approvals(self):
        """The preview gives count and total per provider and currency, the payments
        refused with the request path's words, and what needs approval and why."""
        tx_a = self._create_paid_transaction(60.0)
        tx_b = self._create_paid_transaction(90.0)
        tx_big = self._create_paid_transaction(150.0)
        tx_refunded = self._create_paid_transaction(40.0)
        self._refund(tx_refunded)
        tx_disputed = self._create_paid_transaction(70.0)
        tx_disputed._refund_proof_upsert_dispute(
            {"provider_reference": "CB-1", "kind": "chargeback"}
        )
        batch = self._batch(
            tx_a | tx_b | tx_big | tx_refunded | tx_disputed, user=self.limited_user
        )
        self.assertEqual(batch.state, "draft")
        self.assertEqual(batch.line_count, 5)
        self.assertEqual(batch.refused_count, 2)
        preview = batch._get_preview()
        self.assertEqual(
            [(p, c, n, t) for p, c, n, t in preview["groups"]],
            [(self.provider, self.currency, 3, 300.0)],
        )
        refused = dict(preview["refused"])
        self.assertIn("already been fully refunded", refused[tx_refunded.reference])
        self.assertIn("disputed", refused[tx_disputed.reference])
        self.assertRecordValues(
            self._line(batch, tx_big), [{"state": "draft", "amount": 150.0}]
        )
        self.assertIn(
            "above your refund limit", self._line(batch, tx_big).approval_reasons
        )
        self.assertFalse(self._line(batch, tx_a).approval_reasons)
        self.assertEqual(batch.approval_count, 1)
        # 300.00 in one day is above the 200.00 daily limit, although each fits.
        self.assertIn("daily limit", batch.approval_reasons)
        self.assertIn("1 payments need", batch.approval_reasons)
        self.assertIn(tx_refunded.reference, batch.preview)

    def test_amount_modes(self):
        """What remains by default, a percentage of what was paid, a fixed amount;
        a fixed amount above what remains is refused with why."""
        tx_a = self._create_paid_transaction(100.0)
        tx_b = self._create_paid_transaction(30.0)
        self._refund(tx_a, 20.0)
        batch = self._batch(tx_a | tx_b)
        self.assertEqual(self._line(batch, tx_a).amount, 80.0)
        batch.with_user(self.refund_user).write(
            {"amount_mode": "percentage", "amount_percentage": 50.0}
        )
        self.assertEqual(self._line(batch, tx_a).amount, 50.0)
        self.assertEqual(self._line(batch, tx_b).amount, 15.0)
        batch.with_user(self.refund_user).write(
            {"amount_mode": "fixed", "amount_fixed": 40.0}
        )
        self.assertRecordValues(
            batch.line_ids.sorted("id"),
            [{"amount": 40.0, "state": "draft"}, {"amount": 40.0, "state": "refused"}],
        )
        self.assertIn("only", self._line(batch, tx_b).message)

    def test_lines_and_server_fields_are_read_only_to_users(self):
        """Users write how much, the reason and the note of a draft; the state, the
        approval and the lines are the server's."""
        batch = self._batch(self._create_paid_transaction(50.0))
        for vals in (
            {"state": "running"},
            {"approved_by_id": self.refund_manager.id},
            {"started_by_id": self.refund_user.id},
        ):
            with self.assertRaises(AccessError):
                batch.with_user(self.refund_manager).write(vals)
        with self.assertRaises(AccessError):
            batch.line_ids.with_user(self.refund_manager).write({"amount": 1.0})
        with self.assertRaises(AccessError):
            self.Batch.with_user(self.refund_user).create({})


@tagged("-at_install", "post_install")
class TestBatchRun(BatchCase):
    def test_batch_above_limits_is_approved_once_by_another_manager(self):
        """Four eyes for the batch: its creator cannot approve it, another manager
        does once, and each refund is issued as approved by them."""
        txs = self._create_paid_transaction(150.0) | self._create_paid_transaction(80.0)
        batch = self._batch(txs, user=self.limited_user)
        trap = self._start(batch)
        self.assertEqual(batch.state, "to_approve")
        self.assertFalse(trap.enqueued_jobs, "nothing queued before the approval")
        with self.assertRaises(AccessError):
            batch.with_user(self.limited_user).action_approve()
        batch.with_user(self.other_manager).action_approve()
        self.assertRecordValues(
            batch, [{"state": "draft", "approved_by_id": self.other_manager.id}]
        )
        trap = self._start(batch)
        self.assertEqual(batch.state, "running")
        jobs = self._line_jobs(trap)
        self.assertEqual(len(jobs), 2)
        line = self._line(batch, txs[0])
        trap.assert_enqueued_job(
            line.with_user(self.limited_user)._refund_proof_run,
            properties={
                "channel": "root.refund_proof.demo",
                "identity_key": f"refund_proof_batch_line:{line.id}",
            },
        )
        self._perform(jobs)
        self.assertEqual(batch.done_count, 2)
        self.assertEqual(batch.state, "done")
        self.assertEqual(batch.progress, 100.0)
        refunds = batch.line_ids.refund_id
        self.assertRecordValues(
            refunds,
            [
                {
                    "state": "done",
                    "requested_by_id": self.limited_user.id,
                    "approved_by_id": self.other_manager.id,
                    "limit_user_id": False,
                }
            ]
            * 2,
        )

    def test_manager_cannot_approve_their_own_batch(self):
        """A manager whose batch waits (its creator) cannot approve it."""
        batch = self._batch(
            self._create_paid_transaction(150.0), user=self.limited_user
        )
        self._start(batch)
        self._give_groups(self.limited_user, "refund_proof.group_refund_manager")
        with self.assertRaisesRegex(UserError, "your own bulk refund"):
            batch.with_user(self.limited_user).action_approve()

    def test_line_refused_while_the_others_go_on(self):
        """A payment fully refunded after the batch started is refused with why; the
        others are refunded."""
        tx_a, tx_b, tx_c = (self._create_paid_transaction(50.0) for _i in range(3))
        batch = self._batch(tx_a | tx_b | tx_c)
        trap = self._start(batch)
        self._refund(tx_b)  # Someone else refunds it meanwhile.
        self._perform(self._line_jobs(trap))
        self.assertRecordValues(
            batch.line_ids.sorted("id"),
            [{"state": "done"}, {"state": "refused"}, {"state": "done"}],
        )
        self.assertIn("already been fully refunded", self._line(batch, tx_b).message)
        self.assertFalse(self._line(batch, tx_b).refund_id)
        self.assertEqual(batch.state, "done")
        self.assertEqual((batch.done_count, batch.failed_count), (2, 0))

    def test_line_meets_the_one_request_check(self):
        """A rule added to `_check_refund_request` (as in test_refund_request_check)
        refuses a line with its words, nothing written for it; the others go on."""
        tx_blocked, tx_ok = (self._create_paid_transaction(50.0) for _i in range(2))
        batch = self._batch(tx_blocked | tx_ok)
        jobs = self._line_jobs(self._start(batch))
        check = self.registry["payment.transaction"]._check_refund_request

        def rule(tx, *args, **kwargs):
            if tx == tx_blocked:
                raise UserError("refunds to a blocked customer are refused")
            return check(tx, *args, **kwargs)

        with patch.object(
            self.registry["payment.transaction"],
            "_check_refund_request",
            autospec=True,
            side_effect=rule,
        ):
            self._perform(jobs)
        self.assertRecordValues(
            self._line(batch, tx_blocked),
            [
                {
                    "state": "refused",
                    "message": "refunds to a blocked customer are refused",
                    "refund_id": False,
                }
            ],
        )
        self.assertFalse(tx_blocked.refund_ids)
        self.assertEqual(self._line(batch, tx_ok).state, "done")

    def test_job_run_twice_refunds_once(self):
        """A job run twice (a worker killed after its commit, a requeue) finds its
        line done and does nothing."""
        tx = self._create_paid_transaction(50.0)
        batch = self._batch(tx)
        jobs = self._line_jobs(self._start(batch))
        self._perform(jobs)
        self._perform(jobs)
        self.assertEqual(len(tx.refund_ids), 1)
        self.assertEqual(tx.refund_ids.state, "done")
        self.assertEqual(batch.line_ids.refund_id, tx.refund_ids)

    def test_cancel_the_rest(self):
        """Cancel the Rest cancels what was not refunded yet: its jobs do nothing."""
        tx_a, tx_b = (self._create_paid_transaction(50.0) for _i in range(2))
        batch = self._batch(tx_a | tx_b)
        jobs = self._line_jobs(self._start(batch))
        self._perform(jobs[:1])
        batch.with_user(self.refund_user).action_cancel_rest()
        self._perform(jobs[1:])
        self.assertRecordValues(
            batch.line_ids.sorted("id"), [{"state": "done"}, {"state": "cancelled"}]
        )
        self.assertFalse(tx_b.refund_ids)
        self.assertEqual(batch.state, "done")

    def test_forged_approval_is_refused_by_the_line(self):
        """The approval a line stands for is checked from the database: not for
        another payment, another amount, another user, nor a batch not approved."""
        tx = self._create_paid_transaction(150.0)
        batch = self._batch(tx, user=self.limited_user)
        line = batch.line_ids
        # Not approved, not running.
        with self.assertRaises(AccessError):
            tx.with_user(self.limited_user)._request_refund(approval=line)
        self.assertFalse(tx.refund_ids)
        self._start(batch)
        batch.with_user(self.other_manager).action_approve()
        self._start(batch)
        other_tx = self._create_paid_transaction(150.0)
        for source, amount, user in (
            (other_tx, None, self.limited_user),  # another payment
            (tx, 120.0, self.limited_user),  # another amount
            (tx, None, self.another_user),  # another user
        ):
            with self.assertRaises(AccessError):
                source.with_user(user)._request_refund(
                    amount_to_refund=amount, approval=line
                )
        self.assertFalse((tx | other_tx).refund_ids)


@tagged("-at_install", "post_install")
class TestBatchProviderFaults(BatchCase):
    """Through the fake PSP (tests/addons/payment_fakepsp): only the network is fake."""

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

    def _run_as_runner(self, job_record):
        """One try of a stored job, as queue_job's runner makes it
        (controllers/main.py): started and stored, performed in a transaction of
        its own (a savepoint here), postponed with its retry count on
        RetryableJobError; the jobs it enqueues run after it."""
        # In sudo mode, as the runner: queue_job's records are its managers'.
        job = Job.load(self.env(su=True), job_record.uuid)
        job.set_started()
        job.store()
        with trap_jobs() as trap:
            try:
                with self.env.cr.savepoint():
                    job.perform()
            except RetryableJobError as error:
                job.postpone(result=str(error), seconds=error.seconds)
                job.set_pending(reset_retry=False)
                job.store()
                return "retried"
            job.set_done()
            job.store()
            self._perform_enqueued(trap)
        self.env.invalidate_all()
        return "done"

    def test_unreachable_provider_is_retried_then_failed_then_retried(self):
        """A PSP refusing connections: the job is retried with back-off (nothing
        sent, nothing kept), its last try fails the line with the message; Retry
        Failed refunds it once the PSP is back."""
        tx = self._paid(100.0)
        self.psp.stop()
        batch = self._batch(tx)
        counter = JobCounter(self.env(su=True))
        batch.with_user(self.refund_user).action_start()
        job_record = counter.search_created()
        self.assertRecordValues(
            job_record,
            [
                {
                    "channel": "root.refund_proof.fakepsp",
                    "max_retries": 5,
                    "method_name": "_refund_proof_run",
                }
            ],
        )
        for try_number in range(1, 5):
            self.assertEqual(self._run_as_runner(job_record), "retried")
            self.assertRecordValues(
                job_record, [{"state": "pending", "retry": try_number}]
            )
            self.assertGreater(job_record.eta, job_record.date_created)
            self.assertIn("Connection refused", job_record.result)
            self.assertEqual(batch.line_ids.state, "queued")
            self.assertFalse(tx.refund_ids, "rolled back: no refund kept")
        self.assertEqual(self._run_as_runner(job_record), "done")
        line = batch.line_ids
        self.assertEqual(line.state, "failed")
        self.assertIn("could not be reached", line.message)
        self.assertIn("Connection refused", line.message)
        self.assertEqual((batch.failed_count, batch.state), (1, "done"))
        self.assertFalse(tx.refund_ids)
        self.psp.start()
        self.fakepsp.fakepsp_api_url = self.psp.url
        with trap_jobs() as trap:
            batch.with_user(self.refund_user).action_retry_failed()
        self.assertEqual(batch.state, "running")
        self._perform(self._line_jobs(trap))
        self.assertRecordValues(line, [{"state": "done", "message": False}])
        self.assertEqual(len(self.psp.refunds), 1)
        self.assertEqual(batch.state, "done")

    def test_rate_limited_provider_is_asked_again_later_and_refunds_once(self):
        """A PSP answering 429 Too Many Requests (its rate limit: nothing done) is
        asked again later, as one never reached: the job is retried with back-off,
        nothing kept; the next try makes the refund, once."""
        tx = self._paid(100.0)
        self.psp.rate_limit()
        self.psp.make_refund()
        batch = self._batch(tx)
        counter = JobCounter(self.env(su=True))
        batch.with_user(self.refund_user).action_start()
        job_record = counter.search_created()
        self.assertEqual(self._run_as_runner(job_record), "retried")
        self.assertRecordValues(job_record, [{"state": "pending", "retry": 1}])
        self.assertIn("HTTP 429", job_record.result)
        self.assertEqual(batch.line_ids.state, "queued")
        self.assertFalse(tx.refund_ids, "rolled back: no refund kept")
        self.assertFalse(self.psp.refunds)
        self.assertEqual(self._run_as_runner(job_record), "done")
        self.assertEqual(batch.line_ids.state, "done")
        self.assertEqual(len(self.psp.refunds), 1)
        self.assertEqual(batch.state, "done")

    def test_declined_refund_fails_the_line_and_retry_failed_retries_it(self):
        """A refund the PSP declines fails its line with the PSP's message; Retry
        Failed retries that same refund (its next request), which is done."""
        tx_a, tx_b = self._paid(100.0), self._paid(60.0)
        self.psp.decline("Card account closed.")
        self.psp.make_refund()
        batch = self._batch(tx_a | tx_b)
        self._perform(self._line_jobs(self._start(batch)))
        line_a, line_b = self._line(batch, tx_a), self._line(batch, tx_b)
        self.assertEqual(line_a.state, "failed")
        self.assertIn("Card account closed.", line_a.message)
        self.assertEqual(line_b.state, "done")
        refund = line_a.refund_id
        self.assertEqual(refund.state, "failed")
        self.psp.make_refund()
        with trap_jobs() as trap:
            batch.with_user(self.refund_user).action_retry_failed()
        self._perform(self._line_jobs(trap))
        self.assertRecordValues(line_a, [{"state": "done", "refund_id": refund.id}])
        self.assertEqual(refund.state, "done")
        self.assertEqual(len(self.psp.refunds), 2)
        self.assertEqual(batch.state, "done")


@tagged("-at_install", "post_install")
class TestBatchProgress(BatchCase):
    def test_progress_and_estimated_end_follow_the_lines_started(self):
        """The progress counts the payments started (not those the preview refused);
        the estimated end extends the rate of the finished ones since the start."""
        txs = self._create_paid_transaction(50.0)
        for _i in range(3):
            txs |= self._create_paid_transaction(50.0)
        tx_refunded = self._create_paid_transaction(40.0)
        self._refund(tx_refunded)
        batch = self._batch(txs | tx_refunded)
        self.assertEqual(batch.refused_count, 1)
        self.assertRecordValues(batch, [{"progress": 0.0, "estimated_end": False}])
        with freeze_time("2026-12-07 10:00:00"):
            jobs = self._line_jobs(self._start(batch))
        self.assertRecordValues(
            batch,
            [{"started_line_count": 4, "start_date": datetime(2026, 12, 7, 10, 0)}],
        )
        with freeze_time("2026-12-07 10:05:00"):
            batch.invalidate_recordset(["progress", "estimated_end"])
            self.assertRecordValues(batch, [{"progress": 0.0, "estimated_end": False}])
            self._perform(jobs[:1])
            # One of four in 5 minutes: the three others in 15 more.
            self.assertRecordValues(
                batch,
                [
                    {
                        "state": "running",
                        "progress": 25.0,
                        "estimated_end": datetime(2026, 12, 7, 10, 20),
                    }
                ],
            )
        with freeze_time("2026-12-07 10:10:00"):
            self._perform(jobs[1:])
            self.assertRecordValues(
                batch, [{"state": "done", "progress": 100.0, "estimated_end": False}]
            )

    def test_estimated_end_counts_a_failed_payment_as_finished(self):
        """A payment whose refund the provider declined is finished (failed): it
        counts in the progress until Retry Failed queues it again."""
        tx_ok, tx_declined, tx_queued = (
            self._create_paid_transaction(50.0) for _i in range(3)
        )
        batch = self._batch(tx_ok | tx_declined | tx_queued)
        with freeze_time("2026-12-07 10:00:00"):
            jobs = self._line_jobs(self._start(batch))
        with freeze_time("2026-12-07 10:04:00"):
            self._perform(jobs[:2])
            # The provider reverses the refund it confirmed (as the demo's).
            with trap_jobs():
                self._line(batch, tx_declined).refund_id.transaction_ids._set_error(
                    "Refund declined by the issuing bank.",
                    extra_allowed_states=("done",),
                )
            self.env.invalidate_all()
            self.assertRecordValues(
                batch,
                [
                    {
                        "failed_count": 1,
                        "progress": 200.0 / 3,
                        "estimated_end": datetime(2026, 12, 7, 10, 6),
                    }
                ],
            )
            self.assertIn(
                "Refund declined by the issuing bank.",
                self._line(batch, tx_declined).message,
            )
            with trap_jobs():
                batch.with_user(self.refund_user).action_retry_failed()
            batch.invalidate_recordset(["progress", "estimated_end"])
            # One finished in 4 minutes, two left: 8 more.
            self.assertRecordValues(
                batch,
                [
                    {
                        "progress": 100.0 / 3,
                        "estimated_end": datetime(2026, 12, 7, 10, 12),
                    }
                ],
            )

    def test_progress_fields_are_the_servers(self):
        """The start date and the count of payments started are written by Start
        only: no user writes them, not even a refund manager."""
        batch = self._batch(self._create_paid_transaction(50.0))
        for vals in (
            {"start_date": "2026-12-07 10:00:00"},
            {"started_line_count": 10},
        ):
            with self.assertRaises(AccessError):
                batch.with_user(self.refund_manager).write(vals)
        self._start(batch, user=self.refund_user)
        for vals in (
            {"start_date": "2026-12-07 10:00:00"},
            {"started_line_count": 10},
        ):
            with self.assertRaises(AccessError):
                batch.with_user(self.refund_user).write(vals)
        self.assertEqual(batch.started_line_count, 1)
        rows = (
            self.env["payment.refund.batch"]
            .with_user(self.refund_user)
            .search_read(
                [("id", "=", batch.id)], ["progress", "estimated_end", "start_date"]
            )
        )
        self.assertEqual(rows[0]["progress"], 0.0)
