"""One payment of a bulk refund, and the queue job that refunds it."""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.refund_proof.const import RAISE_UNREACHED_KEY, TRANSITION
from odoo.addons.refund_proof.db_tools import execute_lock
from odoo.addons.refund_proof.utils import RefundProviderUnreachable

from ..const import CHANNEL_ROOT, JOB_MAX_RETRIES, REFUND_TO_LINE_STATE

_logger = logging.getLogger(__name__)


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

    # === BUSINESS METHODS === #

    def _lock_lines(self):
        if self.ids:
            execute_lock(
                self.env,
                SQL(
                    "SELECT id FROM payment_refund_batch_line WHERE id IN %s "
                    "ORDER BY id FOR NO KEY UPDATE",
                    tuple(self.ids),
                ),
            )
            self.invalidate_recordset(["state", "refund_id"])

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
