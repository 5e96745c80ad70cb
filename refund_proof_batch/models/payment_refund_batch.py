"""A bulk refund: many payments refunded at once, each through the one request path.

A batch is made from a selection of payments (`payment.transaction.
action_refund_proof_batch`), one line per payment. While it is a draft, its preview
says what would happen (count and totals per provider and currency, the lines refused
and why, how many need approval and why). Four eyes for the batch as a whole: above
its creator's limits, it waits for one approval by another refund manager. Started,
each line is refunded by a queue job of its own (`payment.refund.batch.line.
_refund_proof_run`) as the user who started the batch, the batch's approval standing
for the lines' (`payment.transaction._request_refund(approval=line)`).
"""

from collections import defaultdict
from datetime import timedelta

from markupsafe import escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import format_amount

from odoo.addons.refund_proof.const import GROUP_USER
from odoo.addons.refund_proof.db_tools import execute_lock

from ..const import (
    BATCH_USER_EDITABLE_FIELDS,
    CHANNEL_ROOT,
    CHECK_NEAR_END,
    LINE_OPEN_STATES,
)


class PaymentRefundBatch(models.Model):
    _name = "payment.refund.batch"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Bulk Refund"
    _order = "id desc"

    name = fields.Char(
        string="Reference", readonly=True, copy=False, default=lambda self: _("New")
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        readonly=True,
        required=True,
        default=lambda self: self.env.company,
    )
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("to_approve", "To Approve"),
            ("running", "Running"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    line_ids = fields.One2many(
        comodel_name="payment.refund.batch.line",
        inverse_name="batch_id",
        string="Payments",
        readonly=True,
    )
    amount_mode = fields.Selection(
        selection=[
            ("remaining", "What Remains"),
            ("percentage", "A Percentage"),
            ("fixed", "A Fixed Amount"),
        ],
        string="Refund",
        default="remaining",
        required=True,
        help="What each payment gets back: what remains refundable on it, a "
        "percentage of what was paid, or the same amount for every payment (in its "
        "currency).",
    )
    amount_percentage = fields.Float(string="Percentage", default=100.0)
    amount_fixed = fields.Float(string="Fixed Amount")
    reason_id = fields.Many2one(
        comodel_name="payment.refund.reason",
        help="The reason of every refund of the batch.",
    )
    note = fields.Text(help="The note of every refund of the batch.")
    approval_reasons = fields.Text(
        string="Why Approval Is Needed",
        readonly=True,
        copy=False,
        help="Computed from its creator's limits when the batch is prepared.",
    )
    approved_by_id = fields.Many2one(
        comodel_name="res.users", readonly=True, copy=False, tracking=True
    )
    approval_date = fields.Datetime(readonly=True, copy=False)
    started_by_id = fields.Many2one(
        comodel_name="res.users",
        readonly=True,
        copy=False,
        help="The refunds of the batch are requested as this user.",
    )
    start_date = fields.Datetime(readonly=True, copy=False)
    started_line_count = fields.Integer(
        string="Payments Started",
        readonly=True,
        copy=False,
        help="The lines queued by Start: those the batch processes (the lines its "
        "preview refused are not).",
    )

    # Progress and preview (computed from the lines; never stored: the lines' jobs run
    # in parallel and must not write the batch's row).
    line_count = fields.Integer(compute="_compute_counts")
    done_count = fields.Integer(compute="_compute_counts")
    failed_count = fields.Integer(compute="_compute_counts")
    pending_count = fields.Integer(compute="_compute_counts")
    queued_count = fields.Integer(compute="_compute_counts")
    refused_count = fields.Integer(compute="_compute_counts")
    cancelled_count = fields.Integer(compute="_compute_counts")
    remaining_count = fields.Integer(
        compute="_compute_counts",
        help="Lines still to be refunded: queued or pending.",
    )
    progress = fields.Float(
        string="Progress (%)",
        compute="_compute_counts",
        help="Of the payments started, those finished: done, failed, refused or "
        "cancelled (no longer queued or pending). The payments the preview refused "
        "are not counted: they are never processed.",
    )
    estimated_end = fields.Datetime(
        compute="_compute_estimated_end",
        help="When the last payment should be finished, at the rate at which the "
        "payments were finished since the batch started (a failed payment retried "
        "counts again). Empty until one is finished.",
    )
    approval_count = fields.Integer(
        string="Lines Needing Approval", compute="_compute_counts"
    )
    preview = fields.Html(compute="_compute_preview", sanitize=False)

    # === COMPUTE METHODS === #

    @api.depends("line_ids.state", "line_ids.approval_reasons", "started_line_count")
    def _compute_counts(self):
        # In sudo mode: figures of batches the reader reads (their lines follow the
        # same record rules).
        Line = self.env["payment.refund.batch.line"].sudo()
        Line.flush_model(["batch_id", "state", "approval_reasons"])
        counts = defaultdict(int)
        for batch, state, count in Line._read_group(
            [("batch_id", "in", self.ids)], ["batch_id", "state"], ["__count"]
        ):
            counts[batch.id, state] = count
        approvals = dict(
            Line._read_group(
                [("batch_id", "in", self.ids), ("approval_reasons", "!=", False)],
                ["batch_id"],
                ["__count"],
            )
        )
        for batch in self:
            states = {
                state: counts[batch.id, state]
                for state in (
                    "draft",
                    "refused",
                    "queued",
                    "done",
                    "pending",
                    "failed",
                    "cancelled",
                )
            }
            total = sum(states.values())
            batch.line_count = total
            batch.done_count = states["done"]
            batch.failed_count = states["failed"]
            batch.pending_count = states["pending"]
            batch.queued_count = states["queued"]
            batch.refused_count = states["refused"]
            batch.cancelled_count = states["cancelled"]
            batch.remaining_count = states["queued"] + states["pending"]
            # Every line started and no longer queued or pending is finished; the
            # lines refused by the preview never started.
            started = batch.started_line_count
            finished = max(started - batch.remaining_count, 0)
            batch.progress = 100.0 * finished / started if started else 0.0
            batch.approval_count = approvals.get(batch, 0)

    @api.depends("state", "start_date", "started_line_count", "remaining_count")
    def _compute_estimated_end(self):
        now = fields.Datetime.now()
        for batch in self:
            remaining = batch.remaining_count
            finished = batch.started_line_count - remaining
            if batch.state != "running" or not batch.start_date or finished <= 0:
                batch.estimated_end = False
                continue
            # The remaining lines at the rate of the finished ones since the start.
            elapsed = max(now - batch.start_date, timedelta(0))
            batch.estimated_end = (now + elapsed * remaining / finished).replace(
                microsecond=0
            )

    @api.depends("line_ids.amount", "line_ids.state", "approval_reasons")
    def _compute_preview(self):
        for batch in self:
            batch.preview = batch._render_preview(batch._get_preview())

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            # A batch is made from payments (`action_refund_proof_batch`), which
            # checks the right and computes its lines.
            raise AccessError(
                _(
                    "Bulk refunds are created from a selection of payments (action "
                    "Refund Selected), not directly."
                )
            )
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "payment.refund.batch"
                ) or _("New")
        return super().create(vals_list)

    def write(self, vals):
        """Users change how much is refunded, the reason and the note of a draft not
        yet approved; the lines are then computed again. Every other change is the
        server's, made by the batch's methods."""
        if self.env.su:
            return super().write(vals)
        self._check_user_write(vals)
        # In sudo mode: the fields were checked above; the lines follow from them.
        result = super(PaymentRefundBatch, self.sudo()).write(vals)
        self.sudo()._prepare_lines()
        return result

    def _check_user_write(self, vals):
        server_fields = sorted(set(vals) - BATCH_USER_EDITABLE_FIELDS)
        if server_fields:
            raise AccessError(
                _(
                    "These fields of a bulk refund are recorded by the system and "
                    "cannot be changed by hand: %(fields)s. Use the batch's actions "
                    "(start, approve, retry, cancel) instead.",
                    fields=", ".join(server_fields),
                )
            )
        self._check_batch_user()
        for batch in self:
            if batch.state != "draft" or batch.approved_by_id:
                raise UserError(
                    _(
                        "%(name)s can no longer be changed: it was approved or "
                        "started.",
                        name=batch.name,
                    )
                )

    def copy(self, default=None):
        if not self.env.su:
            # A copy would be a batch no selection of payments made.
            raise UserError(
                _("A bulk refund cannot be duplicated: select the payments again.")
            )
        return super().copy(default=default)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_started(self):
        if any(batch.state != "draft" or batch.approved_by_id for batch in self):
            raise UserError(
                _("Only draft bulk refunds can be deleted: cancel the rest instead.")
            )

    # === ACTION METHODS === #

    def action_start(self):
        """Start the batch: one queue job per line. Above its creator's limits and
        not approved yet, it waits for another refund manager's approval instead."""
        self._check_batch_user()
        self._lock_batches()
        for batch in self:
            if batch.state != "draft":
                raise UserError(
                    _("%(name)s is not a draft: it cannot start.", name=batch.name)
                )
            if not batch.line_ids.filtered(lambda line: line.state == "draft"):
                raise UserError(
                    _("%(name)s has no payment left to refund.", name=batch.name)
                )
            # In sudo mode: the user's right was checked by `_check_batch_user`.
            batch_sudo = batch.sudo()
            if not batch.approved_by_id:
                # The creator's limits again, today (a day has maybe passed).
                batch_sudo._prepare_lines()
                if batch_sudo.approval_reasons:
                    batch_sudo.write({"state": "to_approve"})
                    batch_sudo._request_approval()
                    continue
            started = batch_sudo.line_ids.filtered(lambda line: line.state == "draft")
            batch_sudo.write(
                {
                    "state": "running",
                    "started_by_id": self.env.uid,
                    "start_date": fields.Datetime.now(),
                    # The lines the batch processes: its progress counts them.
                    "started_line_count": len(started),
                }
            )
            started.write({"state": "queued", "message": False})
            batch_sudo._enqueue(batch_sudo.line_ids.filtered("is_queued"))
        return True

    def action_approve(self):
        """Approve batches (four eyes, once for all their lines): another refund
        manager than their creator. Approved, a batch is started by its creator or a
        manager (`action_start`)."""
        if not self.env["payment.refund"]._is_refund_manager():
            raise AccessError(_("Only refund managers can approve bulk refunds."))
        self.check_access("read")
        self._lock_batches()
        for batch in self:
            if batch.state != "to_approve":
                raise UserError(
                    _("%(name)s is not awaiting approval.", name=batch.name)
                )
            if batch.create_uid == self.env.user:
                raise UserError(
                    _(
                        "You cannot approve your own bulk refund %(name)s: another "
                        "manager must approve it.",
                        name=batch.name,
                    )
                )
            # In sudo mode: the approver's right was checked above.
            batch_sudo = batch.sudo()
            batch_sudo.write(
                {
                    "state": "draft",
                    "approved_by_id": self.env.uid,
                    "approval_date": fields.Datetime.now(),
                }
            )
            batch_sudo.activity_feedback(
                ["mail.mail_activity_data_todo"], feedback=_("Approved")
            )
            batch_sudo.message_post(
                body=_(
                    "Approved by %(user)s: it can be started.",
                    user=self.env.user.name,
                ),
                partner_ids=batch_sudo.create_uid.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )
        return True

    def action_retry_failed(self):
        """Queue the failed lines again (their refunds are retried, or asked again
        when the provider was never reached)."""
        self._check_batch_user()
        self._lock_batches()
        for batch in self:
            if batch.state not in ("running", "done"):
                raise UserError(_("%(name)s was not started.", name=batch.name))
            lines = batch.line_ids.filtered(lambda line: line.state == "failed")
            if not lines:
                continue
            # In sudo mode: the user's right was checked by `_check_batch_user`; the
            # lines are refunded as the user who started the batch.
            lines.sudo()._lock_lines()
            lines.sudo().write({"state": "queued"})
            batch.sudo().write({"state": "running"})
            batch.sudo()._enqueue(lines.sudo())
            batch.sudo().message_post(
                body=_(
                    "%(count)s failed payments queued again by %(user)s.",
                    count=len(lines),
                    user=self.env.user.name,
                )
            )
        return True

    def action_cancel_rest(self):
        """Cancel what was not refunded yet: the draft and queued lines (their jobs
        find them cancelled and do nothing). Lines already sent stay as they are."""
        self._check_batch_user()
        self._lock_batches()
        for batch in self:
            if batch.state in ("done", "cancelled"):
                raise UserError(
                    _("%(name)s is finished: nothing to cancel.", name=batch.name)
                )
            # In sudo mode: the user's right was checked by `_check_batch_user`.
            lines = batch.sudo().line_ids.filtered(
                lambda line: line.state in ("draft", "queued")
            )
            lines._lock_lines()
            lines = lines.filtered(lambda line: line.state in ("draft", "queued"))
            lines.write({"state": "cancelled", "message": _("Cancelled.")})
            if batch.state in ("draft", "to_approve"):
                batch.sudo().write({"state": "cancelled"})
                batch.sudo().activity_feedback(
                    ["mail.mail_activity_data_todo"], feedback=_("Cancelled")
                )
            else:
                batch.sudo()._check_finished()
            batch.sudo().message_post(
                body=_(
                    "%(count)s payments not refunded yet cancelled by %(user)s.",
                    count=len(lines),
                    user=self.env.user.name,
                )
            )
        return True

    # === BUSINESS METHODS === #

    def _check_batch_user(self):
        """Raise unless the current user may act on these batches: a refund user who
        reads them (record rules: their own; managers: all of their companies)."""
        if self.env.su:
            return
        if not self.env.user.has_group(GROUP_USER):
            raise AccessError(
                _(
                    "You are not allowed to refund payments. Ask an administrator "
                    'for the "Refunds: User" access right.'
                )
            )
        self.check_access("read")

    def _lock_batches(self):
        """Lock the batches' rows: two decisions on one batch wait for each other."""
        if self.ids:
            execute_lock(
                self.env,
                SQL(
                    "SELECT id FROM payment_refund_batch WHERE id IN %s ORDER BY id "
                    "FOR NO KEY UPDATE",
                    tuple(self.ids),
                ),
            )
            self.invalidate_recordset(["state", "approved_by_id"])

    @api.model
    def _create_from_transactions(
        self,
        transactions,
        amount_mode="remaining",
        percentage=None,
        amount=None,
        reason=None,
        note=None,
    ):
        """A draft batch of `transactions`, one line each, its preview computed.

        :param recordset transactions: The `payment.transaction` records to refund.
        :return: The batch, in the caller's environment.
        """
        values = {
            "amount_mode": amount_mode,
            "reason_id": reason.id if reason else False,
            "note": note or False,
            "company_id": (transactions.company_id[:1] or self.env.company).id,
            "line_ids": [
                fields.Command.create({"source_transaction_id": tx.id})
                for tx in transactions
            ],
        }
        if percentage is not None:
            values["amount_percentage"] = percentage
        if amount is not None:
            values["amount_fixed"] = amount
        # In sudo mode: the caller's right on the payments was checked by
        # `payment.transaction.action_refund_proof_batch`.
        batch = self.sudo().create(values)
        batch.message_post(body=_("Prepared by %(user)s.", user=self.env.user.name))
        batch._prepare_lines()
        return batch.sudo(False)

    def _prepare_lines(self):
        """Compute the lines of draft batches: each payment's amount from the batch's
        mode, refused with why when the request path would refuse it (already fully
        refunded, under chargeback, above what remains, provider disabled...), and
        why it would need approval from the creator's limits; then the batch's own
        reasons (its total against the creator's daily limit)."""
        for batch in self.filtered(lambda batch: batch.state == "draft"):
            batch._check_amount_mode()
            creator = batch.create_uid
            Refund = self.env["payment.refund"].with_user(creator)
            totals = defaultdict(float)  # company currency -> total asked
            for line in batch.line_ids.filtered(
                lambda line: line.state in ("draft", "refused")
            ):
                tx = line.source_transaction_id.with_user(creator)
                amount, refusal = batch._get_line_amount(tx)
                reasons = []
                if not refusal:
                    reasons = Refund._get_approval_reasons(tx, amount, batch.reason_id)
                    company = tx.company_id
                    totals[company] += tx.currency_id._convert(
                        amount,
                        company.currency_id,
                        company,
                        fields.Date.context_today(batch),
                    )
                line.write(
                    {
                        "amount": amount,
                        "state": "refused" if refusal else "draft",
                        "message": refusal or False,
                        "approval_reasons": "\n".join(reasons) or False,
                    }
                )
            batch_reasons = batch._get_daily_limit_reasons(Refund, totals)
            count = len(batch.line_ids.filtered("approval_reasons"))
            if count:
                batch_reasons.insert(
                    0,
                    _(
                        "%(count)s payments need a manager's approval (see their "
                        "lines).",
                        count=count,
                    ),
                )
            batch.approval_reasons = "\n".join(batch_reasons) or False

    def _check_amount_mode(self):
        self.ensure_one()
        if self.amount_mode == "percentage" and not 0 < self.amount_percentage <= 100:
            raise UserError(_("The percentage must be above 0 and at most 100."))
        if self.amount_mode == "fixed" and self.amount_fixed <= 0:
            raise UserError(_("The fixed amount must be positive."))

    def _get_line_amount(self, tx):
        """(amount, refusal) of the line of `tx`, as the creator: what the request
        path would refund, or why it would refuse (without locking: a preview).

        :param recordset tx: The `payment.transaction`, in the creator's environment.
        :rtype: tuple(float, str or False)
        """
        self.ensure_one()
        currency = tx.currency_id
        if self.amount_mode == "percentage":
            amount = currency.round(tx.amount * self.amount_percentage / 100.0)
        elif self.amount_mode == "fixed":
            amount = currency.round(self.amount_fixed)
        else:
            amount = currency.round(tx.refund_remaining_amount)
        try:
            tx._check_refund_rights()
            tx._check_refundable()
            tx._ensure_provider_is_not_disabled()
            amount = tx._check_refund_amount(
                amount if self.amount_mode != "remaining" else None
            )
        except (UserError, AccessError) as error:
            # ValidationError is a UserError. The request path's own words.
            return amount, str(error.args[0]) if error.args else str(error)
        return amount, False

    def _get_daily_limit_reasons(self, Refund, totals):
        """Why the batch's total needs approval: above its creator's daily limit
        once added to what they issued today (each line alone may fit).

        :param Refund: `payment.refund` in the creator's environment.
        :param dict totals: {company: total of the batch in its currency}
        :rtype: list[str]
        """
        reasons = []
        if Refund._is_refund_manager():
            return reasons
        for company, total in totals.items():
            _single, daily = Refund._get_user_limits(company)
            if not daily:
                continue
            ccy = company.currency_id
            issued = Refund._get_issued_today(ccy, company)
            if ccy.compare_amounts(issued + total, daily) > 0:
                reasons.append(
                    _(
                        "With this batch (%(amount)s) you would refund %(total)s "
                        "today, above your daily limit of %(limit)s.",
                        amount=format_amount(self.env, total, ccy),
                        total=format_amount(self.env, issued + total, ccy),
                        limit=format_amount(self.env, daily, ccy),
                    )
                )
        return reasons

    def _get_preview(self):
        """What the batch would do: per provider and currency, the payments to
        refund and their total; the refused lines with why; how many need approval
        and why.

        :return: {"groups": [(provider, currency, count, total)], "refused":
                  [(reference, message)], "approval_count": int,
                  "approval_reasons": str}
        :rtype: dict
        """
        self.ensure_one()
        # In sudo mode: providers are configuration refund users may not read; the
        # batch's lines were checked as its creator.
        lines = self.sudo().line_ids
        groups = defaultdict(lambda: [0, 0.0])
        for line in lines.filtered(lambda line: line.state != "refused"):
            key = (line.provider_id, line.currency_id)
            groups[key][0] += 1
            groups[key][1] += line.amount
        return {
            "groups": [
                (provider, currency, count, currency.round(total))
                for (provider, currency), (count, total) in sorted(
                    groups.items(), key=lambda item: item[0][0].name or ""
                )
            ],
            "refused": [
                (line.source_transaction_id.reference, line.message)
                for line in lines.filtered(lambda line: line.state == "refused")
            ],
            "approval_count": len(lines.filtered("approval_reasons")),
            "approval_reasons": self.sudo().approval_reasons or "",
        }

    def _render_preview(self, preview):
        """The preview as HTML (the form's Preview tab), every value escaped."""
        labels = {
            "provider": escape(_("Provider")),
            "currency": escape(_("Currency")),
            "payments": escape(_("Payments")),
            "total": escape(_("Total")),
            "refused": escape(_("Refused (not refunded):")),
            "approval": escape(_("Needs approval by another manager:")),
        }
        rows = "".join(
            f"<tr><td>{escape(provider.name or '')}</td>"
            f"<td>{escape(currency.name or '')}</td>"
            f"<td class='text-end'>{count}</td>"
            f"<td class='text-end'>"
            f"{escape(format_amount(self.env, total, currency))}</td></tr>"
            for provider, currency, count, total in preview["groups"]
        )
        html = (
            "<table class='table table-sm'><thead><tr>"
            f"<th>{labels['provider']}</th><th>{labels['currency']}</th>"
            f"<th class='text-end'>{labels['payments']}</th>"
            f"<th class='text-end'>{labels['total']}</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        if preview["refused"]:
            items = "".join(
                f"<li><b>{escape(reference)}</b>: {escape(message or '')}</li>"
                for reference, message in preview["refused"]
            )
            html += f"<p>{labels['refused']}</p><ul>{items}</ul>"
        if preview["approval_reasons"]:
            reasons = "".join(
                f"<li>{escape(reason)}</li>"
                for reason in preview["approval_reasons"].splitlines()
            )
            html += f"<p>{labels['approval']}</p><ul>{reasons}</ul>"
        return html

    def _request_approval(self):
        """Tell the refund managers (the creator excepted) that batches await
        approval."""
        for batch in self:
            batch.message_post(
                body=_(
                    "Bulk refund awaiting approval: %(reasons)s",
                    reasons=batch.approval_reasons,
                )
            )
            managers = self.env["payment.refund"]._get_refund_managers(batch.company_id)
            for manager in managers - batch.create_uid:
                batch.with_context(mail_notify_force_send=False).activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    summary=_("Approve bulk refund %(name)s", name=batch.name),
                    note=escape(batch.approval_reasons or ""),
                )

    def _enqueue(self, lines):
        """One queue job per line, as the user who started the batch, on its
        provider's channel; a line already queued is not queued twice
        (`identity_key`)."""
        self.ensure_one()
        starter = self.started_by_id
        for line in lines:
            line.with_user(starter).with_delay(
                channel=line._get_job_channel(),
                identity_key=f"refund_proof_batch_line:{line.id}",
                description=_(
                    "Refund %(reference)s (%(batch)s)",
                    reference=line.source_transaction_id.reference,
                    batch=self.name,
                ),
                max_retries=line._get_job_max_retries(),
            )._refund_proof_run()

    def _check_finished(self):
        """A running batch with no line left to refund is done."""
        Line = self.env["payment.refund.batch.line"].sudo()
        for batch in self.filtered(lambda batch: batch.state == "running"):
            if not Line.search_count(
                [("batch_id", "=", batch.id), ("state", "in", LINE_OPEN_STATES)],
                limit=1,
            ):
                batch.write({"state": "done"})

    def _refund_proof_check_finished(self):
        """Queue job: mark the batch done once no line is left to refund. A job of
        its own, after the lines' (which never write the batch's row: they run in
        parallel)."""
        self.sudo()._lock_batches()
        self.sudo()._check_finished()

    def _schedule_check_finished(self):
        """Queue the check of the batches' end, to run after this transaction's
        commit, when the batch is near its end: at most `CHECK_NEAR_END` lines
        still open as this transaction sees them (lines running in parallel see each
        other open until they commit, so the last ones each queue one). Most lines
        end with hundreds open: a check then would only find the batch running. No
        identity key: a check pending already may start before this transaction
        commits, and miss its line. The resume cron checks every running batch each
        minute all the same (`payment.refund.batch.line._cron_resume_interrupted`).
        """
        Line = self.env["payment.refund.batch.line"].sudo()
        for batch in self:
            still_open = Line.search_count(
                [("batch_id", "=", batch.id), ("state", "in", LINE_OPEN_STATES)],
                limit=CHECK_NEAR_END + 1,
            )
            if still_open > CHECK_NEAR_END:
                continue
            batch.sudo().with_delay(
                channel=CHANNEL_ROOT,
                description=_("Bulk refund %(name)s: finished?", name=batch.name),
            )._refund_proof_check_finished()
