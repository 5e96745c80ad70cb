"""What refund_proof_stripe knows of Stripe's events, in one place."""

# The refund events that Odoo's payment_stripe handles itself (payment_stripe/const.py,
# HANDLED_WEBHOOK_EVENTS): the bridge checks their signature first and completes them.
ODOO_REFUND_EVENTS = ("charge.refunded", "charge.refund.updated")

# The refund events that the bridge handles (Odoo ignores them): Stripe sends
# `refund.updated` when the ARN of a card refund arrives, `refund.created` for a refund
# made in its dashboard, `refund.failed` when a refund fails after it succeeded.
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed")

# The dispute events (chargebacks, inquiries): logged on the payment, never a refund.
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)

# The events added to Odoo's when it creates the webhook endpoint.
WEBHOOK_EVENTS = REFUND_EVENTS + DISPUTE_EVENTS

# Every event that can change a refund or tell of a dispute: never processed unsigned.
SIGNED_ONLY_EVENTS = ODOO_REFUND_EVENTS + REFUND_EVENTS + DISPUTE_EVENTS

# The sub-hash of `destination_details` naming the reference, by its `reference_status`:
# `available` carries the reference, `unavailable` says none will come (a reversal, or
# a network that gives none), `pending` is the default until it arrives.
REFERENCE_AVAILABLE = "available"
REFERENCE_UNAVAILABLE = "unavailable"

# How many refunds of a charge Stripe lists per page (its maximum).
REFUNDS_PAGE_SIZE = 100

# A Stripe dispute's `status` as refund_proof's (kind, state) of a `payment.dispute`:
# the `warning_*` statuses are inquiries (Stripe's "inquiry", `case_type` inquiry),
# the others chargebacks (https://docs.stripe.com/api/disputes/object#dispute_object-status).
DISPUTE_STATUS_MAPPING = {
    "warning_needs_response": ("inquiry", "needs_response"),
    "warning_under_review": ("inquiry", "under_review"),
    "warning_closed": ("inquiry", "closed"),
    "needs_response": ("chargeback", "needs_response"),
    "under_review": ("chargeback", "under_review"),
    "won": ("chargeback", "won"),
    "lost": ("chargeback", "lost"),
}
