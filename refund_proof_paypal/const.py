"""What the bridge knows of PayPal's REST API: Payments v2
(https://developer.paypal.com/docs/api/payments/v2/), Orders v2
(https://developer.paypal.com/docs/api/orders/v2/) and Webhooks v1
(https://developer.paypal.com/docs/api/webhooks/v1/)."""

# Odoo's request helper (`payment_paypal`, `_paypal_make_request`) waits this long.
API_TIMEOUT = 10

# "Refund captured payment": POST /v2/payments/captures/{capture_id}/refund, with the
# amount to refund (a partial refund; PayPal refunds what remains without one).
REFUND_ENDPOINT = "/v2/payments/captures/{capture_id}/refund"
# "Show refund details": GET /v2/payments/refunds/{refund_id}.
REFUND_DETAILS_ENDPOINT = "/v2/payments/refunds/{refund_id}"
# "Show order details": GET /v2/checkout/orders/{id}; its captures are under
# `purchase_units[].payments.captures[]`.
ORDER_DETAILS_ENDPOINT = "/v2/checkout/orders/{order_id}"
# "Show captured payment details": GET /v2/payments/captures/{capture_id}; its order
# is `supplementary_data.related_ids.order_id`.
CAPTURE_DETAILS_ENDPOINT = "/v2/payments/captures/{capture_id}"

# The request's idempotency key: "The server stores keys for 45 days"; a request
# sent again with the same key gets the answer of the first one.
REQUEST_ID_HEADER = "PayPal-Request-Id"
# The whole refund in PayPal's answer, not only its id, status and links (the
# default, `return=minimal`).
PREFER_HEADER = {"Prefer": "return=representation"}
# "409: The request failed because a previous call for the given resource is in
# progress": the first request with this key is still being processed.
IN_PROGRESS_STATUS = 409
# An answer saying the object does not exist (`RESOURCE_NOT_FOUND`): the stored
# reference is not an order id.
NOT_FOUND_STATUS = 404

# "Currency codes": PayPal takes no decimals for these ("If you pass a decimal amount,
# an error occurs"), whatever Odoo's rounding of the currency
# (https://developer.paypal.com/api/rest/reference/currency-codes/).
ZERO_DECIMAL_CURRENCIES = ("HUF", "JPY", "TWD")

# "Captured payment status" of a capture that can still be refunded: completed, or
# refunded in part already (REFUNDED: nothing is left).
REFUNDABLE_CAPTURE_STATUSES = ("COMPLETED", "PARTIALLY_REFUNDED")

# "Refund status" (CANCELLED, FAILED, PENDING, COMPLETED) as the state of Odoo's
# refund transaction. A pending refund says why in `status_details.reason` (ECHECK: the
# payment was funded by an eCheck that has not cleared yet).
REFUND_STATUS_MAPPING = {
    "pending": ("PENDING",),
    "done": ("COMPLETED",),
    "error": ("FAILED", "CANCELLED"),
}

# A PayPal refund's link to the capture it refunds ("HATEOAS links": rel `up`).
CAPTURE_LINK_REL = "up"

# Webhook events of refunds, which Odoo's `payment_paypal` does not handle
# (`HANDLED_WEBHOOK_EVENTS`): "A merchant refunds a payment capture." The resource is
# the refund (`resource_type` refund).
REFUND_EVENTS = ("PAYMENT.CAPTURE.REFUNDED",)

# "PayPal reverses a payment capture": the money of a capture taken back (a dispute or
# a chargeback the customer won, or PayPal's own decision). Never a refund: logged on
# the payment as a dispute event.
REVERSAL_EVENTS = ("PAYMENT.CAPTURE.REVERSED",)

# Webhook events of disputes ("Disputes" in PayPal's event names), which Odoo ignores:
# a dispute opened by the customer with PayPal or their bank, updated, resolved. The
# resource is the dispute (Disputes v1, https://developer.paypal.com/docs/api/
# customer-disputes/v1/); it is never a refund.
DISPUTE_EVENTS = (
    "CUSTOMER.DISPUTE.CREATED",
    "CUSTOMER.DISPUTE.UPDATED",
    "CUSTOMER.DISPUTE.RESOLVED",
)

# The dispute's `dispute_life_cycle_stage` as refund_proof's dispute kind: an inquiry
# asks (the customer and the merchant talk in PayPal's Resolution Center), a claim or
# a card chargeback takes the money back, pre-arbitration and arbitration are the
# later rounds.
DISPUTE_STAGE_MAPPING = {
    "INQUIRY": "inquiry",
    "CHARGEBACK": "chargeback",
    "PRE_ARBITRATION": "pre_arbitration",
    "ARBITRATION": "pre_arbitration",
}
# Its `status` as the dispute's state (RESOLVED by its outcome, below; OTHER says
# nothing).
DISPUTE_STATUS_MAPPING = {
    "OPEN": "needs_response",
    "WAITING_FOR_SELLER_RESPONSE": "needs_response",
    "WAITING_FOR_BUYER_RESPONSE": "under_review",
    "UNDER_REVIEW": "under_review",
}
# A resolved dispute's `dispute_outcome.outcome_code`: won when the merchant keeps the
# money (resolved in its favour, cancelled by the customer, the claim denied), lost
# when the customer gets it back (resolved in their favour, the claim accepted), closed
# otherwise (PayPal paid the customer itself, no outcome).
DISPUTE_OUTCOME_MAPPING = {
    "RESOLVED_SELLER_FAVOUR": "won",
    "CANCELED_BY_BUYER": "won",
    "DENIED": "won",
    "RESOLVED_BUYER_FAVOUR": "lost",
    "ACCEPTED": "lost",
}
