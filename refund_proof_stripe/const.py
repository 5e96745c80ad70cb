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

# Stripe's API, and the host of its file uploads (another host, multipart encoded:
# https://docs.stripe.com/file-upload), where the evidence pack of a dispute goes.
API_URL = "https://api.stripe.com/v1/"
FILES_URL = "https://files.stripe.com/v1/files"
# The seconds a request to Stripe may take (as payment_stripe's own requests).
REQUEST_TIMEOUT = 60

# The evidence of a dispute (https://docs.stripe.com/api/disputes/update): the purpose
# and largest size of its files (the file upload guide: PDF, JPEG or PNG up to 5 MB),
# the longest text of a long text field (20,000 characters) and of a short one (the
# customer's name and e-mail: 5,000); all text fields together stay under 150,000.
EVIDENCE_FILE_PURPOSE = "dispute_evidence"
EVIDENCE_FILE_MAX_SIZE = 5 * 1024 * 1024
EVIDENCE_TEXT_MAX_LENGTH = 20000
EVIDENCE_SHORT_TEXT_MAX_LENGTH = 5000
