"""A refund of a payment: its record, its lifecycle and its call to the provider.

Split by feature, as Odoo's mail/models/discuss/ splits its models (one `_inherit`
file each, reasons in .pylintrc-mandatory): here the record, the rules on what users
write, the actions and the state machine's side effects (`_on_state_change`); the
approval and limits in payment_refund_approval.py, the proof's facts and issued
versions in payment_refund_proof_document.py, the e-mails and notices in
payment_refund_mail.py, the idempotency key and the bank reference in
payment_refund_reference.py, the portal's view in payment_refund_portal.py.
"""

import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_amount

from ..const import (
    ARN_LOCKED_STATES,
    GROUP_USER,
    IDEMPOTENCY_KEY,
    INTERNAL,
    LIVE_ATTEMPT_STATES,
    RAISE_UNREACHED_KEY,
    REQUEST_EDITABLE_STATES,
    SENDING_REFUND_KEY,
    STATE_TRANSITIONS,
    TRANSITION,
    USER_EDITABLE_FIELDS,
)
from ..utils import (
    ARN,
    BANK_REFERENCE,
    RefundProviderUnreachable,
    classify_arn,
    format_arn,
    is_outcome_unknown,
    is_unreached,
    normalize_arn,
)

_logger = logging.getLogger(__name__)


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
            ("store_credit", "Store credit"),
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
        through `_set_reference` only, so that their side effects always follow."""
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
            self.sudo()._set_reference(arn)
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

    def _set_reference(self, arn):
        """The one write of a refund's ARN or bank reference, whoever gives it: a
        user (`write`, having passed `_check_arn_change` as that user) or the provider
        (`_record_reference`, which ignores what this refuses). A correction keeps the
        former value in the chatter; a new reference on a done refund issues a new
        version of its proof and tells the customer."""
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

    def _execute(self):
        """Carry out refunds decided in Odoo (within limits, or approved): a manual
        one is done (paid outside the provider), the others are sent to it. Not the
        proof's issue (`_issue_proof`)."""
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
        refund can be retried (or, when its caller asked with `RAISE_UNREACHED_KEY`
        and the provider was never reached, `RefundProviderUnreachable` is raised
        for the caller to roll back and try again). When the request may have
        reached the provider (no answer in time, connection lost), the refund stays
        pending with its amount held instead: a retry could refund the customer
        twice.

        Note: self.ensure_one()
        """
        self.ensure_one()
        source = self.source_transaction_id
        try:
            with self.env.cr.savepoint():
                # In sudo mode because providers read their credentials; the caller's
                # right was checked by `_check_refund_rights` before reaching here.
                source.sudo().with_context(
                    **{
                        SENDING_REFUND_KEY: self.id,
                        IDEMPOTENCY_KEY: self._get_idempotency_key(),
                    }
                )._send_refund_request(amount_to_refund=self.amount)
        except psycopg2.Error:
            raise  # Concurrency errors must reach the retrying() loop of the request.
        except Exception as error:  # noqa: BLE001 - any provider failure is recorded
            message = str(error.args[0]) if getattr(error, "args", None) else str(error)
            if self.env.context.get(RAISE_UNREACHED_KEY) is TRANSITION and (
                is_unreached(error)
            ):
                # Nothing was sent: the caller rolls back and tries again later.
                raise RefundProviderUnreachable(message) from error
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
        if self.state == "draft" and not self.hold_reason:
            # The provider gave no attempt back: wait for its webhook. A refund its
            # bridge held (`_hold`, models/payment_refund_settlement.py) stays in
            # draft, unsent, until the bridge sends it.
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

    def _format_amount(self, amount=None):
        self.ensure_one()
        return format_amount(
            self.env, self.amount if amount is None else amount, self.currency_id
        )
