"""What the bridge knows of Mollie's API v2 (https://docs.mollie.com/reference/)."""

import re
from datetime import timedelta

# Odoo's request helper (`payment_mollie`, `_mollie_make_request`) hard-codes both.
API_URL = "https://api.mollie.com/"
API_TIMEOUT = 60

# "API idempotency": a POST carrying this header is executed once per key; a repeated
# request gets the answer of the first one.
IDEMPOTENCY_HEADER = "Idempotency-Key"
# The answer to a request whose key names a request still being processed: its
# outcome is not known yet (not a refusal).
IDEMPOTENCY_IN_PROGRESS_STATUS = 409

# Ids as Mollie makes them: payments `tr_…`, refunds `re_…`.
PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]+")
REFUND_ID = re.compile(r"re_[A-Za-z0-9]+")

# "List payment refunds" (GET /v2/payments/{id}/refunds): at most 250 a page.
LIST_LIMIT = 250

# "Refund object", `status`, as the refund transaction's state. Mollie: "queued" (the
# balance is too low: the refund waits), "pending" (to be processed), "processing",
# "refunded" (transferred to the customer), "failed" ("failed after processing", the
# money returns to the balance), "canceled" (canceled before it was sent).
REFUND_STATUS_MAPPING = {
    "pending": ("queued", "pending", "processing"),
    "done": ("refunded",),
    "error": ("failed", "canceled"),
}

# The description of a refund: "will be passed along to your customer's bank or card
# issuer if possible"; Mollie takes at most 255 characters.
DESCRIPTION_MAX_LENGTH = 255

# "Chargeback object" (List payment chargebacks, GET /v2/payments/{id}/chargebacks,
# https://docs.mollie.com/reference/list-payment-chargebacks): ids `chb_…`, no status;
# `reversedAt` is set once "a previously received chargeback has been reversed"
# (webhook events chargeback.received and chargeback.reversed). The merchant objects
# to a chargeback in Mollie's dashboard: a received one needs a response, a reversed
# one is won.
CHARGEBACK_ID = re.compile(r"chb_[A-Za-z0-9]+")
CHARGEBACK_RECEIVED_STATE = "needs_response"
CHARGEBACK_REVERSED_STATE = "won"

# The webhook's safety net (cron): a refund still pending this long after its last
# change, or of unknown outcome, is read from Mollie's API; at most this many payments
# a run.
SYNC_PENDING_AFTER = timedelta(hours=1)
SYNC_PENDING_LIMIT = 50
