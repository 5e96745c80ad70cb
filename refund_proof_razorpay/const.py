"""What the bridge knows of Razorpay's API v1 (https://razorpay.com/docs/api/)."""

import re

# Odoo's request helper (`payment_razorpay`, `_razorpay_make_request`) hard-codes both.
API_URL = "https://api.razorpay.com/v1/"
API_TIMEOUT = 10

# "Create a Normal Refund (Idempotent Request)": the refund request Odoo sends
# (POST payments/{id}/refund) is idempotent with this header; Razorpay answers a
# repeated request (same key, same body) with the refund it already made.
REFUND_ENDPOINT = re.compile(r"payments/[^/]+/refund")
REFUND_IDEMPOTENCY_HEADER = "X-Refund-Idempotency"
# Razorpay's answer to a request whose key names a request still in progress ("409
# Conflict"): wait, and send it again with the same key.
IDEMPOTENCY_IN_PROGRESS_STATUS = 409

# "Fetch Refund With ID": GET refunds/{id}, ids as Razorpay makes them.
REFUND_ID = re.compile(r"rfnd_[A-Za-z0-9]+")

# "Refunds Entity": `acquirer_data` carries "a unique reference number (either RRN, ARN
# or UTR)" given by the bank when the refund is processed, for the customer to trace
# it with their bank. Razorpay's examples show only the `arn` key, and its FAQs put a
# UTR "against the ARN parameter": `arn` is read first, whatever it holds, and
# refund_proof tells an ARN (23 digits, Luhn) from another bank reference (a 12-digit
# RRN, a UTR). `rrn` and `utr` are read after it defensively: no Razorpay text shows
# them under a refund's `acquirer_data` (the Payments Entity has `rrn`).
REFUND_REFERENCE_KEYS = ("arn", "rrn", "utr")

# "Disputes Webhook Events": Odoo's webhook ignores them; they never become refunds.
DISPUTE_EVENTS = (
    "payment.dispute.created",
    "payment.dispute.won",
    "payment.dispute.lost",
    "payment.dispute.closed",
    "payment.dispute.under_review",
    "payment.dispute.action_required",
)

# "Disputes Entity": its phase as refund_proof's dispute kind (a retrieval request asks
# for information; pre-arbitration and arbitration are the bank's later rounds) and its
# status as the dispute's state. An action_required event asks for evidence again.
DISPUTE_PHASE_MAPPING = {
    "retrieval": "inquiry",
    "fraud": "chargeback",
    "chargeback": "chargeback",
    "pre_arbitration": "pre_arbitration",
    "arbitration": "pre_arbitration",
}
DISPUTE_STATUS_MAPPING = {
    "open": "needs_response",
    "under_review": "under_review",
    "won": "won",
    "lost": "lost",
    "closed": "closed",
}
