"""The proof of refund: its facts, its verification token and its issued versions.

One source per fact: the PDF (report/report_refund_proof_templates.xml), the public
verification page (controllers/verify.py) and the customer's e-mails read the same
fields and methods here. A proof is rendered once per version (refund done, reference
known or corrected) and stored as issued (`payment.refund.proof`, with its SHA-256):
every print, download and e-mail serves that file.
"""

import base64
import re
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import consteq
from odoo.tools.image import image_data_uri
from odoo.tools.misc import format_datetime, hmac

from ..const import INTERNAL, PROOF_REPORT
from ..utils import fingerprint, qr_png
from .ir_actions_report import proof_issue_data

# A verification token: a random public key, a dot, an HMAC of the refund id and the
# key.
TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{20,64})\.([0-9a-f]{32})$")
TOKEN_SCOPE = "refund_proof.verify"

# Stored fields the public verification page needs (its status, facts, fingerprint).
VERIFICATION_FIELDS = [
    "name",
    "amount",
    "currency_id",
    "company_id",
    "partner_id",
    "state",
    "refund_date",
    "reversal_date",
    "cancel_date",
    "write_date",
    "arn",
    "arn_type",
    "proof_tz",
    "verification_key",
]


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    verification_key = fields.Char(
        readonly=True,
        copy=False,
        index=True,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(24),
        help="Random public half of the verification token (the other half is an "
        "HMAC).",
    )
    verification_url = fields.Char(
        compute="_compute_verification_url",
        help="Public page telling whether a proof of this refund is genuine "
        "(the QR code).",
    )
    proof_fingerprint = fields.Char(compute="_compute_proof_fingerprint")
    # The facts the proof, its verification page and its e-mails state, read alike by
    # the three of them (one source per fact).
    statement_descriptor = fields.Char(
        compute="_compute_statement_descriptor",
        help="The name the customer's statement shows for the payment and its refund: "
        "the provider's descriptor, else the company's, else the company's name.",
    )
    support_email = fields.Char(
        compute="_compute_support_contacts",
        help="Where the customer asks about the refund: the refund support e-mail, "
        "else the company's e-mail.",
    )
    support_phone = fields.Char(compute="_compute_support_contacts")
    support_url = fields.Char(
        string="Contact Page", compute="_compute_support_contacts"
    )
    customer_name = fields.Char(
        compute="_compute_customer_name",
        help="The customer, or the name given with the payment when it has no "
        "customer.",
    )
    payment_date = fields.Datetime(
        string="Paid On",
        compute="_compute_payment_date",
        help="When the original payment was confirmed.",
    )
    payment_method_display = fields.Char(
        string="Payment Method Used",
        compute="_compute_payment_method_display",
        help="The payment method of the original payment, with the last 4 digits of "
        "the card when known (never more).",
    )
    previously_refunded_amount = fields.Monetary(
        string="Refunded Before",
        compute="_compute_previously_refunded_amount",
        help="What other done refunds of the same payment returned before this one.",
    )
    expected_arrival = fields.Char(
        compute="_compute_expected_arrival",
        help="When the customer should see the money, as the provider tells.",
    )
    no_arn_note = fields.Char(
        string="Why No ARN",
        compute="_compute_no_arn_note",
        help="For a refund no ARN will come for: why, and what the customer's "
        "statement shows instead, as the provider tells.",
    )
    proof_tz = fields.Char(
        string="Proof Time Zone",
        compute="_compute_proof_tz",
        store=True,
        precompute=True,
        help="Time zone of the dates on the proof, its e-mails and its verification "
        "page: the customer's when the refund was requested, else the merchant's "
        "(its Refund Time Zone).",
    )
    proof_ids = fields.One2many(
        groups=INTERNAL,
        comodel_name="payment.refund.proof",
        inverse_name="refund_id",
        string="Issued Proofs",
        readonly=True,
    )
    proof_pending = fields.Boolean(
        groups=INTERNAL,
        readonly=True,
        copy=False,
        help="A new version of the proof (refund done, reference known or corrected) "
        "waits for the mail cron to be issued, after the refund is committed.",
    )

    # === COMPUTE METHODS === #

    def _compute_verification_url(self):
        for refund in self:
            refund.verification_url = refund.id and (
                f"{refund.get_base_url()}/refund-proof/verify/"
                f"{refund._get_verification_token()}"
            )

    @api.depends("name", "amount", "currency_id", "refund_date", "arn", "company_id")
    def _compute_proof_fingerprint(self):
        for refund in self:
            refund.proof_fingerprint = fingerprint(
                refund.name,
                refund.currency_id.round(refund.amount),
                refund.currency_id.name,
                refund.refund_date and refund.refund_date.isoformat(),
                refund.arn or "",
                refund.company_id.name,
                refund.sudo().verification_key,
            )

    # Not on the time zones themselves: the dates of an issued proof never move.
    @api.depends("partner_id", "company_id")
    def _compute_proof_tz(self):
        for refund in self:
            refund.proof_tz = (
                refund.partner_id.tz or refund.company_id.refund_tz or "UTC"
            )

    @api.depends(
        "source_transaction_id.refund_charge_descriptor",
        "provider_id.refund_statement_descriptor",
        "company_id.refund_statement_descriptor",
        "company_id.name",
    )
    def _compute_statement_descriptor(self):
        for refund in self:
            refund.statement_descriptor = (
                refund.source_transaction_id.refund_charge_descriptor
                or refund.provider_id.refund_statement_descriptor
                or refund.company_id.refund_statement_descriptor
                or refund.company_id.name
            )

    @api.depends(
        "company_id.refund_support_email",
        "company_id.email",
        "company_id.refund_support_phone",
        "company_id.phone",
        "company_id.refund_support_url",
    )
    def _compute_support_contacts(self):
        for refund in self:
            company = refund.company_id
            refund.support_email = company.refund_support_email or company.email
            refund.support_phone = company.refund_support_phone or company.phone
            refund.support_url = company.refund_support_url

    @api.depends("partner_id.name", "source_transaction_id.partner_name")
    def _compute_customer_name(self):
        for refund in self:
            refund.customer_name = (
                refund.partner_id.name or refund.source_transaction_id.partner_name
            )

    @api.depends(
        "source_transaction_id.last_state_change", "source_transaction_id.create_date"
    )
    def _compute_payment_date(self):
        for refund in self:
            tx = refund.source_transaction_id
            refund.payment_date = tx.last_state_change or tx.create_date

    @api.depends(
        "source_transaction_id.payment_method_id",
        "source_transaction_id.token_id.payment_details",
        "provider_id.name",
    )
    def _compute_payment_method_display(self):
        for refund in self:
            # In sudo mode: the payment's token and method are the customer's facts of
            # this refund, shown to whoever may read it (payment tokens are not
            # readable by every user).
            tx = refund.sudo().source_transaction_id
            method = tx.payment_method_id.name or tx.provider_id.name
            last4 = (tx.token_id.payment_details or "")[-4:]
            refund.payment_method_display = (
                f"{method} •••• {last4}" if last4 else method
            )

    @api.depends(
        "source_transaction_id.refund_ids.state",
        "source_transaction_id.refund_ids.amount",
        "source_transaction_id.refund_ids.refund_date",
        "refund_date",
    )
    def _compute_previously_refunded_amount(self):
        for refund in self:
            when = refund.refund_date or refund.create_date
            previous = refund.source_transaction_id.refund_ids.filtered(
                lambda other, refund=refund, when=when: (
                    other.state == "done"
                    and other.id != refund.id
                    and (other.refund_date or other.create_date) <= when
                )
            )
            refund.previously_refunded_amount = sum(previous.mapped("amount"))

    @api.depends("provider_id")
    @api.depends_context("lang")
    def _compute_expected_arrival(self):
        for refund in self:
            refund.expected_arrival = (
                refund.provider_id._get_refund_expected_arrival()
                if refund.provider_id
                else False
            )

    @api.depends("provider_id", "arn_unavailable")
    @api.depends_context("lang")
    def _compute_no_arn_note(self):
        for refund in self:
            refund.no_arn_note = (
                refund.provider_id._get_refund_no_arn_note()
                if refund.arn_unavailable and refund.provider_id
                else False
            )

    # === BUSINESS METHODS - PROOF === #

    def _get_verification_token(self):
        """Return the token of the public verification page: `<key>.<hmac(id, key)>`.

        The key is random and the HMAC uses the database secret: the token cannot be
        guessed from the refund id, and a tampered token fails the constant-time
        comparison.

        Note: self.ensure_one()
        """
        self.ensure_one()
        key = self.sudo().verification_key
        return f"{key}.{self._sign_verification_key(key)}"

    def _sign_verification_key(self, key):
        return hmac(self.env(su=True), TOKEN_SCOPE, f"{self.id}:{key}")[:32]

    @api.model
    def _get_by_verification_token(self, token):
        """The refund of a verification token (sudo), or an empty recordset."""
        match = TOKEN_RE.match(token or "")
        if not match:
            return self.browse()
        key, signature = match.groups()
        # The columns the verification page shows, read with the search (whole rows of
        # refunds are wide: a public page is served many times).
        refund = self.sudo().search_fetch(
            [("verification_key", "=", key)], VERIFICATION_FIELDS, limit=1
        )
        if not refund or not consteq(refund._sign_verification_key(key), signature):
            return self.browse()
        return refund

    def _get_verification_status(self):
        """'genuine' for a done refund, 'revoked' for one that was done and then
        reversed or cancelled, None when no proof of it can exist."""
        self.ensure_one()
        if self.state == "done":
            return "genuine"
        if self.state in ("failed", "cancelled") and (
            self.reversal_date or self.proof_ids
        ):
            return "revoked"
        return None

    def _check_proof_available(self):
        for refund in self:
            if refund.state != "done":
                raise UserError(
                    _(
                        "There is no proof of refund for %(name)s: only done refunds "
                        "have one (this one is %(state)s).",
                        name=refund.name,
                        state=refund._get_state_label(),
                    )
                )

    def _get_proof_timezone(self):
        """The time zone of the proof's dates (`proof_tz`). Never the viewer's, so the
        PDF, the e-mails and the public page state the same time."""
        self.ensure_one()
        return self.sudo().proof_tz or "UTC"

    def _format_proof_datetime(self, value):
        """`value` (a UTC datetime) as the proof, its page and its e-mails state it:
        in the proof's time zone (`_get_proof_timezone`) and the context's language.

        :param datetime value: A datetime of this refund (refund date, payment date).
        :return: The formatted date and time, or an empty string without a value.
        :rtype: str
        """
        self.ensure_one()
        if not value:
            return ""
        return format_datetime(
            self.env, value, tz=self._get_proof_timezone(), dt_format="medium"
        )

    def _get_proof_order_names(self):
        """The sale orders the refunded payment paid (empty without `sale`).

        :rtype: list[str]
        """
        self.ensure_one()
        tx = self.sudo().source_transaction_id
        return (
            tx.sale_order_ids.mapped("name") if "sale_order_ids" in tx._fields else []
        )

    def _get_proof_credit_note_name(self):
        """The number of the credit note this refund pays back, or False.

        :rtype: str | bool
        """
        self.ensure_one()
        # In sudo mode: the proof names it whoever renders it (refund users need not
        # read invoices).
        return self.sudo().credit_note_id.name or False

    def _get_proof_qr_data_uri(self):
        """The QR code of the verification page, as a data URI for the proof.

        :rtype: str
        """
        self.ensure_one()
        return image_data_uri(base64.b64encode(qr_png(self.verification_url)))

    def _get_current_proof(self):
        """The issued proof of the refund's current version (the one with its current
        reference), or an empty recordset while it is not issued yet.

        Note: self.ensure_one()
        """
        self.ensure_one()
        # In sudo mode: the proofs and the reference they were issued with are the
        # server's, whoever serves them (their access to the refund was checked).
        refund = self.sudo()
        return refund.proof_ids.filtered(
            lambda proof: (
                (proof.arn or False) == refund.arn
                and proof.arn_unavailable == refund.arn_unavailable
            )
        ).sorted("id", reverse=True)[:1]

    def _ensure_proof(self):
        """The issued proof of the current version, issued now if it is not yet.

        Note: self.ensure_one()
        """
        self.ensure_one()
        self._check_proof_available()
        return self._get_current_proof() or self._issue_proof()

    def _issue_proof(self):
        """Render the proof of refund as a PDF, once, and store it as issued
        (`payment.refund.proof`, with its SHA-256): every later print, download and
        e-mail serves that file.

        Note: self.ensure_one()
        """
        self.ensure_one()
        # In sudo mode: the server issues the proof (the mail cron, or the first print
        # or download by a reader whose access was checked): the document states the
        # refund's facts whoever asks first. `proof_issue_data`: the one render of the
        # proof report, which no client's context or data can ask for.
        pdf, kind = (
            self.env["ir.actions.report"]
            .sudo()
            ._render_qweb_pdf(PROOF_REPORT, self.ids, data=proof_issue_data())
        )
        if kind != "pdf":  # Test mode without force_report_rendering: not a proof.
            return self.env["payment.refund.proof"]
        proof = self.env["payment.refund.proof"]._store(self, pdf)
        self.sudo().proof_pending = False
        return proof

    def _get_report_base_filename(self):
        self.ensure_one()
        return _("Proof of refund - %(name)s", name=self.name)
