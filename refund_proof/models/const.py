"""The rules of a refund's lifecycle, in one place."""

from datetime import timedelta

# A refund in one of these states holds its amount: the remaining refundable amount of
# the source transaction counts it, whether it is awaiting approval, in flight or done.
RESERVING_STATES = ("draft", "to_approve", "pending", "done")

# The state changes a refund may go through, and only those: every change of state
# passes `payment.refund._set_state`, which refuses any other and runs the side effects
# of the transition (customer e-mail and proof, back-office notices, approval
# activities).
#   draft       created, about to be sent to the provider or recorded as paid
#   to_approve  above the requester's limits: waits for another person's approval
#   pending     sent; the provider has not answered yet (or its outcome is unknown)
#   done        refunded; a proof is issued
#   failed      refused, reversed after done, or found not made by a manager
#   cancelled   withdrawn or rejected before it was sent
STATE_TRANSITIONS = {
    "draft": ("pending", "done", "failed", "cancelled"),
    "to_approve": ("draft", "cancelled"),
    "pending": ("done", "failed"),
    "done": ("failed",),
    # Retried (again within limits, or for approval), or the provider's late answer.
    "failed": ("draft", "to_approve", "pending", "done"),
    "cancelled": (),
}

# The only fields a user writes on a refund, and when (`payment.refund.write`); every
# other field is written by the server, through the refund's own methods.
USER_EDITABLE_FIELDS = frozenset({"note", "reason_id", "arn"})
# The reason and the note describe a request: editable until it is sent.
REQUEST_EDITABLE_STATES = ("draft", "to_approve")
# No money moved (or it came back): no reference of the bank belongs there.
ARN_LOCKED_STATES = ("failed", "cancelled")

# Context key of the one path of state changes (not a permission: users cannot write
# the state whatever their context, see `payment.refund._check_user_write`).
TRANSITION_KEY = "refund_proof_transition"

# The groups of refund_proof (security/refund_proof_security.xml): users request
# refunds within their limits, managers approve, decide outcomes and have no limit.
GROUP_USER = "refund_proof.group_refund_user"
GROUP_MANAGER = "refund_proof.group_refund_manager"
# Fields only the back office reads: a portal customer reads the customer's facts of
# their refunds (amount, dates, state, reference), not the staff's notes and decisions.
INTERNAL = "base.group_user"

# States of a refund attempt (payment.transaction) that may still end up done.
LIVE_ATTEMPT_STATES = ("draft", "pending", "authorized")

# The proof of refund: its report action (what prints, downloads and the proof issue
# render) and its QWeb template (the report_name the report action points to).
PROOF_REPORT = "refund_proof.action_report_refund_proof"
PROOF_TEMPLATE = "refund_proof.report_refund_proof"

# When the provider is asked again for an ARN it has not given (after the refund, then
# after each unanswered question; the last delay repeats), and when it no longer is:
# card networks give the ARN within days, a missing one is looked for by a person.
REFERENCE_FETCH_DELAYS = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=4),
    timedelta(days=8),
)
REFERENCE_FETCH_GIVE_UP_DAYS = 30
