# The event codes of Adyen's standard webhook (Webhooks v1) that Odoo's payment_adyen
# processes (`AdyenController.adyen_webhook`): its transaction lookup has a branch for
# each of them.
ODOO_EVENT_CODES = (
    "AUTHORISATION",
    "CANCELLATION",
    "CAPTURE",
    "CAPTURE_FAILED",
    "REFUND",
)

# A refund that Adyen had reported made (REFUND, success) and that failed afterwards:
# rejected by the card scheme, or its amount returned to the merchant's account.
REFUND_FAILURE_EVENT_CODES = ("REFUND_FAILED", "REFUNDED_REVERSED")

# The dispute events (Webhooks v1, tag "Dispute"): their pspReference is the dispute's,
# their originalReference the disputed payment's. None of them is a refund.
DISPUTE_EVENT_CODES = (
    "REQUEST_FOR_INFORMATION",
    "NOTIFICATION_OF_CHARGEBACK",
    "DISPUTE_OPENED_WITH_CHARGEBACK",
    "CHARGEBACK",
    "CHARGEBACK_REVERSED",
    "SECOND_CHARGEBACK",
    "INFORMATION_SUPPLIED",
    "ISSUER_COMMENTS",
    "ISSUER_RESPONSE_TIMEFRAME_EXPIRED",
    "DISPUTE_DEFENSE_PERIOD_ENDED",
    "PREARBITRATION_OPEN",
    "PREARBITRATION_WON",
    "PREARBITRATION_LOST",
    "PREARBITRATION_ACCEPTED",
    "PREARBITRATION_DECLINED",
    "PREARBITRATION_ISSUER_WITHDRAWN",
    "SCHEME_ARBITRATION",
    "SCHEME_ARBITRATION_WON",
    "SCHEME_ARBITRATION_LOST",
    "NOTIFICATION_OF_FRAUD",
)

# The events this bridge processes after Odoo's webhook handler has checked them.
HANDLED_EVENT_CODES = REFUND_FAILURE_EVENT_CODES + DISPUTE_EVENT_CODES

# The Checkout API endpoint of refunds (payment_adyen's `API_ENDPOINT_VERSIONS` key).
REFUND_ENDPOINT = "/payments/{}/refunds"

# Adyen's dispute events as refund_proof's (kind, state) of a `payment.dispute` (None:
# unchanged), after Adyen's dispute notifications
# (https://docs.adyen.com/risk-management/disputes-api/dispute-notifications): a
# request for information is an inquiry; a notification of chargeback opens the
# dispute and CHARGEBACK deducts the funds (its `disputeStatus` may say more,
# DISPUTE_STATUS_MAPPING); CHARGEBACK_REVERSED is a win that is not final; a second
# chargeback is the issuer's second round after the defence, the funds deducted
# again: pre-arbitration, lost (a pre-arbitration it opens reopens it). Events that are
# not a phase of the dispute (issuer comments, fraud notifications of the scheme) are
# only logged on the payment.
DISPUTE_EVENT_MAPPING = {
    "REQUEST_FOR_INFORMATION": ("inquiry", "needs_response"),
    "NOTIFICATION_OF_CHARGEBACK": ("chargeback", "needs_response"),
    "DISPUTE_OPENED_WITH_CHARGEBACK": ("chargeback", "needs_response"),
    "CHARGEBACK": ("chargeback", "needs_response"),
    "INFORMATION_SUPPLIED": (None, "under_review"),
    "CHARGEBACK_REVERSED": ("chargeback", "won"),
    "SECOND_CHARGEBACK": ("pre_arbitration", "lost"),
    "PREARBITRATION_OPEN": ("pre_arbitration", "needs_response"),
    "PREARBITRATION_WON": ("pre_arbitration", "won"),
    "PREARBITRATION_LOST": ("pre_arbitration", "lost"),
    "PREARBITRATION_ACCEPTED": ("pre_arbitration", "lost"),
    "PREARBITRATION_ISSUER_WITHDRAWN": ("pre_arbitration", "won"),
    "SCHEME_ARBITRATION": ("pre_arbitration", "under_review"),
    "SCHEME_ARBITRATION_WON": ("pre_arbitration", "won"),
    "SCHEME_ARBITRATION_LOST": ("pre_arbitration", "lost"),
}
# `additionalData.disputeStatus` of a CHARGEBACK event, when it says more than "funds
# deducted, defend it" (Undefended): defended and waiting, or decided.
DISPUTE_STATUS_MAPPING = {
    "Pending": "under_review",
    "Responded": "under_review",
    "Won": "won",
    "Lost": "lost",
    "Accepted": "lost",
    "Expired": "lost",
}
