"""Approval and refund policy: who may issue a refund alone, and who decides the rest.

The one home of the four-eyes rules, as OCA's `base_tier_validation` keeps its own:
the manager check and the managers of a company, the user's limits and daily total,
the refund window, the verdict "issue now or wait for approval" (also the request
wizard's preview), and the decisions on a request (approve, reject). Each rule is a
small hook that a module may override; the request path
(`payment.transaction._request_refund`) and the retry call them in this order: lock
the user's limits, then ask for the approval reasons.
"""

from collections import defaultdict
from datetime import datetime

import pytz
from markupsafe import escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import format_amount

from ..const import (
    GROUP_MANAGER,
    INTERNAL,
    LIMIT_COUNTED_STATES,
    USER_LIMITS_LOCK_CLASS,
)
from ..db_tools import execute_lock


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

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
    is_rejected = fields.Boolean(
        groups=INTERNAL, string="Rejected", readonly=True, copy=False
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

    # === BUSINESS METHODS - WHO DECIDES === #

    @api.model
    def _is_refund_manager(self):
        """Whether the current environment decides as a refund manager: a member of
        the group, or the system itself (sudo: crons, provider glue).

        :rtype: bool
        """
        return self.env.su or self.env.user.has_group(GROUP_MANAGER)

    @api.model
    def _get_refund_managers(self, company):
        """The refund managers who act for `company`: active internal users of the
        group who may work in it.

        :param recordset company: A `res.company`.
        :rtype: recordset of `res.users`
        """
        # In sudo mode: who the managers are is the server's to know (activities,
        # notices), whoever triggered the notice (a portal webhook, a cron).
        return (
            self.env.ref(GROUP_MANAGER)
            .sudo()
            .users.filtered(
                lambda user: (
                    user.active and not user.share and company in user.company_ids
                )
            )
        )

    def _check_can_decide(self):
        if not self._is_refund_manager():
            raise AccessError(
                _("Only refund managers can approve or reject refund requests.")
            )
        self.check_access("read")

    # === BUSINESS METHODS - LIMITS AND POLICY === #

    @api.model
    def _get_user_limits(self, company):
        """(single limit, daily limit) of the current user, converted from the limits'
        currency (`refund_limit_currency_id`, set by refund managers with the limits,
        never the user's own company's, which users change on themselves) into
        `company`'s currency; 0.0 for a limit not set.

        :param recordset company: The `res.company` of the payment.
        :rtype: tuple(float, float)
        """
        user = self.env.user.sudo()  # The limits are visible to managers only.
        target = company.currency_id
        source = user.refund_limit_currency_id or target
        today = fields.Date.context_today(self)
        return tuple(
            source._convert(limit, target, company, today) if limit else 0.0
            for limit in (user.refund_limit, user.refund_daily_limit)
        )

    @api.model
    def _lock_user_limits(self):
        """Serialise the limit decisions of the current user, across payments.

        A transaction-level advisory lock keyed on the user: two requests of one user
        on different payments wait for each other, in turn (PostgreSQL queues lock
        waiters), at most REFUND_LOCK_TIMEOUT. Waiting leaves this transaction's
        snapshot older than the other request's commit, so the day's total is read
        after the lock through a fresh snapshot (`_get_issued_today`), not from this
        one. (Writing the user's row instead, as `_lock_for_refund` does on a
        payment, made every waiter fail with a serialization error and start over:
        a user with ten requests in flight had some fail after the request handler's
        five tries.) Without the lock, parallel requests would each read the day's
        total without the others' refunds and pass the daily limit together. Refund
        managers, system calls and users without a daily limit have no total to
        decide on: no lock.
        """
        if self._is_refund_manager() or not self.env.user.sudo().refund_daily_limit:
            return
        execute_lock(
            self.env,
            SQL(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                USER_LIMITS_LOCK_CLASS,
                self.env.uid,
            ),
        )

    @api.model
    def _get_limit_values(self):
        """The values that count a refund issued without approval in the current
        user's daily total (see `_get_issued_today`).

        :rtype: dict
        """
        if self.env.su:
            return {"limit_user_id": False, "limit_date": False}
        return {"limit_user_id": self.env.uid, "limit_date": fields.Datetime.now()}

    @api.model
    def _get_issued_today(self, currency, company):
        """Sum, in `currency`, the refunds the current user issued without approval
        since midnight in `company`'s refund time zone (`refund_tz`, a setting only
        administrators change; never its partner's nor the user's own, which users
        change). Refunds issued and not failed or cancelled count, those still in
        flight included; approved ones and requests awaiting approval do not.

        :rtype: float
        """
        tz = pytz.timezone(company._get_refund_timezone())
        midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since = midnight.astimezone(pytz.utc).replace(tzinfo=None)
        query = SQL(
            "SELECT id, currency_id, amount, state IN %s "
            "FROM payment_refund WHERE limit_user_id = %s AND limit_date >= %s",
            LIMIT_COUNTED_STATES,
            self.env.uid,
            since,
        )
        # This transaction's view holds its own refunds not committed yet; a fresh
        # snapshot (taken now, after `_lock_user_limits`) holds the ones other
        # requests committed since this transaction began, and their latest state.
        self.flush_model(["limit_user_id", "limit_date", "state", "amount"])
        self.env.cr.execute(query)
        rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        with self.env.registry.cursor() as fresh_cr:
            fresh_cr.execute(query)
            rows.update({row[0]: row[1:] for row in fresh_cr.fetchall()})
        totals = defaultdict(float)
        for currency_id, amount, counted in rows.values():
            if counted:
                totals[currency_id] += amount
        today = fields.Date.context_today(self)
        return sum(
            self.env["res.currency"]
            .browse(currency_id)
            ._convert(total, currency, company, today)
            for currency_id, total in totals.items()
        )

    @api.model
    def _get_refund_window_days(self, company, reason=None):
        """The refund window in days for a refund with `reason` in `company`.

        :param recordset company: The `res.company` of the payment.
        :param recordset reason: The `payment.refund.reason`, if any: its own window,
                                 the company's, or none.
        :return: The number of days, or 0 when there is no window.
        :rtype: int
        """
        if reason and reason.window_policy == "always":
            return 0
        if reason and reason.window_policy == "custom":
            return reason.window_days
        return company.refund_window_days

    @api.model
    def _get_policy_verdict(self, source, reason=None):
        """Tell whether a refund of `source` now is within the merchant's refund
        window, in calendar days of the company's refund time zone (`refund_tz`).

        :param recordset source: The `payment.transaction` to refund.
        :param recordset reason: The `payment.refund.reason`, whose window may override
                                 the company's.
        :return: (within policy, human-readable verdict)
        :rtype: tuple(bool, str)
        """
        source.ensure_one()
        if reason and reason.window_policy == "always":
            return True, _(
                'Within policy: "%(reason)s" refunds are always allowed.',
                reason=reason.name,
            )
        company = source.company_id
        window = self._get_refund_window_days(company, reason)
        if not window:
            return True, _("Within policy: no refund window.")
        paid_on = source.last_state_change or source.create_date
        in_company_tz = source.with_context(tz=company._get_refund_timezone())
        today = fields.Date.context_today(in_company_tz)
        days = (
            (today - fields.Date.context_today(in_company_tz, paid_on)).days
            if paid_on
            else 0
        )
        if days <= window:
            return True, _(
                "Within policy: %(days)s of %(window)s days.", days=days, window=window
            )
        return False, _(
            "Outside policy: %(days)s days after the payment (window: %(window)s "
            "days), needs a manager's approval.",
            days=days,
            window=window,
        )

    @api.model
    def _get_approval_reasons(self, source, amount, reason=None, payout_account=None):
        """Why the current user's refund of `amount` on `source` needs approval
        (empty: it doesn't).

        A payout to a bank account the customer typed (`payout_account`) always
        needs it, whoever asks, the system included: a changed payout destination is
        the first fraud vector. Otherwise refund managers and system calls issue
        refunds alone. Others need approval above their single refund limit, above
        their daily limit (refunds they issued alone today, in the company's time
        zone, amounts in the company currency), or outside the refund window. Call it
        after `_lock_user_limits` when deciding.

        :param recordset source: The `payment.transaction` to refund.
        :param float amount: The amount to refund, in the transaction's currency.
        :param recordset reason: The `payment.refund.reason`, if any.
        :param dict payout_account: The bank account the customer gave for the
            payout (`holder`, `iban`, `bic`), if the refund is paid to one.
        :return: The reasons, as sentences.
        :rtype: list[str]
        """
        source.ensure_one()
        reasons = []
        if payout_account:
            reasons.append(
                _(
                    "The customer typed the bank account of this transfer: a manager "
                    "must check it before the money is sent (a changed payout "
                    "destination is the first fraud vector)."
                )
            )
        if self._is_refund_manager():
            return reasons
        company = source.company_id
        ccy = company.currency_id
        today = fields.Date.context_today(self)
        amount_ccy = source.currency_id._convert(amount, ccy, company, today)
        single, daily = self._get_user_limits(company)

        def fmt(value):
            return format_amount(self.env, value, ccy)

        if not single:
            reasons.append(
                _("Your refunds need a manager's approval (no refund limit set).")
            )
        elif ccy.compare_amounts(amount_ccy, single) > 0:
            reasons.append(
                _(
                    "%(amount)s is above your refund limit of %(limit)s.",
                    amount=fmt(amount_ccy),
                    limit=fmt(single),
                )
            )
        if daily:
            issued_today = self._get_issued_today(ccy, company)
            if ccy.compare_amounts(issued_today + amount_ccy, daily) > 0:
                reasons.append(
                    _(
                        "With %(amount)s you would refund %(total)s today, above your "
                        "daily limit of %(limit)s.",
                        amount=fmt(amount_ccy),
                        total=fmt(issued_today + amount_ccy),
                        limit=fmt(daily),
                    )
                )
        within, verdict = self._get_policy_verdict(source, reason)
        if not within:
            reasons.append(verdict)
        return reasons

    @api.model
    def _get_approval_preview(self, source, amount, reason=None):
        """What a refund of `amount` on `source` would meet, before the user confirms
        it (the request wizard): the same rules the request path applies.

        :return: {"within_policy": bool, "policy_verdict": str,
                  "approval_reasons": str or False}
        :rtype: dict
        """
        within, verdict = self._get_policy_verdict(source, reason)
        reasons = self._get_approval_reasons(source, amount or 0.0, reason)
        return {
            "within_policy": within,
            "policy_verdict": verdict,
            "approval_reasons": "\n".join(reasons) or False,
        }

    # === ACTION METHODS - DECISIONS === #

    def action_approve(self):
        """Approve refund requests (four eyes): re-check them, then issue them."""
        self._check_can_decide()
        self._lock_for_decision()
        for refund in self:
            if refund.state != "to_approve":
                raise UserError(
                    _("%(name)s is not awaiting approval.", name=refund.name)
                )
            if refund.sudo().requested_by_id == self.env.user:
                raise UserError(
                    _(
                        "You cannot approve your own refund request %(name)s: another "
                        "manager must approve it.",
                        name=refund.name,
                    )
                )
            # The request's check again, for the approver. In sudo mode for the
            # credit note: the requester chose it; what is checked again is its open
            # amount (models/account_move.py).
            refund.source_transaction_id._check_refund_request(
                refund.amount,
                manual=refund.origin == "manual",
                credit_note=refund.sudo().credit_note_id,
                exclude=refund,
            )
            # In sudo mode: the approver's right was checked by `_check_can_decide`.
            refund_sudo = refund.sudo()
            refund_sudo._set_state(
                "draft",
                approved_by_id=self.env.uid,
                approval_date=fields.Datetime.now(),
                limit_user_id=False,
                limit_date=False,
            )
            refund_sudo._notify_requester(
                _(
                    "Your refund request %(name)s was approved by %(user)s.",
                    name=refund.name,
                    user=self.env.user.name,
                )
            )
            refund_sudo._execute()
        return True

    def action_reject(self, reason=None):
        """Reject refund requests with a reason; without one, open the dialog."""
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
        self._lock_for_decision()
        for refund in self:
            if refund.state != "to_approve":
                raise UserError(
                    _("%(name)s is not awaiting approval.", name=refund.name)
                )
        # In sudo mode: the rejecting manager's right was checked above.
        self.sudo()._cancel(reason, rejected=True)
        for refund in self.sudo():
            refund._notify_requester(
                _(
                    "Your refund request %(name)s was rejected by %(user)s: %(reason)s",
                    name=refund.name,
                    user=self.env.user.name,
                    reason=reason,
                )
            )
        return True

    def _lock_for_decision(self):
        """Lock these refunds' rows, in id order, before a decision reads their state
        (approve, reject, cancel, retry, mark refunded or not): two decisions on one
        refund wait for each other, and the second then fails on a stale snapshot and
        is retried by the request handler, deciding on the first's outcome.

        Every decision locks its refunds first, then their payments
        (`payment.transaction._lock_for_refund`), in that order: writing a refund's
        state also writes its payment's row (the stored refunded amount), so a
        decision taking the payment's lock first would deadlock with one writing a
        refund.
        """
        if not self.ids:
            return
        execute_lock(
            self.env,
            SQL(
                "SELECT id FROM payment_refund WHERE id IN %s ORDER BY id "
                "FOR NO KEY UPDATE",
                tuple(self.ids),
            ),
        )

    # === BUSINESS METHODS - NOTICES === #

    def _request_approval(self):
        """Tell the managers that refunds await approval (activity, chatter); never
        the requester, who cannot approve their own request."""
        for refund in self:
            refund.message_post(
                body=_(
                    "Refund request awaiting approval: %(reasons)s",
                    reasons=refund.approval_reasons,
                )
            )
            managers = self._get_refund_managers(refund.company_id)
            for manager in managers - refund.requested_by_id:
                # Queued, not sent in the request's post-commit (see
                # `_notify_back_office`).
                refund.with_context(mail_notify_force_send=False).activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    summary=_("Approve refund %(name)s", name=refund.name),
                    note=escape(refund.approval_reasons or ""),
                )

    def _notify_requester(self, body):
        for refund in self.filtered("requested_by_id"):
            refund.message_post(
                body=body,
                partner_ids=refund.requested_by_id.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )
