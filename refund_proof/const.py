"""The rules of a refund's lifecycle, in one place."""

from datetime import timedelta

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

# Refunds not finished that may still return money: a chargeback arriving finds them
# in flight (`payment.dispute._flag_refunds_in_flight`).
IN_FLIGHT_STATES = ("draft", "to_approve", "pending")
# Refunds the customer sees (portal, record rule `payment_refund_rule_portal`, the
# sale order's page): sent or done, not a request under discussion.
PORTAL_STATES = ("pending", "done")
# ...and a failed refund once its customer was offered another way to be paid back
# (models/payment_refund_payout.py): the page shows the offer's link.
PORTAL_DOMAIN = [
    "|",
    ("state", "in", PORTAL_STATES),
    "&",
    ("state", "=", "failed"),
    ("payout_offer_date", "!=", False),
]
# Refunds issued without approval that count in their user's daily total: issued and
# not failed or cancelled (a request awaiting approval is not issued).
LIMIT_COUNTED_STATES = ("draft", "pending", "done")

# The only fields a user writes on a refund, and when (`payment.refund.write`); every
# other field is written by the server, through the refund's own methods.
USER_EDITABLE_FIELDS = frozenset({"note", "reason_id", "arn"})
# The reason and the note describe a request: editable until it is sent.
REQUEST_EDITABLE_STATES = ("draft", "to_approve")
# No money moved (or it came back): no reference of the bank belongs there.
ARN_LOCKED_STATES = ("failed", "cancelled")

# Context key of the one path of state changes of refunds and disputes
# (`refund_proof.state.mixin._set_state`) and of a refund's reference
# (`_set_reference`), and its value, an object no client can send (RPC and HTTP
# contexts hold JSON values): a context key never decides on its own what a user's
# write skips.
TRANSITION_KEY = "refund_proof_transition"
TRANSITION = object()
# Context keys of the provider call of a refund (`payment.refund._send_to_provider`):
# the refund being sent (its attempts are linked to it; it syncs itself after the
# call) and its idempotency key (`payment.transaction._get_refund_idempotency_key`).
SENDING_REFUND_KEY = "refund_proof_refund_id"
IDEMPOTENCY_KEY = "refund_proof_idempotency_key"
# Context key of a caller that retries a provider never reached itself (a bulk
# refund's queue job): with the value TRANSITION, `_send_to_provider` raises
# `utils.RefundProviderUnreachable` instead of failing the refund, and the caller rolls
# back. Only server code holds the value; a forged key only makes a request fail.
RAISE_UNREACHED_KEY = "refund_proof_raise_unreached"

# The groups of refund_proof (security/refund_proof_security.xml): users request
# refunds within their limits, managers approve, decide outcomes and have no limit.
GROUP_USER = "refund_proof.group_refund_user"
GROUP_MANAGER = "refund_proof.group_refund_manager"
# Fields only the back office reads: a portal customer reads the customer's facts of
# their refunds (amount, dates, state, reference), not the staff's notes and decisions.
INTERNAL = "base.group_user"

# States of a refund attempt (payment.transaction) that may still end up done.
LIVE_ATTEMPT_STATES = ("draft", "pending", "authorized")

# The proof of refund: its report action (what prints, downloads and the proof issue
# render) and its QWeb template (the report_name the report action points to).
PROOF_REPORT = "refund_proof.action_report_refund_proof"
PROOF_TEMPLATE = "refund_proof.report_refund_proof"
# The reports of refund_proof (the proof, the dispute evidence pack).
REPORT_PREFIX = "refund_proof."

# When the provider is asked again for an ARN it has not given (after the refund, then
# after each unanswered question; the last delay repeats), and when it no longer is:
# card networks give the ARN within days, a missing one is looked for by a person.
REFERENCE_FETCH_DELAYS = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=4),
    timedelta(days=8),
)
REFERENCE_FETCH_GIVE_UP_DAYS = 30

