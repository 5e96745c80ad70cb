"""Pure helpers of refund_proof: no ORM in here, so they are tested directly."""

import functools
import re

from stdnum import luhn

ARN_LENGTH = 23
_SEPARATORS = re.compile(r"[\s\-]+")
_BANK_REFERENCE = re.compile(r"^[A-Z0-9]{8,30}$", re.ASCII)

ARN = "arn"
BANK_REFERENCE = "bank_reference"


def normalize_arn(value):
    """Strip spaces and dashes and upper-case a reference typed or pasted by a user.

    Only ASCII letters are upper-cased: a reference is ASCII letters and digits, and
    case-folding other scripts would turn an invalid one into a valid one ("straße"
    into "STRASSE", a dotless "ı" into "I"). Other characters are kept, so that
    :func:`classify_arn` refuses them.

    :param str value: The raw value, or a falsy value.
    :return: The normalized reference, or ``False`` when nothing is left.
    :rtype: str | bool
    """
    if not value:
        return False
    stripped = _SEPARATORS.sub("", value)
    return "".join(c.upper() if c.isascii() else c for c in stripped) or False


def classify_arn(normalized):
    """Tell what kind of acquirer reference a normalized value is.

    A 23-digit value is an Acquirer Reference Number and must pass the Luhn check
    over its 23 digits; any other value of 8-30 letters and digits is a bank/network
    reference.

    :param str normalized: A value returned by :func:`normalize_arn`.
    :return: ``ARN``, ``BANK_REFERENCE``, or ``None`` when the value is neither
             (including a 23-digit value that fails the Luhn check, which is almost
             surely a typo).
    :rtype: str | None
    """
    if normalized.isascii() and normalized.isdigit() and len(normalized) == ARN_LENGTH:
        return ARN if luhn.is_valid(normalized) else None
    if _BANK_REFERENCE.match(normalized):
        return BANK_REFERENCE
    return None


def format_arn(normalized):
    """Group an ARN for reading aloud: 1 6 4 11 1 (network, BIN, date, seq., check)."""
    if not normalized or len(normalized) != ARN_LENGTH or not normalized.isdigit():
        return normalized or ""
    cuts = (0, 1, 7, 11, 22, 23)
    return " ".join(normalized[a:b] for a, b in zip(cuts, cuts[1:], strict=False))


def mask_iban(iban):
    """The IBAN of a payout as shown outside the refund managers' form: its country
    and check digits, then its last four characters (``FR76 •••• •••• 1234``)."""
    iban = re.sub(r"\s+", "", iban or "").upper()
    if len(iban) < 8:
        return "•" * len(iban)
    return f"{iban[:4]} •••• •••• {iban[-4:]}"


@functools.lru_cache(maxsize=128)
def qr_png(value, box_size=6, border=2):
    """Return the PNG bytes of a QR code encoding `value` (error correction M).

    Cached: the verification URL of a refund never changes, and its proof is rendered
    several times (the e-mail, the ARN e-mail, downloads); encoding costs ~18 ms.
    """
    import io

    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, box_size=box_size, border=border
    )
    code.add_data(value)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def fingerprint(*facts):
    """A short, readable SHA-256 fingerprint of the facts a proof states (16 hex digits
    in groups of four). Printed on the proof and shown on the verification page."""
    import hashlib

    digest = hashlib.sha256("\x1f".join(str(f) for f in facts).encode()).hexdigest()[
        :16
    ]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4)).upper()


def initials(name):
    """'Jean-Luc Picard' -> 'J. P.': what the public page may show of a name."""
    parts = [p for p in (name or "").replace("-", " ").split() if p[:1].isalpha()]
    if not parts:
        return ""
    chosen = parts if len(parts) < 3 else [parts[0], parts[-1]]
    return " ".join(f"{p[0].upper()}." for p in chosen)


class RefundOutcomeUnknown(Exception):
    """A provider's answer saying that a refund request may have been made, without
    saying whether (e.g. Razorpay's 409: the first request with the same idempotency
    key is still in progress). Bridges raise their error from it; the refund then
    stays pending with its amount held and its key (see :func:`is_outcome_unknown`).
    """


class RefundProviderThrottled(Exception):
    """A provider's answer saying that it did not process a request for now: its rate
    limit (HTTP 429 Too Many Requests). Nothing was done, so asking again later
    cannot refund twice. Bridges whose error does not carry the HTTP answer raise it
    from this (see :func:`is_unreached`); an `HTTPError` of status 429 in the chain
    says the same."""


# HTTP status of a request the provider did not process for now (its rate limit).
TOO_MANY_REQUESTS = 429

# What a failed provider call's chain of causes says (`_classify_provider_failure`).
OUTCOME_UNKNOWN = "outcome_unknown"  # It may have reached the provider.
UNREACHED = "unreached"  # It certainly never reached it: nothing was sent.


def _classify_provider_failure(error):
    """OUTCOME_UNKNOWN, UNREACHED, or None (a refusal, an error answer: a definite
    failure), from the whole chain of causes of a failed provider call: provider glue
    raises its own errors (usually `ValidationError`) from the network error, or from
    :class:`RefundOutcomeUnknown` when the provider answers that it does not know
    yet."""
    import requests
    from urllib3.exceptions import NewConnectionError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, RefundOutcomeUnknown):
            return OUTCOME_UNKNOWN  # The provider says so.
        if isinstance(error, RefundProviderThrottled) or (
            isinstance(error, requests.exceptions.HTTPError)
            and getattr(error.response, "status_code", None) == TOO_MANY_REQUESTS
        ):
            return UNREACHED  # Rate-limited: the provider did nothing.
        if isinstance(error, requests.exceptions.ConnectTimeout):
            return UNREACHED  # Never connected.
        if isinstance(error, requests.exceptions.Timeout):
            return OUTCOME_UNKNOWN  # Sent, no answer in time.
        if isinstance(error, requests.exceptions.ConnectionError):
            reason = getattr(error.args[0], "reason", None) if error.args else None
            if isinstance(reason, NewConnectionError):
                return UNREACHED  # Refused, or no route: never connected.
            return OUTCOME_UNKNOWN  # Lost after the request was sent.
        error = error.__cause__ or error.__context__
    return None


def is_outcome_unknown(error):
    """Whether a failed provider call may still have reached the provider: it did not
    answer in time, the connection was lost after the request was sent, or the
    provider said it does not know yet (:class:`RefundOutcomeUnknown`). A refusal, an
    error answer or a connection never established is a definite failure."""
    return _classify_provider_failure(error) == OUTCOME_UNKNOWN


class RefundProviderUnreachable(Exception):
    """Raised by `payment.refund._send_to_provider`, instead of failing the refund,
    when its caller asked for it (`const.RAISE_UNREACHED_KEY`) and the provider was
    never reached (see :func:`is_unreached`): nothing was sent, so the caller may roll
    its transaction back and try again later (a bulk refund's queue job does, with
    back-off). The first argument is the provider's message."""


def is_unreached(error):
    """Whether a failed provider call certainly never reached the provider, or
    reached it without effect: the connection was refused or could not be
    established in time, or the provider answered that it did not process the request
    for now (its rate limit, :class:`RefundProviderThrottled`). Nothing was done, so
    trying again later cannot refund twice."""
    return _classify_provider_failure(error) == UNREACHED
