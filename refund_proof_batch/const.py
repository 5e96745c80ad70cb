"""The rules of a bulk refund (`payment.refund.batch`), in one place."""

from datetime import timedelta

# The only fields a user writes on a batch, and only while it is a draft not yet
# approved (`payment.refund.batch.write`, which then computes its lines again): how
# much each payment gets back, and the reason and note of every refund. Every other
# field, and every field of its lines, is written by the server through the batch's
# methods.
BATCH_USER_EDITABLE_FIELDS = frozenset(
    {"amount_mode", "amount_percentage", "amount_fixed", "reason_id", "note"}
)

# Lines whose refund may still be asked or is on its way: the batch is not finished
# while one is left.
LINE_OPEN_STATES = ("queued", "pending")
# A line's end queues the check of its batch's end only when at most this many lines
# are still open (`payment.refund.batch._schedule_check_finished`): more than the
# jobs that run at once, so that the last lines, running in parallel, each queue one.
CHECK_NEAR_END = 50
# Lines that left the batch for good (with or without money back).
LINE_CLOSED_STATES = ("done", "refused", "failed", "cancelled")

# The line's state from its refund's (`payment.refund.batch.line._sync_from_refund`):
# awaiting approval, held by its bridge (draft) or sent without an answer yet are
# pending.
REFUND_TO_LINE_STATE = {
    "draft": "pending",
    "to_approve": "pending",
    "pending": "pending",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}

# The queue: one channel per provider under this one (README, "Running in
# production"), each with the capacity its provider's rate limit allows.
CHANNEL_ROOT = "root.refund_proof"
# Tries of a line's job when its provider cannot be reached (nothing sent); the
# back-off between them is the job function's retry pattern (data/queue_job_data.xml).
JOB_MAX_RETRIES = 5

# The proofs of refund (every refund's, batch or not): one job per refund whose proof
# or customer e-mail is pending, on this channel, so that as many proofs render at once
# as its capacity allows (README, "Running in production").
PROOF_CHANNEL = f"{CHANNEL_ROOT}.proof"
# The mail cron still runs this long after a refund's job is queued: the safety net of
# a job lost or failed, or of a server whose job runner does not run (queue_job not
# loaded server-wide: the load test's servers), which then sends the proofs as before,
# this much later; it sends what is still pending, nothing twice, and retries the
# e-mails the outgoing server could not take. Short: a job's proof takes seconds.
PROOF_CRON_SAFETY_DELAY = timedelta(minutes=2)

# A started job of a line, a proof or a batch check is settled by the cron
# `ir_cron_refund_batch_resume` (`payment.refund.batch.line._cron_resume_interrupted`)
# when its worker no longer holds a database connection opened before it, at least this
# long after it started (a live job holds its line's row from its first instant).
INTERRUPTED_JOB_GRACE = timedelta(minutes=1)
