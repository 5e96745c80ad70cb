import base64
import logging
import re
import secrets
import time
from datetime import timedelta

import psycopg2
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import consteq
from odoo.tools.image import image_data_uri
from odoo.tools.misc import format_amount, format_datetime, hmac

from ..utils import (
    ARN,
    BANK_REFERENCE,
    classify_arn,
    fingerprint,
    format_arn,
    is_outcome_unknown,
    normalize_arn,
    qr_png,
)
from ..const import (
    ARN_LOCKED_STATES,
    CUSTOMER_MAIL_RETRY_AGE_FRACTION,
    CUSTOMER_MAIL_RETRY_GIVE_UP,
    CUSTOMER_MAIL_RETRY_MAX_DELAY,
    CUSTOMER_MAIL_RETRY_MIN_DELAY,
    CUSTOMER_MAIL_RUN_SECONDS,
    GROUP_USER,
    INTERNAL,
    LIVE_ATTEMPT_STATES,
    PROOF_REPORT,
    REQUEST_EDITABLE_STATES,
    STATE_TRANSITIONS,
    USER_EDITABLE_FIELDS,
)
from .ir_actions_report import proof_issue_data

_logger = logging.getLogger(__name__)

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
    _name = "payment.refund"
    # The state machine first: its create runs the first transition's side effects
    # once mail.thread's create has subscribed and tracked (models/
    # refund_proof_state_mixin.py).
    _inherit = [
        "refund_proof.state.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "portal.mixin",
    ]
    _description = "Payment Refund"
    _order = "id desc"
    _check_company_auto = True
    _state_transitions = STATE_TRANSITIONS

    name = fields.Char(
        string="Number",
        required=True,
        readonly=True,
        copy=False,
        index="trigram",
        default=lambda self: _("New"),
    )
    source_transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        string="Original Payment",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        check_company=True,
        domain="[('operation', '!=', 'refund'), ('state', '=', 'done')]",
    )
    transaction_ids = fields.One2many(
        groups=INTERNAL,
        comodel_name="payment.transaction",
        inverse_name="refund_id",
        string="Attempts",
        readonly=True,
        help="The refund transactions sent to the payment provider for this refund.",
    )
    attempt_count = fields.Integer(groups=INTERNAL, compute="_compute_attempt_count")
    amount = fields.Monetary(required=True, readonly=True, tracking=True)
    currency_id = fields.Many2one(
        related="source_transaction_id.currency_id",
        store=True,
        precompute=True,
    )
    company_id = fields.Many2one(
        related="source_transaction_id.company_id",
        store=True,
        index=True,
        precompute=True,
    )
    partner_id = fields.Many2one(
        related="source_transaction_id.partner_id",
        string="Customer",
        store=True,
        index=True,
        precompute=True,
    )
    provider_id = fields.Many2one(
        related="source_transaction_id.provider_id",
        store=True,
        precompute=True,
    )
    payment_method_id = fields.Many2one(
        related="source_transaction_id.payment_method_id"
    )
    source_amount = fields.Monetary(
        related="source_transaction_id.amount",
        string="Amount Paid",
    )
    is_partial = fields.Boolean(string="Partial Refund", compute="_compute_is_partial")
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("to_approve", "To Approve"),
            ("pending", "Pending"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
    )
    origin = fields.Selection(
        selection=[
            ("odoo", "Requested in Odoo"),
            ("provider", "Reported by the provider"),
            ("manual", "Manual refund"),
        ],
        default="odoo",
        required=True,
        readonly=True,
        help="Manual refunds are paid outside the payment provider (cash, bank "
        "transfer...) and recorded here; the others are refund transactions of the "
        "provider.",
    )
    manual_method = fields.Selection(
        selection=[
            ("bank_transfer", "Bank transfer"),
            ("cash", "Cash"),
            ("cheque", "Cheque"),
            ("card_terminal", "Card terminal"),
            ("other", "Other"),
        ],
        string="Paid By",
    )
    reason_id = fields.Many2one(
        comodel_name="payment.refund.reason",
        tracking=True,
        ondelete="restrict",
    )
    # Written by the request path only (`payment.transaction._request_refund`), never
    # by users (not in USER_EDITABLE_FIELDS): the credit note's open amount caps its
    # refunds, and the refund's attempts carry it to Odoo's reconciliation
    # (models/account_move.py).
    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        check_company=True,
        help="The customer credit note this refund pays back: when the refund is "
        "done, its payment is reconciled with it.",
    )
    note = fields.Text(groups=INTERNAL)
    arn = fields.Char(
        string="ARN / Bank Reference",
        copy=False,
        # Trigram: support staff search part of the ARN a customer reads out (bench/).
        index="trigram",
        tracking=True,
        help="Acquirer Reference Number (23 digits) the customer's bank can use to "
        "trace the refund, or another reference of the bank or card network (8-30 "
        "letters and digits).",
    )
    arn_type = fields.Selection(
        selection=[(ARN, "ARN"), (BANK_REFERENCE, "Bank reference")],
        string="Reference Type",
        compute="_compute_arn_type",
        store=True,
        precompute=True,  # Known at creation: no UPDATE after the INSERT.
    )
    arn_display = fields.Char(string="Reference", compute="_compute_arn_display")
    can_edit_arn = fields.Boolean(
        compute="_compute_can_edit_arn",
        help="Whether the current user may record the reference: while it is empty, "
        "or to correct it for a refund manager; never on a failed or cancelled "
        "refund.",
    )
    refund_date = fields.Datetime(
        string="Refunded On",
        copy=False,
        tracking=True,
        help="When the refund was confirmed by the provider, or paid for a manual "
        "refund.",
    )
    reversal_date = fields.Datetime(
        string="Reversed On",
        readonly=True,
        copy=False,
        help="When a refund confirmed by the provider was later reported as failed.",
    )
    failure_message = fields.Text(
        groups=INTERNAL, string="Provider Message", readonly=True, copy=False
    )
    outcome_unknown = fields.Boolean(
        groups=INTERNAL,
        readonly=True,
        copy=False,
        tracking=True,
        help="The provider call failed after the request may have reached the "
        "provider (no answer in time, connection lost): the money may have been "
        "returned. The refund stays pending, its amount held, until the provider "
        "reports it or a refund manager, having checked the provider's dashboard, "
        "marks it refunded or not refunded.",
    )
    requested_by_id = fields.Many2one(
        groups=INTERNAL,
        comodel_name="res.users",
        readonly=True,
        copy=False,
        default=lambda self: self.env.user,
    )
    request_date = fields.Datetime(
        string="Requested On",
        readonly=True,
        copy=False,
        default=fields.Datetime.now,
        index=True,
    )
    approval_reasons = fields.Text(
        groups=INTERNAL,
        string="Why Approval Is Needed",
        readonly=True,
        copy=False,
    )
    approved_by_id = fields.Many2one(
        groups=INTERNAL,
        comodel_name="res.users",
        readonly=True,
        copy=False,
        tracking=True,
    )
    approval_date = fields.Datetime(groups=INTERNAL, readonly=True, copy=False)
    cancelled_by_id = fields.Many2one(
        groups=INTERNAL,
        comodel_name="res.users",
        readonly=True,
        copy=False,
    )
    cancel_date = fields.Datetime(string="Cancelled On", readonly=True, copy=False)
    cancel_reason = fields.Text(
        groups=INTERNAL, string="Cancellation Reason", readonly=True, copy=False
    )
    is_rejected = fields.Boolean(
        groups=INTERNAL, string="Rejected", readonly=True, copy=False
    )
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
    proof_tz = fields.Char(
        string="Proof Time Zone",
        compute="_compute_proof_tz",
        store=True,
        precompute=True,
        help="Time zone of the dates on the proof, its e-mails and its verification "
        "page: the customer's when the refund was requested, else the merchant's "
        "(its Refund Time Zone).",
    )
    customer_mail_pending = fields.Selection(
        groups=INTERNAL,
        selection=[("done", "Refund done"), ("arn", "ARN known")],
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="E-mail to the customer waiting for the mail cron (after the refund is "
        "committed).",
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
    pending_alert_date = fields.Datetime(
        groups=INTERNAL,
        readonly=True,
        copy=False,
        help="When the refund managers were told that this refund has been pending "
        "for too long.",
    )
    limit_user_id = fields.Many2one(
        comodel_name="res.users",
        string="Counted in the Limits Of",
        groups=INTERNAL,
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The user who issued this refund without approval: it counts in their "
        "daily total of the day it was issued (Counted on).",
    )
    limit_date = fields.Datetime(
        string="Counted on",
        groups=INTERNAL,
        readonly=True,
        copy=False,
    )

    # === COMPUTE METHODS === #

    def _compute_attempt_count(self):
        counts = dict(
            self.env["payment.transaction"]._read_group(
                [("refund_id", "in", self.ids)],
                ["refund_id"],
                ["__count"],
            )
        )
        for refund in self:
            refund.attempt_count = counts.get(refund, 0)

    @api.depends("amount", "source_transaction_id.amount")
    def _compute_is_partial(self):
        for refund in self:
            refund.is_partial = (
                refund.currency_id.compare_amounts(refund.amount, refund.source_amount)
                < 0
            )

    @api.depends("arn")
    def _compute_arn_type(self):
        for refund in self:
            refund.arn_type = refund.arn and classify_arn(refund.arn)

    @api.depends("arn")
    def _compute_arn_display(self):
        for refund in self:
            refund.arn_display = format_arn(refund.arn)

    # No depends on the ARN: the form keeps the field editable while it is typed.
    @api.depends_context("uid")
    def _compute_can_edit_arn(self):
        is_manager = self._is_refund_manager()
        is_user = self.env.user.has_group(GROUP_USER)
        for refund in self:
            refund.can_edit_arn = (
                is_user
                and refund.state not in ARN_LOCKED_STATES
                and (not refund.arn or is_manager)
            )

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

    def _compute_access_url(self):
        res = super()._compute_access_url()
        for refund in self:
            refund.access_url = f"/my/refunds/{refund.id}"
        return res

    # === CONSTRAINT METHODS === #

    @api.constrains("amount")
    def _check_amount_positive(self):
        for refund in self:
            if refund.currency_id.compare_amounts(refund.amount, 0) <= 0:
                raise ValidationError(_("The amount to refund must be positive."))

    @api.constrains("arn")
    def _check_arn(self):
        for refund in self.filtered("arn"):
            if classify_arn(refund.arn):
                continue
            if refund.arn.isascii() and refund.arn.isdigit() and len(refund.arn) == 23:
                raise ValidationError(
                    _(
                        "%(arn)s is not a valid ARN: its check digit does not match. "
                        "Please check the 23 digits again.",
                        arn=format_arn(refund.arn),
                    )
                )
            raise ValidationError(
                _(
                    "%(arn)s is neither an ARN (23 digits) nor a bank reference "
                    "(8 to 30 letters and digits).",
                    arn=refund.arn,
                )
            )

    @api.constrains("reason_id", "note")
    def _check_note_required_by_reason(self):
        for refund in self:
            if refund.reason_id.requires_note and not (refund.note or "").strip():
                raise ValidationError(
                    _(
                        'The reason "%(reason)s" requires a note explaining the '
                        "refund.",
                        reason=refund.reason_id.name,
                    )
                )

    @api.constrains("source_transaction_id")
    def _check_source_is_not_a_refund(self):
        for refund in self:
            if refund.source_transaction_id.operation == "refund":
                raise ValidationError(
                    _(
                        "%(reference)s is itself a refund and cannot be refunded.",
                        reference=refund.source_transaction_id.reference,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            # The request path checks the right, locks the payment, checks the amount
            # left and the user's limits: a refund created directly would skip them.
            raise AccessError(
                _(
                    "Refunds cannot be created directly: request them from the "
                    "payment (its Refund button, or action_refund), which checks your "
                    "rights, the amount left to refund and your limits."
                )
            )
        for vals in vals_list:
            if "arn" in vals:
                vals["arn"] = normalize_arn(vals["arn"])
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].sudo().next_by_code(
                    "payment.refund"
                ) or _("New")
        return super().create(vals_list)

    def copy(self, default=None):
        if not self.env.su:
            # A copy would be a refund that no request path decided.
            raise UserError(
                _(
                    "A refund cannot be duplicated: request a new refund from the "
                    "payment instead."
                )
            )
        return super().copy(default=default)

    def write(self, vals):
        """Users write the fields the form lets them edit, in the states where it
        does (`_check_user_write`); every other change is the server's, made by the
        refund's own methods. The state changes through `_set_state` only, the ARN
        through `_set_arn` only, so that their side effects always follow."""
        if not self.env.su:
            self._check_user_write(vals)
        if "state" in vals and not self._is_server_transition():
            raise UserError(
                _(
                    "The state of a refund changes through its actions only "
                    "(approve, retry, cancel...)."
                )
            )
        if "arn" in vals and not self._is_server_transition():
            vals = dict(vals)
            arn = vals.pop("arn")
            result = super().write(vals) if vals else True
            # In sudo mode: a refund user may add the ARN to any refund they read
            # (checked by `_check_user_write`), not only to those they may edit.
            self.sudo()._set_arn(arn)
            return result
        return super().write(vals)

    def _check_user_write(self, vals):
        """Refuse a user's write that the refund's form would not allow: fields other
        than the note, the reason and the ARN; the note and reason of a request once
        sent; an ARN on a refund that returned no money; replacing an ARN, unless a
        refund manager corrects it."""
        server_fields = sorted(set(vals) - USER_EDITABLE_FIELDS)
        if server_fields:
            labels = ", ".join(
                self._fields[name]._description_string(self.env)
                if name in self._fields
                else name
                for name in server_fields
            )
            raise AccessError(
                _(
                    "These fields of a refund are recorded by the system and cannot "
                    "be changed by hand: %(fields)s. Use the refund's actions "
                    "(approve, retry, cancel...) instead.",
                    fields=labels,
                )
            )
        if not self.env.user.has_group(GROUP_USER):
            raise AccessError(_("You are not allowed to change refunds."))
        self.check_access("read")
        for refund in self:
            if {"note", "reason_id"} & set(vals) and (
                refund.state not in REQUEST_EDITABLE_STATES
            ):
                raise UserError(
                    _(
                        "The reason and the note of %(name)s can no longer be "
                        "changed: the refund was already sent or recorded.",
                        name=refund.name,
                    )
                )
            if "arn" in vals:
                refund._check_arn_change(vals["arn"])

    def _check_arn_change(self, arn):
        """Raise unless the current user may set `arn` on this refund.

        Note: self.ensure_one()
        """
        self.ensure_one()
        arn = normalize_arn(arn)
        if (self.arn or False) == arn:
            return
        if self.state in ARN_LOCKED_STATES:
            raise UserError(
                _(
                    "%(name)s is %(state)s: no money was returned with it, so no "
                    "bank reference can be recorded on it.",
                    name=self.name,
                    state=self._get_state_label(),
                )
            )
        if self.arn and not self._is_refund_manager():
            raise AccessError(
                _(
                    "The reference of %(name)s is already recorded (%(arn)s): only a "
                    "refund manager can correct it.",
                    name=self.name,
                    arn=format_arn(self.arn),
                )
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_issued(self):
        if not self.env.su:
            raise UserError(
                _(
                    "Refunds are never deleted: they are the history of money that "
                    "was, or may have been, returned. Cancel a request instead."
                )
            )
        if any(refund.state not in ("draft", "cancelled") for refund in self):
            raise UserError(
                _(
                    "Only draft or cancelled refunds can be deleted; the others are "
                    "the history of money that was, or may have been, returned."
                )
            )

    # === ACTION METHODS === #

    def action_retry(self):
        """Send failed refunds to the provider again, re-checking what their first
        request had to pass: the right, the payment, the amount left, the provider,
        and the limits of the user retrying (unless a manager approved the refund).
        Above those limits the refund waits for approval instead of being sent."""
        self.env["payment.transaction"]._check_refund_rights()
        self._lock_for_decision()
        for refund in self:
            if refund.state != "failed" or refund.origin == "manual":
                raise UserError(_("Only failed refunds can be retried."))
            source = refund.source_transaction_id
            # The request's check again, for the user retrying. In sudo mode for the
            # credit note: the requester chose it; what is checked again is its open
            # amount (models/account_move.py).
            source._check_refund_request(
                refund.amount, credit_note=refund.sudo().credit_note_id, exclude=refund
            )
            reasons = []
            if not refund.sudo().approved_by_id:
                self._lock_user_limits()
                reasons = self._get_approval_reasons(
                    source, refund.amount, refund.reason_id
                )
            # In sudo mode: retrying is allowed to refund users on refunds they may not
            # edit; the checks above are theirs.
            refund_sudo = refund.sudo()
            attempt_values = refund_sudo._get_next_attempt_values()
            refund_sudo.message_post(
                body=_("Retried by %(user)s.", user=self.env.user.name)
            )
            if reasons:
                refund_sudo._set_state(
                    "to_approve",
                    approval_reasons="\n".join(reasons),
                    failure_message=False,
                    **attempt_values,
                )
                continue
            refund_sudo._set_state(
                "draft",
                failure_message=False,
                **attempt_values,
                **self._get_limit_values(),
            )
            refund_sudo._send_to_provider()
        return True

    def action_mark_refunded(self, note=None):
        """A refund manager, having found a pending refund in the provider's dashboard
        (its outcome unknown, or the provider's final notification never came),
        records that it was made: it becomes done."""
        self._check_outcome_decision()
        for refund in self.sudo():
            refund._close_todo_activities(_("Refunded"))
            refund.message_post(
                body=_(
                    "%(user)s checked with the provider: the refund was made. %(note)s",
                    user=self.env.user.name,
                    note=note or "",
                )
            )
            refund._set_state(
                "done",
                decided_by=self.env.user,
                outcome_unknown=False,
                failure_message=False,
            )
        return True

    def action_mark_not_refunded(self, note=None):
        """A refund manager, having checked the provider's dashboard, records that a
        pending refund was not made: it fails, its amount is freed and it can be
        retried."""
        self._check_outcome_decision()
        for refund in self.sudo():
            refund._close_todo_activities(_("Not refunded"))
            message = _(
                "Not made, as checked with the provider by %(user)s.",
                user=self.env.user.name,
            )
            if note:
                message = f"{message} {note}"
            refund.message_post(body=message)
            # Its request may still have reached the provider: a retry sends it
            # under the same idempotency key (see `_get_idempotency_key`).
            refund._set_state(
                "failed",
                decided_by=self.env.user,
                outcome_unknown=False,
                failure_message=message,
                provider_attempt_reusable=True,
            )
        return True

    def _check_outcome_decision(self):
        if not self._is_refund_manager():
            raise AccessError(
                _("Only a refund manager can decide the outcome of a refund.")
            )
        self.check_access("read")
        self._lock_for_decision()
        for refund in self:
            if refund.state != "pending" or refund.origin == "manual":
                raise UserError(
                    _(
                        "The outcome of %(name)s is known: it is not pending at the "
                        "provider.",
                        name=refund.name,
                    )
                )

    def action_cancel(self, reason=None):
        """Cancel unsent refunds: the requester's own, or any for a manager."""
        if not self.env.su:
            self.env["payment.transaction"]._check_refund_rights()
        is_manager = self._is_refund_manager()
        self._lock_for_decision()
        for refund in self:
            if refund.state not in ("draft", "to_approve"):
                raise UserError(
                    _(
                        "%(name)s was already sent or recorded; it cannot be "
                        "cancelled.",
                        name=refund.name,
                    )
                )
            if not (is_manager or refund.sudo().requested_by_id == self.env.user):
                raise AccessError(
                    _(
                        "Only the requester or a refund manager can cancel %(name)s.",
                        name=refund.name,
                    )
                )
        self.sudo()._cancel(reason)
        return True

    def action_view_attempts(self):
        self.ensure_one()
        self.env["payment.transaction"]._check_refund_rights()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund Attempts"),
            "res_model": "payment.transaction",
            "view_mode": "list,form",
            "domain": [("refund_id", "=", self.id)],
            "context": {"create": False},
        }

    # === BUSINESS METHODS - LIFECYCLE === #

    def _get_transition_values(self, previous, target, now):
        """Override of `refund_proof.state.mixin`: a done refund has its date and no
        failure; a reversal after done is dated (its proof is revoked); an alert about
        a pending refund belongs to that pending state only."""
        values = super()._get_transition_values(previous, target, now)
        if target == "done":
            values.update(
                refund_date=self.refund_date or now,
                reversal_date=False,
                failure_message=False,
            )
        elif target == "failed" and previous == "done":
            values["reversal_date"] = now
        if target != "pending":
            values["pending_alert_date"] = False
        return values

    def _on_state_change(self, previous, decided_by=None):
        """Override of `refund_proof.state.mixin`: the one home of a refund's side
        effects, creation included (`previous` False).

        - to_approve: the managers are asked (never the requester);
        - draft after to_approve: approved, their to-dos are done;
        - pending with its outcome unknown: the back office checks with the provider;
        - done: the proof's new version and the customer's e-mail are queued, the
          inquiries its money answers are closed;
        - failed (at once, or after done: reversed): the back office is told, but the
          manager who decided it;
        - cancelled: the to-dos about it are done.
        """
        res = super()._on_state_change(previous, decided_by=decided_by)
        if previous == "to_approve" and self.state == "draft":
            self._close_todo_activities(_("Approved"))
        if self.state == "done":
            self._schedule_customer_mail("done")
            self._close_refunded_inquiries()
        elif self.state == "failed":
            self._notify_failure(decided_by=decided_by)
        elif self.state == "to_approve":
            self._request_approval()
        elif self.state == "pending" and self.outcome_unknown:
            self._notify_outcome_unknown()
        elif self.state == "cancelled":
            self._close_todo_activities(_("Cancelled"))
        return res

    def _close_refunded_inquiries(self):
        """Close the open inquiries of the payment once its refunds cover all of it
        (this one done, the others done or still on their way): the bank's question
        is answered by the money. Under an inquiry only a refund of all that remains
        is allowed (`payment.transaction._check_refund_inquiry`), so this is that
        refund.

        Note: self.ensure_one()
        """
        self.ensure_one()
        source = self.source_transaction_id
        source.invalidate_recordset(["refund_remaining_amount"])
        if source.currency_id.compare_amounts(source.refund_remaining_amount, 0) > 0:
            return
        source._get_open_disputes(("inquiry",))._close_as_refunded(self)

    def _set_arn(self, arn):
        """Record the ARN or bank reference of refunds (server side: a user's write
        passed `_check_arn_change` as that user before). A correction keeps the former
        value in the chatter; a new reference on a done refund issues a new version of
        its proof and tells the customer."""
        arn = normalize_arn(arn)
        for refund in self:
            former = refund.arn
            if (former or False) == arn:
                continue
            refund._check_arn_change(arn)  # Never on failed or cancelled refunds.
            refund._write_server_values({"arn": arn})
            if former:
                refund.message_post(
                    body=_(
                        "Reference corrected by %(user)s: %(former)s replaced by "
                        "%(arn)s.",
                        user=self.env.user.name,
                        former=format_arn(former),
                        arn=format_arn(arn) if arn else _("nothing"),
                    )
                )
            if refund.state == "done" and arn:
                refund._schedule_customer_mail("arn")

    def _issue(self):
        """Issue approved or within-limit refunds: manual ones are done, others sent."""
        for refund in self:
            if refund.origin == "manual":
                refund._set_state("done")
            else:
                refund._send_to_provider()

    def _cancel(self, reason, rejected=False):
        self._set_state(
            "cancelled",
            cancelled_by_id=self.env.uid,
            cancel_date=fields.Datetime.now(),
            cancel_reason=reason or False,
            is_rejected=rejected,
        )

    def _close_todo_activities(self, feedback):
        self.activity_feedback(["mail.mail_activity_data_todo"], feedback=feedback)

    def _send_to_provider(self):
        """Ask the provider to refund, and record what happened, failure included.

        The provider call runs in a savepoint: when it raises (API refusal, network
        error), the partial work of the call is undone but the refund is kept, marked
        failed with the provider's message, so that nothing is silently lost and the
        refund can be retried. When the request may have reached the provider (no
        answer in time, connection lost), the refund stays pending with its amount
        held instead: a retry could refund the customer twice.

        Note: self.ensure_one()
        """
        self.ensure_one()
        source = self.source_transaction_id
        try:
            with self.env.cr.savepoint():
                # In sudo mode because providers read their credentials; the caller's
                # right was checked by `_check_refund_rights` before reaching here.
                source.sudo().with_context(
                    refund_proof_refund_id=self.id,
                    refund_proof_idempotency_key=self._get_idempotency_key(),
                )._send_refund_request(amount_to_refund=self.amount)
        except psycopg2.Error:
            raise  # Concurrency errors must reach the retrying() loop of the request.
        except Exception as error:  # noqa: BLE001 - any provider failure is recorded
            message = str(error.args[0]) if getattr(error, "args", None) else str(error)
            if is_outcome_unknown(error):
                # Failing it would free its amount for a retry: the customer could be
                # refunded twice. Pending until the provider or a manager says.
                _logger.info("Refund %s: outcome unknown: %s", self.name, message)
                self._set_state(
                    "pending", outcome_unknown=True, failure_message=message
                )
                return
            _logger.info("Refund %s: the provider call failed: %s", self.name, message)
            self.message_post(
                body=_(
                    "The provider refused the refund or could not be reached: "
                    "%(message)s",
                    message=message,
                )
            )
            self._set_state("failed", failure_message=message)
            return
        self._sync_state_from_attempts()
        if self.state == "draft":
            # The provider gave no attempt back: wait for its webhook.
            self._set_state("pending")

    def _sync_state_from_attempts(self):
        """Derive the refund's state from its attempts; never raises (money moved)."""
        now = fields.Datetime.now()
        for refund in self:
            attempts = refund.transaction_ids
            if not attempts or refund.state == "cancelled":
                continue
            done = attempts.filtered(lambda tx: tx.state == "done")
            if done:
                target = "done"
                vals = {
                    "refund_date": refund.refund_date
                    or max(done.mapped("last_state_change"))
                    or now
                }
            elif attempts.filtered(lambda tx: tx.state in LIVE_ATTEMPT_STATES):
                target, vals = "pending", {}
            else:
                last = attempts.sorted(lambda tx: (tx.last_state_change or now, tx.id))[
                    -1
                ]
                target = "failed"
                vals = {
                    "failure_message": last.state_message
                    or _("The provider did not complete the refund.")
                }
            if refund.outcome_unknown:  # The attempts tell now.
                vals["outcome_unknown"] = False
                refund._close_todo_activities(_("Reported by the provider"))
            if refund.state == target:
                vals = {
                    field: value
                    for field, value in vals.items()
                    if refund[field] != value
                }
                if not vals:
                    continue
            elif target not in self._state_transitions[refund.state]:
                # E.g. a late "pending" from the provider after a manager marked the
                # refund refunded: its final notification will settle it.
                _logger.info(
                    "Refund %s: its attempts say %s, which cannot follow %s; left as "
                    "it is.",
                    refund.name,
                    target,
                    refund.state,
                )
                continue
            refund._set_state(target, **vals)

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

    # === BUSINESS METHODS - E-MAILS === #

    def _schedule_customer_mail(self, kind):
        """Queue the proof's new version and the customer's e-mail for after the
        commit: the mail cron issues the proof and sends, so a failure there never
        undoes the refund."""
        self.sudo().proof_pending = True
        refunds = self.filtered(
            lambda r: (
                r.company_id.refund_proof_send_email
                and r.partner_id
                # The first e-mail already carries the ARN if it is not sent yet.
                and not (kind == "arn" and r.customer_mail_pending == "done")
            )
        )
        refunds.sudo().customer_mail_pending = kind
        self._trigger_mail_cron()

    def _trigger_mail_cron(self):
        """Run the mail cron soon: it issues pending proofs and sends e-mails."""
        # Browsed from the cached xmlid: env.ref() would check that it exists, one
        # query per refund for a record that is part of this module's data.
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "refund_proof.ir_cron_refund_customer_mail"
        )
        self.env["ir.cron"].browse(cron_id)._trigger()

    @api.model
    def _cron_send_customer_mails(self, limit=20):
        """Issue the new versions of proofs and send the pending customer e-mails
        (refund done, ARN known), one refund per transaction as Odoo's payment
        post-processing cron does: rendering a proof takes seconds, and a refund that
        cannot be done now stays pending for a later run. Then put back in the queue
        the e-mails the outgoing server could not be reached for, and come back while
        some wait (`_retry_customer_mails_after_smtp_failure`).

        A run stops after `limit` refunds or `CUSTOMER_MAIL_RUN_SECONDS`, and the cron
        is then triggered again at once, for a run of its own: under load, e-mails go
        out as fast as proofs render (not one batch a minute), and each run stays well
        within the cron workers' time limit (`--limit-time-real`, 120 s by default),
        which Odoo's in-run batching (`_notify_progress`, ten batches a run) would not.
        """
        cron = self.env.ref("refund_proof.ir_cron_refund_customer_mail")
        domain = [
            ("state", "=", "done"),
            "|",
            ("customer_mail_pending", "!=", False),
            ("proof_pending", "=", True),
        ]
        refunds = self.sudo().search(domain, limit=limit)
        done = 0
        retry_later = False
        deadline = time.monotonic() + CUSTOMER_MAIL_RUN_SECONDS
        for index, refund in enumerate(refunds):
            if index and time.monotonic() > deadline:
                break  # Renders are slow now (a busy machine): the rest next run.
            try:
                with self.env.cr.savepoint():
                    if refund.proof_pending:
                        refund._ensure_proof()
                    if refund.customer_mail_pending:
                        refund._send_customer_mail()
            except psycopg2.OperationalError:
                # Concurrent update of the same rows (e.g. the customer's partner): next
                # run.
                _logger.info(
                    "Proof of refund %s not e-mailed yet: concurrent update",
                    refund.name,
                )
                retry_later = True
                continue
            except Exception:  # noqa: BLE001 - logged, retried at the next run
                _logger.exception(
                    "Could not issue or e-mail the proof of refund %s", refund.name
                )
                continue
            done += 1
            if not self.env.registry.in_test_mode():
                # One refund per transaction, as Odoo's own payment crons do: this
                # refund's e-mail is kept whatever happens to the next one.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        next_run = self._retry_customer_mails_after_smtp_failure()
        if retry_later:
            soon = fields.Datetime.now() + timedelta(minutes=1)
            next_run = min(next_run, soon) if next_run else soon
        if next_run:
            cron._trigger(next_run)
        if done and self.sudo().search_count(domain, limit=1):
            cron._trigger()
        # The notifications are queued: let Odoo's mail queue send them now.
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()

    def _send_customer_mail(self):
        """Post the refund e-mail (issued proof attached) to the customer, in the
        chatter.

        Note: self.ensure_one()
        """
        self.ensure_one()
        kind = self.customer_mail_pending
        template = self.env.ref(
            "refund_proof.mail_template_refund_done"
            if kind == "done"
            else "refund_proof.mail_template_refund_arn",
            raise_if_not_found=False,
        )
        if template:
            attachment_ids = []
            if self.company_id.refund_proof_attach_pdf:
                proof = self._ensure_proof()
                # Never e-mail a file changed since it was issued (raises, logged; the
                # cron leaves the e-mail pending).
                proof._get_verified_pdf()
                attachment_ids = proof.attachment_id.ids
            self._portal_ensure_token()
            self.with_context(mail_notify_force_send=False).message_post_with_source(
                template,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                email_layout_xmlid="mail.mail_notification_light",
                attachment_ids=attachment_ids,
            )
        self.customer_mail_pending = False

    @api.model
    def _retry_customer_mails_after_smtp_failure(self):
        """Put back in Odoo's mail queue the refunds' e-mails it could not hand to
        the outgoing server (no connection: every e-mail notification of the mail
        failed with type "mail_smtp"), once their retry time has come
        (`_get_customer_mail_retry_time`), as the failed-mail view's retry does. Odoo
        never tries a failed mail again by itself; mails failed otherwise (invalid
        recipient, refused message), delivered to a recipient already, or written
        more than `CUSTOMER_MAIL_RETRY_GIVE_UP` ago stay failed, for the back office.

        :return: when to look again: the next retry time, or when to check that the
            mails waiting in the queue (requeued ones included) were sent; None when
            no mail is waiting
        :rtype: datetime or None
        """
        now = fields.Datetime.now()
        # sudo: Odoo's mail queue belongs to no user; the cron only puts back what the
        # queue failed to send for want of a connection.
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", self._name),
                    ("state", "in", ("outgoing", "exception")),
                    ("create_date", ">", now - CUSTOMER_MAIL_RETRY_GIVE_UP),
                ]
            )
        )
        failed = mails.filtered(lambda mail: mail.state == "exception")
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("mail_mail_id", "in", failed.ids),
                    ("notification_type", "=", "email"),
                ]
            )
        )
        smtp_failed_ids = set(notifications.mail_mail_id.ids)
        for notification in notifications:
            if (
                notification.notification_status != "exception"
                or notification.failure_type != "mail_smtp"
            ):
                smtp_failed_ids.discard(notification.mail_mail_id.id)
        smtp_failed = failed.filtered(lambda mail: mail.id in smtp_failed_ids)
        due = smtp_failed.filtered(
            lambda mail: self._get_customer_mail_retry_time(mail, now) <= now
        )
        if due:
            due.mark_outgoing()
            _logger.info(
                "Refund e-mails back in the mail queue after a connection failure: %s",
                due.ids,
            )
        return min(
            (
                self._get_customer_mail_retry_time(mail, now)
                for mail in (mails - failed) | smtp_failed
            ),
            default=None,
        )

    @api.model
    def _get_customer_mail_retry_time(self, mail, now):
        """When to try a refund's e-mail again or look at it: a failed mail a while
        after its failure (its last write), a queued one a while after now; the while
        grows with the mail's age (`CUSTOMER_MAIL_RETRY_AGE_FRACTION` of it, between
        `CUSTOMER_MAIL_RETRY_MIN_DELAY` and `CUSTOMER_MAIL_RETRY_MAX_DELAY`).

        :param mail: a `mail.mail` of a refund, failed or queued
        :param datetime now: the current time
        :rtype: datetime
        """
        since = mail.write_date if mail.state == "exception" else now
        delay = (since - mail.create_date) * CUSTOMER_MAIL_RETRY_AGE_FRACTION
        return since + min(
            max(delay, CUSTOMER_MAIL_RETRY_MIN_DELAY), CUSTOMER_MAIL_RETRY_MAX_DELAY
        )

    @api.model
    def _cron_alert_stuck_pending(self):
        """Tell the refund managers about refunds pending for longer than their
        company's `refund_pending_alert_days`: the provider's final notification may
        never come, and a pending refund holds its amount. Once per refund."""
        now = fields.Datetime.now()
        refunds = self.sudo().search(
            [("state", "=", "pending"), ("pending_alert_date", "=", False)]
        )
        for refund in refunds:
            days = refund.company_id.refund_pending_alert_days
            since = refund.state_date or refund.request_date
            if not days or since > now - timedelta(days=days):
                continue
            refund._notify_back_office(
                _(
                    "Refund %(name)s has been pending for %(days)s days: check it "
                    "with the provider, then mark it refunded or not refunded.",
                    name=refund.name,
                    days=(now - since).days,
                ),
                requester=False,
                mail=False,
            )
            refund.pending_alert_date = now

    def _notify_failure(self, decided_by=None):
        """Tell the back office that refunds failed (never the customer).

        :param recordset decided_by: The `res.users` who decided it, if a person did:
            they need no to-do about their own decision.
        """
        for refund in self:
            refund._notify_back_office(
                _("Refund %(name)s failed", name=refund.name), exclude=decided_by
            )

    def _notify_outcome_unknown(self):
        """Tell the back office that refunds need checking with the provider: the
        refund may have been made, it stays pending, its amount held."""
        for refund in self:
            refund.message_post(
                body=_(
                    "The provider did not answer (%(message)s): the refund may "
                    "have been made. It stays pending, its amount held, until the "
                    "provider reports it. Check the provider's dashboard, then "
                    "mark it refunded or not refunded.",
                    message=refund.failure_message or "",
                )
            )
            refund._notify_back_office(
                _(
                    "Refund %(name)s: outcome unknown, check with the provider",
                    name=refund.name,
                )
            )

    def _notify_back_office(self, subject, requester=True, mail=True, exclude=None):
        """An activity for the requester and the refund managers of the company (but
        `exclude`, the `res.users` who decided what is notified), and an e-mail to
        the company's failure address when set. Every value in them (customer's name,
        provider's message) is escaped.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refund = self.sudo()
        company = refund.company_id
        users = self._get_refund_managers(company)
        if requester:
            users |= refund.requested_by_id.filtered(
                lambda u: u.active and not u.share and company in u.company_ids
            )
        if exclude:
            users -= exclude  # Who just decided it needs no to-do about it.
        note = escape(refund.failure_message or "")
        for user in users:
            # Queued (Odoo's mail cron sends it), not sent in the request's
            # post-commit: an SMTP or database fault then would answer the request
            # with an error although its refund is committed.
            refund.with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=user.id,
                summary=subject,
                note=note,
            )
        address = refund.company_id.refund_failure_email
        if mail and address:
            text = _(
                "%(subject)s: %(amount)s to %(customer)s. %(message)s",
                subject=subject,
                amount=refund._format_amount(),
                customer=refund.partner_id.name or "",
                message=refund.failure_message or "",
            )
            self.env["mail.mail"].sudo().create(
                {
                    "email_to": address,
                    "subject": subject,
                    "body_html": Markup("<p>%s</p>") % text,
                    "model": refund._name,
                    "res_id": refund.id,
                }
            )

    def _get_report_base_filename(self):
        self.ensure_one()
        return _("Proof of refund - %(name)s", name=self.name)

    def _format_amount(self, amount=None):
        self.ensure_one()
        return format_amount(
            self.env, self.amount if amount is None else amount, self.currency_id
        )