# The refund's e-mails Odoo's mail queue could not hand to the outgoing server (it
# could not connect: `mail.notification.failure_type` "mail_smtp") go back to the
# queue, as the failed-mail view's retry does: the first time a minute after the
# failure, then after a quarter of the mail's age at the failure, never more than an
# hour later; given up two days after the mail was written (it stays failed in Odoo's
# failed-mail view, for the back office to resend or cancel).
CUSTOMER_MAIL_RETRY_MIN_DELAY = timedelta(minutes=1)
CUSTOMER_MAIL_RETRY_AGE_FRACTION = 0.25
CUSTOMER_MAIL_RETRY_MAX_DELAY = timedelta(hours=1)
CUSTOMER_MAIL_RETRY_GIVE_UP = timedelta(days=2)
# An e-mail the outgoing server accepted stays in the journal of accepted e-mails
# (models/ir_mail_server.py) until its record as sent is committed; one whose mail was
# deleted before the queue ran again is forgotten after this long.
SMTP_JOURNAL_KEEP = timedelta(days=30)

# === DISPUTES (payment.dispute) === #

# The state changes a dispute may go through, and only those (`payment.dispute.
# _set_state`, the refunds' state machine; provider events that would break them are
# logged and change nothing).
#   needs_response  opened by the bank: the merchant answers before the due date
#   under_review    answered (or nothing to answer): the bank decides
#   won             decided for the merchant (a reversal is not always final: a second
#                   chargeback or a pre-arbitration reopens it)
#   lost            decided for the customer (pre-arbitration and arbitration reopen it)
#   closed          ended without a decision: an inquiry answered, withdrawn or refunded
DISPUTE_STATE_TRANSITIONS = {
    "needs_response": ("under_review", "won", "lost", "closed"),
    "under_review": ("needs_response", "won", "lost", "closed"),
    "won": ("needs_response", "under_review", "lost"),
    "lost": ("needs_response", "under_review", "won"),
    "closed": (),
}
# A dispute in one of these states is open: the bank has not decided yet.
DISPUTE_OPEN_STATES = ("needs_response", "under_review")
# Kinds of dispute whose money the bank took back (or will): refunding on top of them
# pays the customer twice. An inquiry only asks: a full refund ends it.
DISPUTE_CHARGEBACK_KINDS = ("chargeback", "pre_arbitration")
# How far a dispute's kind may go, and only forward (an inquiry escalated to a
# chargeback, a chargeback to pre-arbitration).
DISPUTE_KIND_ORDER = ("inquiry", "chargeback", "pre_arbitration")
# The fields a refund manager gives when recording a dispute from a bank letter
# (`payment.dispute.create`); everything else is the server's.
DISPUTE_LETTER_FIELDS = frozenset(
    {
        "source_transaction_id",
        "provider_reference",
        "amount",
        "currency_id",
        "card_network",
        "reason_code",
        "kind",
        "evidence_due_date",
        "opened_date",
        "note",
    }
)
# What a refund manager writes on a dispute afterwards; its state, kind, amount and
# references change through its actions and the provider's events only.
DISPUTE_USER_EDITABLE_FIELDS = frozenset({"note", "evidence_due_date"})
# How far ahead of a dispute's due date the refund managers and the failure address
# are told (`payment.dispute._cron_alert_dispute_deadlines`).
DISPUTE_DEADLINE_ALERT = timedelta(days=2)
# The evidence pack of a dispute: the report's xml id (report_action, rendering).
EVIDENCE_REPORT = "refund_proof.action_report_dispute_evidence"

