"""The rules of a refund's lifecycle, in one place."""

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
