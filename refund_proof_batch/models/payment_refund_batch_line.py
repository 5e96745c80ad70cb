"""One payment of a bulk refund, and the queue job that refunds it."""

import logging
import os

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.refund_proof.const import RAISE_UNREACHED_KEY, TRANSITION
from odoo.addons.refund_proof.db_tools import execute_lock
from odoo.addons.refund_proof.utils import RefundProviderUnreachable

from ..const import (
    CHANNEL_ROOT,
    INTERRUPTED_JOB_GRACE,
    JOB_MAX_RETRIES,
    REFUND_TO_LINE_STATE,
)

_logger = logging.getLogger(__name__)

# The job functions of refund_proof_batch (data/queue_job_data.xml).
JOB_METHODS = [
    "_refund_proof_run",
    "_refund_proof_send_pending_mail",
    "_refund_proof_check_finished",
]


class PaymentRefundBatchLine(models.Model):
    _name = "payment.refund.batch.line"
    _description = "Bulk Refund Line"
    _order = "batch_id, id"
    _rec_name = "source_transaction_id"

    batch_id = fields.Many2one(
        comodel_name="payment.refund.batch",
        string="Bulk Refund",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="batch_id.company_id", store=True)
    source_transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        string="Payment",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    partner_id = fields.Many2one(
        related="source_transaction_id.partner_id", string="Customer"
    )
    provider_id = fields.Many2one(
        related="source_transaction_id.provider_id", string="Provider"
    )
    currency_id = fields.Many2one(related="source_transaction_id.currency_id")
    amount = fields.Monetary(readonly=True, currency_field="currency_id")
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("refused", "Refused"),
            ("queued", "Queued"),
            ("done", "Done"),
            ("pending", "Pending"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        index=True,
    )
    is_queued = fields.Boolean(compute="_compute_is_queued")
    refund_id = fields.Many2one(
        comodel_name="payment.refund",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
    )
    message = fields.Text(
        readonly=True,
        help="Why the payment is refused, or the provider's message of a failure.",
    )
    interrupted = fields.Boolean(
        readonly=True,
        help="Its job stopped while the refund may have been on its way to the "
        "provider (a worker or server stopped, the database restarted): the "
        "provider's notification links the refund if it was made; otherwise a refund "
        "manager, having checked the provider, marks it not refunded.",
    )
    approval_reasons = fields.Text(
        string="Why Approval Is Needed",
        readonly=True,
        help="Why this refund alone would wait for a manager's approval, from the "
        "batch creator's limits.",
    )

    _sql_constraints = [
        (
            "batch_source_unique",
            "UNIQUE(batch_id, source_transaction_id)",
            "A payment is refunded once per bulk refund.",
        )
    ]

    @api.depends("state")
    def _compute_is_queued(self):
        for line in self:
            line.is_queued = line.state == "queued"

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(
                _("The lines of a bulk refund are made from its payments only.")
            )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            # Every change of a line is the server's (the batch's methods, its job).
            raise AccessError(
                _(
                    "The lines of a bulk refund are written by the system only: use "
                    "the batch's actions."
                )
            )
        return super().write(vals)

    # === BUSINESS METHODS - THE JOB === #

    def _refund_proof_run(self):
        """Queue job: refund this line's payment through the one request path, as
        the user who started the batch (the job's user), the batch's approval
        standing for the refund's (`_request_refund(approval=self)`).

        Idempotent: the line is locked first, and a line no longer queued (already
        done, cancelled by Cancel the Rest, or a job run twice) is left alone. A
        refusal of the request path (rights, lock, cap, chargeback...) refuses the
        line with its words while the others go on. A provider never reached
        (nothing sent) rolls back and raises `RetryableJobError`: queue_job tries
        again later (the job function's retry pattern, data/queue_job_data.xml); at
        the last try the line is failed with the message instead, for Retry Failed.
        A provider reached gets the refund's idempotency key once: a refusal, a
        failure or an unknown outcome is the refund's, and the line follows it
        (`_sync_from_refund`).
        """
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                refunded = self._refund_proof_refund()
        except RefundProviderUnreachable as error:
            # Rolled back to the savepoint: no refund, no lock left. Nothing was
            # sent, so trying again cannot refund twice.
            self.env.invalidate_all()
            message = _(
                "%(reference)s: the provider could not be reached: %(message)s",
                reference=self.sudo().source_transaction_id.reference,
                message=error.args[0] if error.args else error,
            )
            job_try = self._get_job_try()
            if not job_try or job_try[0] < job_try[1]:
                raise RetryableJobError(message) from error
            # The last try: the line fails, the job ends (no traceback to log).
            refunded = self.sudo()._fail_unreached(message)
        if refunded:
            self.sudo().batch_id._schedule_check_finished()

    def _get_job_try(self):
        """(this try, tries allowed) of the running job, read from queue_job's
        record (its runner stores the tries before this one), or None outside a
        stored job.

        :rtype: tuple(int, int) or None
        """
        uuid = self.env.context.get("job_uuid")
        if not uuid:
            return None
        # In sudo mode: queue_job's records are its managers' to read.
        job = self.env["queue.job"].sudo().search([("uuid", "=", uuid)], limit=1)
        if not job:
            return None
        return job.retry + 1, job.max_retries

    def _fail_unreached(self, message):
        """Fail a queued line whose provider could not be reached at its job's last
        try.

        :return: Whether the line left the queue.
        :rtype: bool
        """
        self.ensure_one()
        self._lock_lines()
        if self.state != "queued":
            return False
        self.write({"state": "failed", "message": message})
        return True

    def _refund_proof_refund(self):
        """The job's work inside its savepoint (see `_refund_proof_run`).

        :return: Whether the line left the queue.
        :rtype: bool
        """
        # In sudo mode: the line is the server's; the refund itself is requested as
        # the job's user below, with its rights checked by the request path.
        line = self.sudo()
        line._lock_lines()
        if line.state != "queued" or line.batch_id.state != "running":
            return False  # Done, cancelled, or a job run twice: nothing to do.
        batch = line.batch_id
        tx = line.source_transaction_id.with_env(self.env)
        if line.refund_id:
            # A failed refund queued again by Retry Failed: retried, under its own
            # key (the same refund, the next request).
            return line._retry_refund(line.refund_id.with_env(self.env))
        try:
            with self.env.cr.savepoint():
                refund = tx.with_context(
                    **{RAISE_UNREACHED_KEY: TRANSITION}
                )._request_refund(
                    amount_to_refund=line.amount,
                    reason=batch.reason_id,
                    note=batch.note,
                    # The batch's approval, when another manager than the user who
                    # started it gave one (a manager starting it needs none).
                    approval=line
                    if batch.approved_by_id
                    and batch.approved_by_id != batch.started_by_id
                    else None,
                )
        except (UserError, AccessError) as error:
            # The request path's refusal (ValidationError is a UserError), in the
            # user's words; nothing was written or sent.
            line.write({"state": "refused", "message": _error_message(error)})
            return True
        line.write({"refund_id": refund.id})
        line._sync_from_refund()
        return True

    def _retry_refund(self, refund):
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                refund.with_context(**{RAISE_UNREACHED_KEY: TRANSITION}).action_retry()
        except (UserError, AccessError) as error:
            self.write({"state": "refused", "message": _error_message(error)})
            return True
        self._sync_from_refund()
        return True

    def _refund_proof_get_approval(self, source, amount):
        """The approval this line stands for, checked against the database (see
        `payment.transaction._request_refund(approval=...)`): the line is queued in
        a running batch that another refund manager approved, for this payment and
        this amount, and the refund is requested by the user who started the batch.

        :param recordset source: The `payment.transaction` being refunded, in the
            requester's environment.
        :param float amount: The amount being refunded.
        :return: The approving manager.
        :rtype: recordset of `res.users`
        :raise AccessError: When the approval does not stand.
        """
        self.ensure_one()
        line = self.sudo()
        batch = line.batch_id
        requester = source.env.user
        if (
            line.state != "queued"
            or batch.state != "running"
            or not batch.approved_by_id
            or batch.approved_by_id == requester
            or batch.started_by_id != requester
            or line.source_transaction_id != source
            or source.currency_id.compare_amounts(amount, line.amount)
        ):
            raise AccessError(
                _(
                    "This refund is not covered by the approval of a bulk refund: "
                    "it needs its own."
                )
            )
        return batch.approved_by_id

    # === ACTION METHODS === #

    def action_mark_not_refunded(self):
        """A refund manager, having checked the provider's dashboard, records that
        an interrupted line's refund was not made: the line fails, and Retry Failed
        asks for it again."""
        if not self.env["payment.refund"]._is_refund_manager():
            raise AccessError(
                _("Only a refund manager can decide the outcome of a refund.")
            )
        self.check_access("read")
        # In sudo mode: the manager's right was checked above; lines are the server's.
        lines = self.sudo()
        lines._lock_lines()
        for line in lines:
            if not (
                line.interrupted and line.state == "pending" and not line.refund_id
            ):
                raise UserError(
                    _(
                        "%(payment)s: only an interrupted payment without a refund "
                        "can be marked not refunded.",
                        payment=line.source_transaction_id.reference,
                    )
                )
            message = _(
                "Not made, as checked with the provider by %(user)s.",
                user=self.env.user.name,
            )
            line.write({"state": "failed", "interrupted": False, "message": message})
            line.batch_id.message_post(
                body=_(
                    "%(payment)s: %(message)s",
                    payment=line.source_transaction_id.reference,
                    message=message,
                )
            )
        return True

    # === BUSINESS METHODS - INTERRUPTED JOBS === #

    @api.model
    def _cron_resume_interrupted(self):
        """Cron: what a job that stopped half-way leaves behind is settled.

        A worker killed, a server stopped or the database restarted while a job ran:
        its queue_job record stays started, or failed (this queue_job release does
        not watch its workers). A line whose job so stopped may have had its refund
        made by the provider while Odoo rolled the request back: it is never asked
        again by itself (it would be refunded twice). It is interrupted, pending: a
        refund the provider reports for its payment (webhook, `payment.transaction.
        _refund_proof_link_refunds`), or one reported already, is linked to it;
        otherwise a refund manager decides (`action_mark_not_refunded`). A proof's
        or a batch check's job that so stopped is queued again (both do nothing
        twice); one the runner sent that no worker started is queued again. Finally
        the running batches without a line left are done.
        """
        for line_id, job_uuid in self._get_interrupted_jobs(["_refund_proof_run"]):
            line = self.browse(line_id)
            if not line._lock_lines(skip_locked=True):
                continue  # Its job holds it: alive after all.
            line._set_interrupted(job_uuid)
        for _line_id, job_uuid in self._get_interrupted_jobs(
            ["_refund_proof_send_pending_mail", "_refund_proof_check_finished"]
        ):
            # In sudo mode: queue_job's records are its managers'.
            self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)]).requeue()
        # Sent by the runner to a worker that never started them (the database was
        # away, the worker died first): queued again sooner than queue_job's own
        # garbage collector does (5 minutes after, every 5 minutes). Never started,
        # never run: safe to run.
        self.env["queue.job"].sudo().search(
            [
                ("method_name", "in", JOB_METHODS),
                ("state", "=", "enqueued"),
                ("date_enqueued", "<", fields.Datetime.now() - INTERRUPTED_JOB_GRACE),
            ]
        ).requeue()
        running = (
            self.env["payment.refund.batch"].sudo().search([("state", "=", "running")])
        )
        running._lock_batches()
        running._check_finished()

    @api.model
    def _get_interrupted_jobs(self, methods):
        """The jobs of these job functions that stopped half-way: started over a
        minute ago in a worker that no longer holds a database connection opened
        before it (killed, or its connections lost to a database restart), or, for
        a line's job, failed while its line was still queued.

        :param list methods: The job functions' method names: `_refund_proof_run`
            (lines), or others (their jobs are returned when started only: a failed
            proof or check stays failed in queue_job's jobs view, the mail cron and
            this cron's batch check doing their work all the same).
        :return: (the line's id, or None for other jobs, the job's uuid) of each.
        :rtype: list of tuples
        """
        # Odoo names its database connections from its process id (sql_db.
        # connection_info_for), ODOO_PGAPPNAME if set.
        app_name = os.environ.get("ODOO_PGAPPNAME", "odoo-{pid}")
        before, _pid, after = app_name.partition("{pid}")
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT j.identity_key, j.uuid, j.method_name
                  FROM queue_job j
                 WHERE j.method_name = ANY(%(methods)s)
                   AND (
                        (j.state = 'failed' AND j.method_name = '_refund_proof_run')
                        OR (
                            j.state = 'started'
                            AND j.date_started < %(started_before)s
                            AND NOT EXISTS (
                                SELECT 1 FROM pg_stat_activity a
                                 WHERE a.application_name
                                       = %(before)s || j.worker_pid || %(after)s
                                   AND a.backend_start
                                       <= (j.date_started AT TIME ZONE 'UTC')
                                          + interval '1 second'
                            )
                        )
                   )
                   -- A line's latest job only (Retry Failed queues another).
                   AND (
                        j.identity_key IS NULL
                        OR NOT EXISTS (
                            SELECT 1 FROM queue_job n
                             WHERE n.identity_key = j.identity_key AND n.id > j.id
                        )
                   )
                 ORDER BY j.id
                """,
                methods=list(methods),
                started_before=fields.Datetime.now() - INTERRUPTED_JOB_GRACE,
                before=before,
                after=after,
            )
        )
        jobs = []
        for key, uuid, method in self.env.cr.fetchall():
            if method != "_refund_proof_run":
                jobs.append((None, uuid))
                continue
            line = self.browse(int((key or ":0").rsplit(":", 1)[1])).exists()
            if line.state == "queued" and line.batch_id.state == "running":
                jobs.append((line.id, uuid))
        return jobs

    def _set_interrupted(self, job_uuid):
        """Settle a locked, queued line whose job stopped half-way (see
        `_cron_resume_interrupted`): linked to the refund its provider reported
        since, or interrupted."""
        self.ensure_one()
        line = self.sudo()
        if line.state != "queued":
            return
        job = Job.load(self.env, job_uuid)
        line.write(
            {
                "state": "pending",
                "interrupted": True,
                "message": _(
                    "Interrupted while its refund may have been on its way to the "
                    "provider (a server stopped or lost its database). If the "
                    "provider made it, its notification brings it here; otherwise a "
                    "refund manager checks with the provider and marks it not "
                    "refunded, then Retry Failed asks again."
                ),
            }
        )
        # The job's record says what happened, and nobody runs it again by mistake.
        job.set_cancelled(result=line.message)
        job.store()
        reported = (
            self.env["payment.refund"]
            .sudo()
            .search(
                [
                    ("source_transaction_id", "=", line.source_transaction_id.id),
                    ("origin", "=", "provider"),
                    ("create_date", ">=", job.date_started or line.write_date),
                ],
                order="id",
            )
        )
        line._link_reported_refund(reported)
        line.batch_id._schedule_check_finished()

    def _link_reported_refund(self, refunds):
        """Link to interrupted lines (self) the refunds their provider reported
        (made outside Odoo's request, which was rolled back): one refund per line,
        of the line's amount, not already another line's.

        :param recordset refunds: `payment.refund` the provider reported.
        """
        Line = self.env["payment.refund.batch.line"].sudo()
        for line in self.sudo().filtered(
            lambda line: line.interrupted and not line.refund_id
        ):
            for refund in refunds:
                if line.currency_id.compare_amounts(
                    refund.amount, line.amount
                ) or Line.search_count([("refund_id", "=", refund.id)], limit=1):
                    continue
                line.write({"refund_id": refund.id, "interrupted": False})
                line._sync_from_refund()
                line.batch_id.message_post(
                    body=_(
                        "%(payment)s: the refund %(refund)s its provider reported "
                        "is this payment's (its request was interrupted).",
                        payment=line.source_transaction_id.reference,
                        refund=refund.name,
                    )
                )
                break

    # === BUSINESS METHODS === #

    def _lock_lines(self, skip_locked=False):
        """Lock the lines' rows (their job holds its line's while it runs).

        :param bool skip_locked: Lock only those no transaction holds.
        :return: The lines locked.
        """
        if not self.ids:
            return self
        if skip_locked:
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM payment_refund_batch_line WHERE id IN %s "
                    "ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
                    tuple(self.ids),
                )
            )
            locked = self.browse([row[0] for row in self.env.cr.fetchall()])
        else:
            execute_lock(
                self.env,
                SQL(
                    "SELECT id FROM payment_refund_batch_line WHERE id IN %s "
                    "ORDER BY id FOR NO KEY UPDATE",
                    tuple(self.ids),
                ),
            )
            locked = self
        self.invalidate_recordset(["state", "refund_id", "interrupted"])
        return locked

    def _sync_from_refund(self):
        """The line's state from its refund's: done, failed (with the provider's
        message), cancelled, or pending (awaiting approval, held or sent without an
        answer yet)."""
        for line in self.sudo().filtered("refund_id"):
            refund = line.refund_id
            state = REFUND_TO_LINE_STATE.get(refund.state, "pending")
            message = False
            if state == "failed":
                message = refund.failure_message
            elif refund.state == "to_approve":
                message = _("Awaiting a manager's approval.")
            elif refund.state == "pending" and refund.outcome_unknown:
                message = refund.failure_message
            if line.state != state or line.message != message:
                line.write({"state": state, "message": message})

    def _get_job_channel(self):
        """The line's queue channel: one per provider (capacities in the
        `[queue_job]` configuration, README "Running in production")."""
        self.ensure_one()
        code = self.sudo().provider_id.code or "manual"
        return f"{CHANNEL_ROOT}.{code}"

    def _get_job_max_retries(self):
        return JOB_MAX_RETRIES


def _error_message(error):
    return str(error.args[0]) if error.args else str(error)
