"""What refund_proof_stripe knows of Stripe's events, in one place."""

# The refund events that Odoo's payment_stripe handles itself (payment_stripe/const.py,
# HANDLED_WEBHOOK_EVENTS): the bridge checks their signature first and completes them.
ODOO_REFUND_EVENTS = ("charge.refunded", "charge.refund.updated")

# The refund events that the bridge handles too (Odoo ignores them). Stripe sends
# them for card refunds (refunds of a charge) only to endpoints at API version
# 2024-10-28.acacia or later (changelog "refund-webhook-update": before, "these events
# were only sent for refunds without a corresponding charge"); the endpoint Odoo
# creates is at 2019-05-16 (`payment_stripe.const.API_VERSION`), where a card refund's
# updates, its ARN included, come as `charge.refund.updated` (Odoo's, completed by the
# bridge) and the ARN is otherwise asked for (`GET refunds/<id>`, the reference cron).
# Subscribed all the same: an endpoint of a later version gets them.
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

# A Stripe dispute's `status` as refund_proof's (kind, state) of a `payment.dispute`
# (None: unchanged), after Stripe's dispute object
# (https://docs.stripe.com/api/disputes/object#dispute_object-status): the `warning_*`
# statuses are inquiries (Stripe's "inquiry", `case_type` inquiry), the `appeal_*`
# ones the issuer's second round (Stripe's changelog 2025-08-27.basil), the others
# chargebacks; `charge_refunded` (API versions up to 2019-2020: the charge was
# refunded while the dispute was open) closes it; `prevented` (2025-08-27.basil) is a
# case a prevention tool settled before any chargeback was filed.
DISPUTE_STATUS_MAPPING = {
    "warning_needs_response": ("inquiry", "needs_response"),
    "warning_under_review": ("inquiry", "under_review"),
    "warning_closed": ("inquiry", "closed"),
    "needs_response": ("chargeback", "needs_response"),
    "under_review": ("chargeback", "under_review"),
    "won": ("chargeback", "won"),
    "lost": ("chargeback", "lost"),
    "appeal_needs_response": ("pre_arbitration", "needs_response"),
    "appeal_under_review": ("pre_arbitration", "under_review"),
    "charge_refunded": (None, "closed"),
    "prevented": ("inquiry", "closed"),
}
# A new dispute whose status is none of the above (a status Stripe added since): kept
# in view, under review, as an inquiry (which neither asks for a response nor refuses
# refunds as a chargeback does) until a known status decides it.
DISPUTE_UNKNOWN_STATUS = ("inquiry", "under_review")
# `payment_method_details.card.case_type` of the cases that prevention tools handle
# (2025-08-27.basil: `block`, `resolution`): no chargeback is filed, the case is an
# inquiry whatever its status; `compliance` is a chargeback's.
DISPUTE_PREVENTION_CASE_TYPES = ("block", "resolution")

# Stripe's API, and the host of its file uploads (another host, multipart encoded:
# https://docs.stripe.com/file-upload), where the evidence pack of a dispute goes.
API_URL = "https://api.stripe.com/v1/"
FILES_URL = "https://files.stripe.com/v1/files"
# The seconds a request to Stripe may take (as payment_stripe's own requests).
REQUEST_TIMEOUT = 60

# The evidence of a dispute (https://docs.stripe.com/api/disputes/update): the purpose
# and largest size of its files (the file upload guide: PDF, JPEG or PNG up to "5MB",
# read as 5,000,000 bytes: the smaller reading, so that Stripe never refuses a pack
# for its size after Odoo accepted it),
# the longest text of a long text field (20,000 characters) and of a short one (the
# customer's name and e-mail: 5,000); all text fields together stay under 150,000.
EVIDENCE_FILE_PURPOSE = "dispute_evidence"
EVIDENCE_FILE_MAX_SIZE = 5_000_000
EVIDENCE_TEXT_MAX_LENGTH = 20000
EVIDENCE_SHORT_TEXT_MAX_LENGTH = 5000