# The card networks' reason codes most disputes carry, with a readable label
# (`payment.dispute.reason_display`). Sources: Visa, "Dispute Management Guidelines
# for Visa Merchants" (Visa Claims Resolution reason codes 10.x fraud, 11.x
# authorisation, 12.x processing errors, 13.x consumer disputes,
# https://usa.visa.com/dam/VCOM/global/support-legal/documents/merchants-dispute-management-guidelines.pdf);
# Mastercard, "Chargeback Guide" (message reason codes 48xx; since 2017 most consumer
# disputes run under 4853 and 4860 is a legacy code still reported,
# https://www.mastercard.us/content/dam/public/mastercardcom/na/global-site/documents/chargeback-guide.pdf).
# The labels stay in the networks' own (English) words: acquirers' letters and
# dashboards use them so, whatever the merchant's language.
CARD_NETWORKS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "other": "Other network",
}
# Spellings providers use for a network (Stripe's card brand, Adyen's
# chargebackSchemeCode).
CARD_NETWORK_ALIASES = {
    "visa": "visa",
    "mc": "mastercard",
    "mastercard": "mastercard",
    "amex": "amex",
    "american_express": "amex",
    "americanexpress": "amex",
    "discover": "discover",
}
DISPUTE_REASONS = {
    "visa": {
        "10.1": "EMV liability shift counterfeit fraud",
        "10.2": "EMV liability shift non-counterfeit fraud",
        "10.3": "Other fraud: card-present environment",
        "10.4": "Other fraud: card-absent environment",
        "10.5": "Visa Fraud Monitoring Program",
        "11.1": "Card recovery bulletin",
        "11.2": "Declined authorization",
        "11.3": "No authorization",
        "12.1": "Late presentment",
        "12.2": "Incorrect transaction code",
        "12.3": "Incorrect currency",
        "12.4": "Incorrect account number",
        "12.5": "Incorrect amount",
        "12.6.1": "Duplicate processing",
        "12.6.2": "Paid by other means",
        "12.7": "Invalid data",
        "13.1": "Merchandise/services not received",
        "13.2": "Cancelled recurring",
        "13.3": "Not as described or defective merchandise/services",
        "13.4": "Counterfeit merchandise",
        "13.5": "Misrepresentation",
        "13.6": "Credit not processed",
        "13.7": "Cancelled merchandise/services",
        "13.8": "Original credit transaction not accepted",
        "13.9": "Non-receipt of cash or load transaction value",
    },
    "mastercard": {
        "4808": "Authorization-related chargeback",
        "4812": "Account number not on file",
        "4831": "Transaction amount differs",
        "4834": "Point-of-interaction error",
        "4837": "No cardholder authorization",
        "4840": "Fraudulent processing of transactions",
        "4841": "Cancelled recurring or digital goods transactions",
        "4842": "Late presentment",
        "4846": "Correct transaction currency code not provided",
        "4849": "Questionable merchant activity",
        "4853": "Cardholder dispute",
        "4855": "Goods or services not provided",
        "4859": "Addendum, no-show or ATM dispute",
        "4860": "Credit not processed",
        "4863": "Cardholder does not recognize: potential fraud",
        "4870": "Chip liability shift",
        "4871": "Chip/PIN liability shift",
    },
}

# How long a refund request waits for another request on the same payment, or of the
# same user, to finish.
REFUND_LOCK_TIMEOUT = "10s"
# The first key of the advisory lock serialising one user's limit decisions
# (`payment.refund._lock_user_limits`; the second key is the user's id): a fixed
# number of refund_proof's own: zlib.crc32(b"refund_proof.user_limits") as a signed
# int4.
USER_LIMITS_LOCK_CLASS = -174986427
# How long one run of the proof e-mail cron may render proofs before it leaves the rest
# to a run of its own (triggered at once): well within Odoo's --limit-time-real (120 s
# by default) on a busy machine, where one render may take seconds.
CUSTOMER_MAIL_RUN_SECONDS = 30

# The customer's choice of another way to be paid back
# (models/payment_refund_payout.py): at most PAYOUT_REFUSAL_LIMIT refused posts of the
# choice page per refund within PAYOUT_REFUSAL_WINDOW from the first one; further
# posts are answered 429 until the window ends. Counted on the refund's row, not in a
# worker's memory.
PAYOUT_REFUSAL_LIMIT = 5
PAYOUT_REFUSAL_WINDOW = timedelta(hours=1)
# The countries of the SEPA schemes outside the European Economic Area, by the
# country code of their IBAN: a transfer to them needs the beneficiary bank's BIC
# (SEPA Credit Transfer Rulebook, AT-23; the countries and territories from the EPC's
# "EPC list of countries and territories included in the SEPA schemes' geographical
# scope", EPC409-09, version 2025). Jersey, Guernsey and the Isle of Man mostly use GB
# IBANs; Saint-Pierre-et-Miquelon and Saint-Barthélemy use FR IBANs, which cannot be
# told from France's: their customers may still give the BIC.
SEPA_NON_EEA_COUNTRIES = frozenset(
    {
        "AD",  # Andorra
        "AL",  # Albania
        "CH",  # Switzerland
        "GB",  # United Kingdom
        "GG",  # Guernsey
        "GI",  # Gibraltar
        "IM",  # Isle of Man
        "JE",  # Jersey
        "MC",  # Monaco
        "MD",  # Moldova
        "ME",  # Montenegro
        "MK",  # North Macedonia
        "RS",  # Serbia
        "SM",  # San Marino
        "VA",  # Vatican City
    }
)
