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
