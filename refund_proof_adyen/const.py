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
# rejected by the card scheme, or its amount returned to the merchant's account; or a
# refund still pending that was voided (VOID_PENDING_REFUND): never made.
REFUND_FAILURE_EVENT_CODES = (
    "REFUND_FAILED",
    "REFUNDED_REVERSED",
    "VOID_PENDING_REFUND",
)

# A reversal asked with /cancelOrRefund: Adyen cancels the payment if it is not
# captured, else refunds it (`additionalData.modification.action`, outside the
# signature). Odoo processes neither; the bridge records no refund from it (the
# action it names is unsigned) and tells the payment's documents.
CANCEL_OR_REFUND_EVENT_CODE = "CANCEL_OR_REFUND"

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

# The fields of a NotificationRequestItem that Adyen's HMAC signature covers, in the
# order of its signing string (the values joined by ":"). Nothing else is signed:
# `additionalData` (ARN, dispute status, reason codes, dates), `reason`, `eventDate`.
SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "amount.value",
    "amount.currency",
    "eventCode",
    "success",
)

# The events this bridge processes after Odoo's webhook handler has checked them.
HANDLED_EVENT_CODES = (
    *REFUND_FAILURE_EVENT_CODES,
    CANCEL_OR_REFUND_EVENT_CODE,
    *DISPUTE_EVENT_CODES,
)

# The Checkout API endpoint of refunds (payment_adyen's `API_ENDPOINT_VERSIONS` key).
REFUND_ENDPOINT = "/payments/{}/refunds"

# Adyen's dispute events as refund_proof's (kind, state) of a `payment.dispute` (None:
# unchanged), after Adyen's descriptions of Webhooks v1 (tag "Dispute") and its dispute
# notifications (https://docs.adyen.com/risk-management/disputes-api/dispute-
# notifications): a request for information is an inquiry; a notification of
# chargeback opens the dispute and CHARGEBACK deducts the funds; CHARGEBACK_REVERSED
# is a win that is not final; the issuer's response time expiring means it accepted
# the defence or did not answer (won), the end of the defence period that the dispute
# was not defended or its liability accepted (lost); a second chargeback is the
# issuer's second round after the defence, the funds deducted again: pre-arbitration,
# lost (a pre-arbitration it opens reopens it); a pre-arbitration the merchant
# declined (defended) waits for the issuer, one accepted is lost. Events that are not
# a phase of the dispute (issuer comments, fraud notifications of the scheme) are
# only logged on the payment. Only these signed event codes decide a won, lost or
# closed dispute.
DISPUTE_EVENT_MAPPING = {
    "REQUEST_FOR_INFORMATION": ("inquiry", "needs_response"),
    "NOTIFICATION_OF_CHARGEBACK": ("chargeback", "needs_response"),
    "DISPUTE_OPENED_WITH_CHARGEBACK": ("chargeback", "needs_response"),
    "CHARGEBACK": ("chargeback", "needs_response"),
    "INFORMATION_SUPPLIED": (None, "under_review"),
    "CHARGEBACK_REVERSED": ("chargeback", "won"),
    "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": (None, "won"),
    "DISPUTE_DEFENSE_PERIOD_ENDED": (None, "lost"),
    "SECOND_CHARGEBACK": ("pre_arbitration", "lost"),
    "PREARBITRATION_OPEN": ("pre_arbitration", "needs_response"),
    "PREARBITRATION_WON": ("pre_arbitration", "won"),
    "PREARBITRATION_LOST": ("pre_arbitration", "lost"),
    "PREARBITRATION_ACCEPTED": ("pre_arbitration", "lost"),
    "PREARBITRATION_DECLINED": ("pre_arbitration", "under_review"),
    "PREARBITRATION_ISSUER_WITHDRAWN": ("pre_arbitration", "won"),
    "SCHEME_ARBITRATION": ("pre_arbitration", "under_review"),
    "SCHEME_ARBITRATION_WON": ("pre_arbitration", "won"),
    "SCHEME_ARBITRATION_LOST": ("pre_arbitration", "lost"),
}
# `additionalData.disputeStatus` values (Webhooks v1,
# DisputesNotificationAdditionalData: Unresponded, Responded, Expired, Undefended,
# Accepted, Pending, Lost, Won) that say no response is asked of the merchant any
# more: defended and waiting, or decided. The
# field is not covered by Adyen's HMAC signature: it only turns an event's
# "needs response" into "under review", never decides the dispute (its signed event
# code does, DISPUTE_EVENT_MAPPING).
DISPUTE_STATUSES_WITHOUT_RESPONSE = (
    "Responded",
    "Pending",
    "Won",
    "Lost",
    "Accepted",
    "Expired",
)
# The reason code and card scheme of a dispute event, by kind of case: chargebacks,
# requests for information, notifications of fraud (DisputesNotificationAdditionalData).
DISPUTE_REASON_CODE_FIELDS = ("chargebackReasonCode", "rfiReasonCode", "nofReasonCode")
DISPUTE_SCHEME_CODE_FIELDS = ("chargebackSchemeCode", "rfiSchemeCode", "nofSchemeCode")
