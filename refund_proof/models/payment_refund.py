import base64
import logging
import re
import secrets
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import consteq
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

_logger = logging.getLogger(__name__)

# A refund in one of these states holds its amount: the remaining refundable amount of
# the source transaction counts it, whether it is awaiting approval, in flight or done.
RESERVING_STATES = ("draft", "to_approve", "pending", "done")
# A verification token: a random public key, a dot, an HMAC of the refund id and the
# key.
TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{20,64})\.([0-9a-f]{32})$")
TOKEN_SCOPE = "refund_proof.verify"
# Set at creation, never changed by users: the related ones would write through to the
# source transaction.
IMMUTABLE_FIELDS = {
    "source_transaction_id",
    "amount",
    "currency_id",
    "company_id",
    "partner_id",
    "provider_id",
    "origin",
    "requested_by_id",
}
# States of a refund attempt (payment.transaction) that may still end up done.
LIVE_ATTEMPT_STATES = ("draft", "pending", "authorized")

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
    _inherit = ["mail.thread", "mail.activity.mixin", "portal.mixin"]
    _description = "Payment Refund"
    _order = "id desc"
    _check_company_auto = True

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
        comodel_name="payment.transaction",
        inverse_name="refund_id",
        string="Attempts",
        readonly=True,
        help="The refund transactions sent to the payment provider for this refund.",
    )
    attempt_count = fields.Integer(compute="_compute_attempt_count")
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
        help="Manual refunds are paid outside the payment provider "
        "(cash, bank transfer...) "
        "and recorded here; the others are refund transactions of the provider.",
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
    note = fields.Text()
    arn = fields.Char(
        string="ARN / Bank Reference",
        copy=False,
        # Trigram: support staff search part of the ARN a customer reads out (bench/).
        index="trigram",
        tracking=True,
        help="Acquirer Reference Number (23 digits) the customer's bank can use to "
        "trace the "
        "refund, or another reference of the bank or card network "
        "(8-30 letters and digits).",
    )
    arn_type = fields.Selection(
        selection=[(ARN, "ARN"), (BANK_REFERENCE, "Bank reference")],
        string="Reference Type",
        compute="_compute_arn_type",
        store=True,
        precompute=True,  # Known at creation: no UPDATE after the INSERT.
    )
    arn_display = fields.Char(string="Reference", compute="_compute_arn_display")
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
    failure_message = fields.Text(string="Provider Message", readonly=True, copy=False)
    outcome_unknown = fields.Boolean(
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
        string="Why Approval Is Needed",
        readonly=True,
        copy=False,
    )
    approved_by_id = fields.Many2one(
        comodel_name="res.users",
        readonly=True,
        copy=False,
        tracking=True,
    )
    approval_date = fields.Datetime(readonly=True, copy=False)
    cancelled_by_id = fields.Many2one(
        comodel_name="res.users",
        readonly=True,
        copy=False,
    )
    cancel_date = fields.Datetime(string="Cancelled On", readonly=True, copy=False)
    cancel_reason = fields.Text(string="Cancellation Reason", readonly=True, copy=False)
    is_rejected = fields.Boolean(string="Rejected", readonly=True, copy=False)
    verification_key = fields.Char(
        readonly=True,
        copy=False,
        index=True,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(24),
        help="Random public half of the verification token "
        "(the other half is an HMAC).",
    )
    verification_url = fields.Char(
        compute="_compute_verification_url",
        help="Public page telling whether a proof of this refund is genuine "
        "(the QR code).",
    )
    proof_fingerprint = fields.Char(compute="_compute_proof_fingerprint")
    proof_tz = fields.Char(
        string="Proof Time Zone",
        compute="_compute_proof_tz",
        store=True,
        precompute=True,
        help="Time zone of the dates on the proof, its e-mails and its verification "
        "page: the customer's when the refund was requested, else the merchant's, else "
        "the requester's.",
    )
    customer_mail_pending = fields.Selection(
        selection=[("done", "Refund done"), ("arn", "ARN known")],
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="E-mail to the customer waiting for the mail cron "
        "(after the refund is committed).",
    )
    proof_ids = fields.One2many(
        comodel_name="payment.refund.proof",
        inverse_name="refund_id",
        string="Issued Proofs",
        readonly=True,
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
    @api.depends("partner_id", "company_id", "requested_by_id")
    def _compute_proof_tz(self):
        for refund in self:
            refund.proof_tz = (
                refund.partner_id.tz
                or refund.company_id.partner_id.tz
                or refund.requested_by_id.tz
                or "UTC"
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
        for vals in vals_list:
            if "arn" in vals:
                vals["arn"] = normalize_arn(vals["arn"])
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].sudo().next_by_code(
                    "payment.refund"
                ) or _("New")
        return super().create(vals_list)

    def write(self, vals):
        frozen = IMMUTABLE_FIELDS & set(vals)
        if frozen and not self.env.su:
            # Related fields would also write through to the payment transaction.
            raise UserError(
                _(
                    "The payment, amount, customer and origin of a refund cannot be "
                    "changed (%(fields)s). Cancel it and request a new refund instead.",
                    fields=", ".join(sorted(frozen)),
                )
            )
        if "arn" in vals:
            vals["arn"] = normalize_arn(vals["arn"])
            if (
                set(vals) == {"arn"}
                and not self.env.su
                and self.env.user.has_group("refund_proof.group_refund_user")
            ):
                # The ARN arrives days after the refund: any refund user may add it to a
                # refund they can read, though they may not edit the refund otherwise.
                self.check_access("read")
                return self.sudo().write(vals)
        if "state" not in vals and "arn" not in vals:
            return super().write(vals)
        previous = {refund.id: (refund.state, refund.arn) for refund in self}
        result = super().write(vals)
        self._after_write(previous)
        return result

    def _after_write(self, previous):
        """React to state and ARN changes: customer e-mails, back-office notices."""
        became_done = self.filtered(
            lambda r: r.state == "done" and previous[r.id][0] != "done"
        )
        became_failed = self.filtered(
            lambda r: r.state == "failed" and previous[r.id][0] != "failed"
        )
        new_arn = self.filtered(
            lambda r: (
                r.state == "done"
                and r.arn
                and r.arn != previous[r.id][1]
                and r not in became_done
            )
        )
        became_done._schedule_customer_mail("done")
        new_arn._schedule_customer_mail("arn")
        if became_failed:
            became_failed.sudo()._notify_failure()

    @api.ondelete(at_uninstall=False)
    def _unlink_except_issued(self):
        if any(refund.state not in ("draft", "cancelled") for refund in self):
            raise UserError(
                _(
                    "Only draft or cancelled refunds can be deleted; the others are "
                    "the history of money that was, or may have been, returned."
                )
            )

    # === ACTION METHODS === #

    def action_retry(self):
        """Send a failed refund to the provider again, after checking it is still
        refundable."""
        for refund in self:
            if refund.state != "failed" or refund.origin == "manual":
                raise UserError(_("Only failed refunds can be retried."))
            source = refund.source_transaction_id
            source._check_refund_rights()
            source._lock_for_refund()
            source._check_refund_amount(refund.amount)
            source._ensure_provider_is_not_disabled()
            # In sudo mode: retrying is allowed to refund users on refunds they may not
            # edit.
            refund.sudo().write({"state": "draft", "failure_message": False})
            refund.sudo()._send_to_provider()
        return True

    def action_mark_refunded(self):
        """A refund manager, having found the refund in the provider's dashboard,
        records that it was made: it becomes done."""
        self._check_outcome_decision()
        for refund in self.sudo():
            refund._close_todo_activities(_("Refunded"))
            refund.write(
                {
                    "state": "done",
                    "outcome_unknown": False,
                    "failure_message": False,
                    "refund_date": refund.refund_date or fields.Datetime.now(),
                }
            )
            refund.message_post(
                body=_(
                    "%(user)s checked with the provider: the refund was made.",
                    user=self.env.user.name,
                )
            )
        return True

    def action_mark_not_refunded(self):
        """A refund manager, having checked the provider's dashboard, records that the
        refund was not made: it fails, its amount is freed and it can be retried."""
        self._check_outcome_decision()
        decided = self.sudo().with_context(refund_proof_decided_by=self.env.uid)
        for refund in decided:
            refund._close_todo_activities(_("Not refunded"))
            refund.write(
                {
                    "state": "failed",
                    "outcome_unknown": False,
                    "failure_message": _(
                        "Not made, as checked with the provider by %(user)s.",
                        user=self.env.user.name,
                    ),
                }
            )
        return True

    def _check_outcome_decision(self):
        if not (
            self.env.su or self.env.user.has_group("refund_proof.group_refund_manager")
        ):
            raise AccessError(
                _("Only a refund manager can decide the outcome of a refund.")
            )
        for refund in self:
            if not (refund.state == "pending" and refund.outcome_unknown):
                raise UserError(
                    _(
                        "The outcome of %(name)s is known: the provider reported it.",
                        name=refund.name,
                    )
                )

    def action_confirm_manual(self):
        """Confirm that a manual refund was paid: it becomes done."""
        for refund in self:
            if refund.origin != "manual" or refund.state != "draft":
                raise UserError(_("Only draft manual refunds can be confirmed."))
            refund.source_transaction_id._check_refund_rights()
            refund.sudo()._issue()
        return True

    def action_approve(self):
        """Approve refund requests (four eyes): re-check them, then issue them."""
        self._check_can_decide()
        for refund in self:
            if refund.state != "to_approve":
                raise UserError(
                    _("%(name)s is not awaiting approval.", name=refund.name)
                )
            if refund.requested_by_id == self.env.user:
                raise UserError(
                    _(
                        "You cannot approve your own refund request %(name)s: another "
                        "manager "
                        "must approve it.",
                        name=refund.name,
                    )
                )
            source = refund.source_transaction_id
            source._lock_for_refund()
            manual = refund.origin == "manual"
            source._check_refund_amount(refund.amount, manual=manual, exclude=refund)
            if not manual:
                source._ensure_provider_is_not_disabled()
            # In sudo mode: the approver's right was checked by `_check_can_decide`.
            refund_sudo = refund.sudo()
            refund_sudo.write(
                {
                    "state": "draft",
                    "approved_by_id": self.env.uid,
                    "approval_date": fields.Datetime.now(),
                }
            )
            refund_sudo._close_todo_activities(_("Approved"))
            refund_sudo._notify_requester(
                _(
                    "Your refund request %(name)s was approved by %(user)s.",
                    name=refund.name,
                    user=self.env.user.name,
                )
            )
            refund_sudo._issue()
        return True

    def action_reject(self, reason=None):
        """Reject refund requests, with a reason; without one, open the dialog asking
        it.
        """
        self._check_can_decide()
        if not reason:
            return {
                "type": "ir.actions.act_window",
                "name": _("Reject Refund"),
                "res_model": "payment.refund.reject",
                "view_mode": "form",
                "target": "new",
                "context": {"default_refund_ids": self.ids},
            }
        for refund in self:
            if refund.state != "to_approve":
                raise UserError(
                    _("%(name)s is not awaiting approval.", name=refund.name)
                )
        self.sudo()._cancel(reason, rejected=True)
        for refund in self.sudo():
            refund._close_todo_activities(_("Rejected: %(reason)s", reason=reason))
            refund._notify_requester(
                _(
                    "Your refund request %(name)s was rejected by %(user)s: %(reason)s",
                    name=refund.name,
                    user=self.env.user.name,
                    reason=reason,
                )
            )
        return True

    def action_cancel(self, reason=None):
        """Cancel refunds that were not issued: the requester's own, or any for a
        manager.
        """
        is_manager = self.env.user.has_group("refund_proof.group_refund_manager")
        for refund in self:
            if refund.state not in ("draft", "to_approve"):
                raise UserError(
                    _(
                        "%(name)s was already sent or recorded; it cannot be "
                        "cancelled.",
                        name=refund.name,
                    )
                )
            if not (
                self.env.su or is_manager or refund.requested_by_id == self.env.user
            ):
                raise AccessError(
                    _(
                        "Only the requester or a refund manager can cancel %(name)s.",
                        name=refund.name,
                    )
                )
        self.sudo()._cancel(reason)
        self.sudo()._close_todo_activities(_("Cancelled"))
        return True

    def action_view_attempts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund Attempts"),
            "res_model": "payment.transaction",
            "view_mode": "list,form",
            "domain": [("refund_id", "=", self.id)],
            "context": {"create": False},
        }

    # === BUSINESS METHODS === #

    def _check_can_decide(self):
        if not (
            self.env.su or self.env.user.has_group("refund_proof.group_refund_manager")
        ):
            raise AccessError(
                _("Only refund managers can approve or reject refund requests.")
            )
        self.check_access("read")

    def _issue(self):
        """Issue approved or within-limit refunds: manual ones are done, others sent."""
        for refund in self:
            if refund.origin == "manual":
                refund.write(
                    {
                        "state": "done",
                        "refund_date": refund.refund_date or fields.Datetime.now(),
                    }
                )
            else:
                refund._send_to_provider()

    def _cancel(self, reason, rejected=False):
        self.write(
            {
                "state": "cancelled",
                "cancelled_by_id": self.env.uid,
                "cancel_date": fields.Datetime.now(),
                "cancel_reason": reason or False,
                "is_rejected": rejected,
            }
        )

    def _request_approval(self):
        """Tell the managers that refunds await approval (activity, chatter)."""
        managers = self.env.ref("refund_proof.group_refund_manager").users.filtered(
            lambda user: user.active and not user.share
        )
        for refund in self:
            refund.message_post(
                body=_(
                    "Refund request awaiting approval: %(reasons)s",
                    reasons=refund.approval_reasons,
                )
            )
            for manager in managers:
                if (
                    manager == refund.requested_by_id
                    or refund.company_id not in manager.company_ids
                ):
                    continue
                refund.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    summary=_("Approve refund %(name)s", name=refund.name),
                    note=refund.approval_reasons,
                )

    def _close_todo_activities(self, feedback):
        self.activity_feedback(["mail.mail_activity_data_todo"], feedback=feedback)

    def _notify_requester(self, body):
        for refund in self.filtered("requested_by_id"):
            refund.message_post(
                body=body,
                partner_ids=refund.requested_by_id.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )

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
                    refund_proof_refund_id=self.id
                )._send_refund_request(amount_to_refund=self.amount)
        except psycopg2.Error:
            raise  # Concurrency errors must reach the retrying() loop of the request.
        except Exception as error:  # noqa: BLE001 - any provider failure is recorded
            message = str(error.args[0]) if getattr(error, "args", None) else str(error)
            if is_outcome_unknown(error):
                # Failing it would free its amount for a retry: the customer could be
                # refunded twice. Pending until the provider or a manager says.
                _logger.info("Refund %s: outcome unknown: %s", self.name, message)
                self.write(
                    {
                        "state": "pending",
                        "outcome_unknown": True,
                        "failure_message": message,
                    }
                )
                self.message_post(
                    body=_(
                        "The provider did not answer (%(message)s): the refund may "
                        "have been made. It stays pending, its amount held, until the "
                        "provider reports it. Check the provider's dashboard, then "
                        "mark it refunded or not refunded.",
                        message=message,
                    )
                )
                self._notify_outcome_unknown()
                return
            _logger.info("Refund %s: the provider call failed: %s", self.name, message)
            self.write({"state": "failed", "failure_message": message})
            self.message_post(
                body=_(
                    "The provider refused the refund or could not be reached: "
                    "%(message)s",
                    message=message,
                )
            )
            return
        self._sync_state_from_attempts()
        if (
            self.state == "draft"
        ):  # The provider gave no attempt back: wait for its webhook.
            self.state = "pending"

    def _sync_state_from_attempts(self):
        """Derive the refund's state from its attempts. Never raises: money may have
        moved.
        """
        now = fields.Datetime.now()
        for refund in self:
            attempts = refund.transaction_ids
            if not attempts or refund.state == "cancelled":
                continue
            done = attempts.filtered(lambda tx: tx.state == "done")
            if done:
                vals = {
                    "state": "done",
                    "failure_message": False,
                    "reversal_date": False,
                }
                if not refund.refund_date:
                    vals["refund_date"] = max(done.mapped("last_state_change")) or now
            elif attempts.filtered(lambda tx: tx.state in LIVE_ATTEMPT_STATES):
                vals = {"state": "pending"}
            else:
                last = attempts.sorted(lambda tx: (tx.last_state_change or now, tx.id))[
                    -1
                ]
                vals = {
                    "state": "failed",
                    "failure_message": last.state_message
                    or _("The provider did not complete the refund."),
                }
                if refund.state == "done":
                    vals["reversal_date"] = now
            vals["outcome_unknown"] = False  # The attempts tell now.
            if refund.outcome_unknown:
                refund._close_todo_activities(_("Reported by the provider"))
            if any(refund[field] != value for field, value in vals.items()):
                refund.write(vals)

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
        """Return the refund a verification token belongs to (sudo), or an empty
        recordset.
        """
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
                        "have one "
                        "(this one is %(state)s).",
                        name=refund.name,
                        state=dict(
                            refund._fields["state"]._description_selection(refund.env)
                        )[refund.state],
                    )
                )

    def _get_proof_timezone(self):
        """The time zone of the proof's dates (`proof_tz`). Never the viewer's, so the
        PDF, the e-mails and the public page state the same time."""
        self.ensure_one()
        return self.sudo().proof_tz or "UTC"

    def _get_refund_proof_values(self):
        """All the facts printed on the proof of refund, formatted in the context's
        language.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refund = self.sudo()
        tx = refund.source_transaction_id
        company = refund.company_id
        provider = refund.provider_id
        currency = refund.currency_id
        tz = refund._get_proof_timezone()
        lang = self.env.context.get("lang")

        def money(value):
            return format_amount(self.env, value, currency, lang_code=lang)

        def when(value):
            return value and format_datetime(
                self.env, value, tz=tz, dt_format="medium", lang_code=lang
            )

        previous = tx.refund_ids.filtered(
            lambda r: (
                r.state == "done"
                and r.id != refund.id
                and (r.refund_date or r.create_date)
                <= (refund.refund_date or refund.create_date)
            )
        )
        token = tx.token_id
        last4 = (token.payment_details or "")[-4:] if token else ""
        method = tx.payment_method_id.name or provider.name
        if refund.origin == "manual":
            paid_by = dict(
                refund._fields["manual_method"]._description_selection(self.env)
            ).get(refund.manual_method)
        else:
            paid_by = False
        orders = (
            tx.sale_order_ids.mapped("name") if "sale_order_ids" in tx._fields else []
        )
        qr = qr_png(refund.verification_url)
        return {
            "merchant_name": company.name,
            "website": company.website or refund.get_base_url(),
            "descriptor": provider.refund_statement_descriptor
            or company.refund_statement_descriptor
            or company.name,
            "support_email": company.refund_support_email or company.email,
            "support_phone": company.refund_support_phone or company.phone,
            "support_url": company.refund_support_url,
            "customer_name": refund.partner_id.name or tx.partner_name,
            "orders": orders,
            "invoices": tx.invoice_ids.mapped("name"),
            "payment_reference": tx.reference,
            "payment_date": when(tx.last_state_change or tx.create_date),
            "payment_amount": money(tx.amount),
            "payment_method": f"{method} •••• {last4}" if last4 else method,
            "refund_number": refund.name,
            "refund_amount": money(refund.amount),
            "currency": currency.name,
            "is_partial": refund.is_partial,
            "previously_refunded": money(sum(previous.mapped("amount")))
            if previous
            else False,
            "refund_date": when(refund.refund_date),
            "timezone": tz,
            "reason": company.refund_proof_show_reason and refund.reason_id.name,
            "is_manual": refund.origin == "manual",
            "manual_method": paid_by,
            "arn": refund.arn and format_arn(refund.arn),
            "arn_type": refund.arn_type,
            "expected_arrival": provider._get_refund_expected_arrival(),
            "verification_url": refund.verification_url,
            "qr_data_uri": "data:image/png;base64," + base64.b64encode(qr).decode(),
            "fingerprint": refund.proof_fingerprint,
        }

    def _issue_proof(self):
        """Render the proof of refund as a PDF and return it as stored
        (`payment.refund.proof`).

        Note: self.ensure_one()
        """
        self.ensure_one()
        pdf, kind = self.env["ir.actions.report"]._render_qweb_pdf(
            "refund_proof.action_report_refund_proof", self.ids
        )
        if (
            kind != "pdf"
        ):  # Test mode without force_report_rendering: HTML, not a proof.
            return self.env["payment.refund.proof"]
        return self.env["payment.refund.proof"]._store(self, pdf)

    # === BUSINESS METHODS - E-MAILS === #

    def _schedule_customer_mail(self, kind):
        """Queue the customer's e-mail for after the commit: the mail cron renders
        the proof and sends, so a failure there never undoes the refund."""
        refunds = self.filtered(
            lambda r: (
                r.company_id.refund_proof_send_email
                and r.partner_id
                # The first e-mail already carries the ARN if it is not sent yet.
                and not (kind == "arn" and r.customer_mail_pending == "done")
            )
        )
        if not refunds:
            return
        refunds.sudo().write({"customer_mail_pending": kind})
        # Browsed from the cached xmlid: env.ref() would check that it exists, one
        # query per refund for a record that is part of this module's data.
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "refund_proof.ir_cron_refund_customer_mail"
        )
        self.env["ir.cron"].browse(cron_id)._trigger()

    @api.model
    def _cron_send_customer_mails(self, limit=50):
        """Send the pending customer e-mails (refund done, ARN known), one refund per
        transaction as Odoo's payment post-processing cron does: rendering a proof
        takes seconds, and a refund that cannot be mailed now stays pending for a
        later run.
        """
        cron = self.env.ref("refund_proof.ir_cron_refund_customer_mail")
        refunds = self.sudo().search(
            [("customer_mail_pending", "!=", False), ("state", "=", "done")],
            limit=limit,
        )
        retry = len(refunds) == limit
        for refund in refunds:
            try:
                with self.env.cr.savepoint():
                    refund._send_customer_mail()
            except psycopg2.OperationalError:
                # Concurrent update of the same rows (e.g. the customer's partner): next
                # run.
                _logger.info(
                    "Proof of refund %s not e-mailed yet: concurrent update",
                    refund.name,
                )
                retry = True
                continue
            except Exception:  # noqa: BLE001 - logged, retried at the next run
                _logger.exception(
                    "Could not e-mail the proof of refund %s", refund.name
                )
                continue
            if not self.env.registry.in_test_mode():
                # One refund per transaction, as Odoo's own payment crons do: this
                # refund's e-mail is kept whatever happens to the next one.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        if retry:
            cron._trigger(fields.Datetime.now() + timedelta(minutes=1))
        # The notifications are queued: let Odoo's mail queue send them now.
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()

    def _send_customer_mail(self):
        """Post the refund e-mail (with the proof attached) to the customer, in the
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
                attachment_ids = self._issue_proof().attachment_id.ids
            self._portal_ensure_token()
            self.with_context(mail_notify_force_send=False).message_post_with_source(
                template,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                email_layout_xmlid="mail.mail_notification_light",
                attachment_ids=attachment_ids,
            )
        self.write({"customer_mail_pending": False})

    def _notify_failure(self):
        """Tell the back office that refunds failed (never the customer)."""
        for refund in self:
            refund._notify_back_office(_("Refund %(name)s failed", name=refund.name))

    def _notify_outcome_unknown(self):
        """Tell the back office that refunds need checking with the provider."""
        for refund in self:
            refund._notify_back_office(
                _(
                    "Refund %(name)s: outcome unknown, check with the provider",
                    name=refund.name,
                )
            )

    def _notify_back_office(self, subject):
        """An activity for the requester and the refund managers of the company, and
        an e-mail to the company's failure address when set.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refund = self.sudo()
        managers = self.env.ref("refund_proof.group_refund_manager").users
        users = (refund.requested_by_id | managers).filtered(
            lambda u: refund.company_id in u.company_ids and not u.share and u.active
        ) - self.env["res.users"].browse(
            self.env.context.get("refund_proof_decided_by")
        )
        for user in users:
            refund.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=user.id,
                summary=subject,
                note=refund.failure_message,
            )
        address = refund.company_id.refund_failure_email
        if address:
            self.env["mail.mail"].sudo().create(
                {
                    "email_to": address,
                    "subject": subject,
                    "body_html": _(
                        "<p>%(subject)s: %(amount)s to %(customer)s. %(message)s</p>",
                        subject=subject,
                        amount=refund._format_amount(),
                        customer=refund.partner_id.name,
                        message=refund.failure_message or "",
                    ),
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
