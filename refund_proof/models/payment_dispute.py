import logging
from datetime import timedelta

from markupsafe import escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_amount

from ..const import (
    CARD_NETWORK_ALIASES,
    CARD_NETWORKS,
    DISPUTE_CHARGEBACK_KINDS,
    DISPUTE_KIND_ORDER,
    DISPUTE_LETTER_FIELDS,
    DISPUTE_OPEN_STATES,
    DISPUTE_REASONS,
    DISPUTE_STATE_TRANSITIONS,
    DISPUTE_USER_EDITABLE_FIELDS,
    IN_FLIGHT_STATES,
)

_logger = logging.getLogger(__name__)

# Refunds that may still return money: a chargeback arriving finds them in flight.


class PaymentDispute(models.Model):
    _name = "payment.dispute"
    # The state machine of refunds too (models/refund_proof_state_mixin.py), first:
    # see payment.refund.
    _inherit = ["refund_proof.state.mixin", "mail.thread", "mail.activity.mixin"]
    _description = "Payment Dispute"
    _order = "id desc"
    _check_company_auto = True
    _state_transitions = DISPUTE_STATE_TRANSITIONS

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
        string="Disputed Payment",
        required=True,
        index=True,
        ondelete="restrict",
        check_company=True,
        domain="[('operation', '!=', 'refund'), ('state', '=', 'done')]",
    )
    provider_id = fields.Many2one(
        related="source_transaction_id.provider_id", store=True, precompute=True
    )
    provider_reference = fields.Char(
        index="trigram",
        copy=False,
        help="The dispute's reference at the provider (Stripe du_..., Adyen's "
        "pspReference of the dispute), or the case number of the bank's letter.",
    )
    origin = fields.Selection(
        selection=[
            ("provider", "Reported by the provider"),
            ("manual", "Recorded from a bank letter"),
        ],
        default="provider",
        required=True,
        readonly=True,
    )
    amount = fields.Monetary(string="Disputed Amount", required=True, tracking=True)
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        compute="_compute_currency_id",
        store=True,
        readonly=False,
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
    card_network = fields.Selection(
        selection=[
            ("visa", "Visa"),
            ("mastercard", "Mastercard"),
            ("amex", "American Express"),
            ("discover", "Discover"),
            ("other", "Other network"),
        ],
    )
    reason_code = fields.Char(
        help="The card network's reason code (Visa 13.6, Mastercard 4853...).",
    )
    provider_reason = fields.Char(
        readonly=True,
        help="The provider's own reason or category of the dispute, as it sent it.",
    )
    reason_display = fields.Char(
        string="Reason",
        compute="_compute_reason_display",
        help="The network, its reason code and what the code means.",
    )
    kind = fields.Selection(
        selection=[
            ("inquiry", "Inquiry"),
            ("chargeback", "Chargeback"),
            ("pre_arbitration", "Pre-arbitration"),
        ],
        default="chargeback",
        required=True,
        tracking=True,
        help="An inquiry asks for information (a full refund ends it); a chargeback "
        "takes the money back; pre-arbitration is the bank's second round.",
    )
    state = fields.Selection(
        selection=[
            ("needs_response", "Needs Response"),
            ("under_review", "Under Review"),
            ("won", "Won"),
            ("lost", "Lost"),
            ("closed", "Closed"),
        ],
        default="needs_response",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
    )
    is_open = fields.Boolean(compute="_compute_is_open", search="_search_is_open")
    evidence_due_date = fields.Datetime(
        string="Respond By",
        tracking=True,
        help="The last moment to send the evidence to the provider or the bank.",
    )
    opened_date = fields.Datetime(
        string="Opened On",
        required=True,
        default=fields.Datetime.now,
        copy=False,
        help="When the bank opened the dispute (the provider's date, the letter's).",
    )
    refund_ids = fields.One2many(
        related="source_transaction_id.refund_ids",
        string="Refunds of the Payment",
    )
    note = fields.Text()

    _sql_constraints = [
        (
            "provider_reference_uniq",
            "unique (source_transaction_id, provider_reference)",
            "This payment already has a dispute with this reference: open it instead "
            "of recording the letter again.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("source_transaction_id")
    def _compute_currency_id(self):
        for dispute in self:
            dispute.currency_id = (
                dispute.currency_id or dispute.source_transaction_id.currency_id
            )

    @api.depends("card_network", "reason_code", "provider_reason")
    def _compute_reason_display(self):
        networks = dict(self._fields["card_network"]._description_selection(self.env))
        for dispute in self:
            dispute.reason_display = dispute._get_reason_label(networks)

    def _get_reason_label(self, networks):
        """The readable reason: "Visa 13.6 — Credit not processed" (the label of a
        known code, `const.DISPUTE_REASONS`), else what is known of it."""
        self.ensure_one()
        code = (self.reason_code or "").strip()
        label = DISPUTE_REASONS.get(self.card_network, {}).get(code)
        parts = [networks.get(self.card_network, "")] if self.card_network else []
        if code:
            parts.append(code)
        text = " ".join(parts)
        if label:
            return f"{text} — {label}" if text else label
        if self.provider_reason:
            return f"{text} — {self.provider_reason}" if text else self.provider_reason
        return text or False

    def _compute_is_open(self):
        for dispute in self:
            dispute.is_open = dispute.state in DISPUTE_OPEN_STATES

    def _search_is_open(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Unsupported search on open disputes."))
        positive = (operator == "=") == value
        return [("state", "in" if positive else "not in", DISPUTE_OPEN_STATES)]

    # === CONSTRAINT METHODS === #

    @api.constrains("amount")
    def _check_amount_positive(self):
        for dispute in self:
            if dispute.currency_id.compare_amounts(dispute.amount, 0) <= 0:
                raise ValidationError(_("The disputed amount must be positive."))

    @api.constrains("source_transaction_id")
    def _check_source_is_a_payment(self):
        for dispute in self:
            if dispute.source_transaction_id.operation == "refund":
                raise ValidationError(
                    _(
                        "%(reference)s is a refund: only payments are disputed.",
                        reference=dispute.source_transaction_id.reference,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        """Disputes come from the providers' signed events (the bridges, in sudo
        mode) or from a bank letter, recorded by a refund manager with the letter's
        facts only (`const.DISPUTE_LETTER_FIELDS`): a new dispute needs a response."""
        if not self.env.su:
            self._check_dispute_manager()
            for vals in vals_list:
                server_fields = sorted(set(vals) - DISPUTE_LETTER_FIELDS)
                if server_fields:
                    raise AccessError(
                        _(
                            "These fields of a dispute are recorded by the system: "
                            "%(fields)s.",
                            fields=self._get_field_labels(server_fields),
                        )
                    )
                vals["origin"] = "manual"
                self._check_letter(vals)
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].sudo().next_by_code(
                    "payment.dispute"
                ) or _("New")
        # In sudo mode: the right was checked above, and a refund manager need not
        # have access to every related model (sequence, followers, activities).
        # Opened: the state machine's first transition (`_on_state_change`).
        disputes = super(PaymentDispute, self.sudo()).create(vals_list)
        return disputes.with_env(self.env)

    def _check_letter(self, vals):
        """Refuse a bank letter that the user could not have: on a payment they may
        not read (another company's), on what is not a confirmed payment, in another
        currency than the payment's, above its amount, opened in the future, or due
        before it was opened. The record itself is created in sudo mode: these are
        the checks its rules and field domain would have made.

        :param dict vals: The letter's values.
        """
        tx = self.env["payment.transaction"].browse(vals.get("source_transaction_id"))
        if not tx:
            raise ValidationError(_("A dispute is recorded on the disputed payment."))
        # As the user: the payment's company rules decide whether they may see it.
        tx.check_access("read")
        if tx.company_id not in self.env.companies:
            raise AccessError(
                _(
                    "%(reference)s belongs to %(company)s: record its disputes from "
                    "that company.",
                    reference=tx.reference,
                    company=tx.company_id.name,
                )
            )
        tx = tx.sudo()
        if tx.operation in ("refund", "validation") or tx.state != "done":
            raise ValidationError(
                _(
                    "%(reference)s is not a confirmed payment: only payments are "
                    "disputed.",
                    reference=tx.reference,
                )
            )
        currency = self.env["res.currency"].browse(vals.get("currency_id")) or (
            tx.currency_id
        )
        if currency != tx.currency_id:
            raise ValidationError(
                _(
                    "The dispute is recorded in the payment's currency (%(currency)s): "
                    "convert the letter's amount.",
                    currency=tx.currency_id.name,
                )
            )
        if currency.compare_amounts(vals.get("amount") or 0.0, tx.amount) > 0:
            raise ValidationError(
                _(
                    "The disputed amount cannot exceed the payment (%(amount)s).",
                    amount=format_amount(self.env, tx.amount, currency),
                )
            )
        reference = vals.get("provider_reference")
        if reference:
            existing = self.sudo().search(
                [
                    ("source_transaction_id", "=", tx.id),
                    ("provider_reference", "=", reference),
                ],
                limit=1,
            )
            if existing:
                raise ValidationError(
                    _(
                        "%(reference)s already has the dispute %(dispute)s with this "
                        "reference: open it instead of recording the letter again.",
                        reference=tx.reference,
                        dispute=existing.name,
                    )
                )
        now = fields.Datetime.now()
        opened = fields.Datetime.to_datetime(vals.get("opened_date")) or now
        if opened > now + timedelta(days=1):
            raise ValidationError(_("A dispute cannot be opened in the future."))
        due = fields.Datetime.to_datetime(vals.get("evidence_due_date"))
        if due and due < opened:
            raise ValidationError(
                _("The response cannot be due before the dispute was opened.")
            )

    def copy(self, default=None):
        if not self.env.su:
            raise UserError(
                _("A dispute cannot be duplicated: record the bank's letter instead.")
            )
        return super().copy(default=default)

    def write(self, vals):
        """Refund managers write the note and the due date; everything else is the
        server's (the provider's events, the dispute's actions). The state changes
        through `_set_state` only."""
        if not self.env.su:
            self._check_dispute_manager()
            server_fields = sorted(set(vals) - DISPUTE_USER_EDITABLE_FIELDS)
            if server_fields:
                raise AccessError(
                    _(
                        "These fields of a dispute are recorded by the system and "
                        "cannot be changed by hand: %(fields)s. Use the dispute's "
                        "actions instead.",
                        fields=self._get_field_labels(server_fields),
                    )
                )
            due = fields.Datetime.to_datetime(vals.get("evidence_due_date"))
            if due and any(d.opened_date and due < d.opened_date for d in self):
                raise ValidationError(
                    _("The response cannot be due before the dispute was opened.")
                )
        if "state" in vals and not self._is_server_transition():
            raise UserError(
                _("The state of a dispute changes through its actions only.")
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_history(self):
        if not self.env.su:
            raise UserError(
                _(
                    "Disputes are never deleted: they are the history of money the "
                    "bank took back, or may take back."
                )
            )

    def _get_field_labels(self, names):
        return ", ".join(
            self._fields[name]._description_string(self.env)
            if name in self._fields
            else name
            for name in names
        )

    # === ACTION METHODS === #

    def action_mark_under_review(self):
        """The response was sent (or there is none to send): the bank decides."""
        return self._action_set_state("under_review", _("Response sent"))

    def action_mark_won(self):
        """The bank decided for the merchant (its letter, the provider's dashboard)."""
        return self._action_set_state("won", _("Won"))

    def action_mark_lost(self):
        """The bank decided for the customer, or the merchant accepted the dispute."""
        return self._action_set_state("lost", _("Lost"))

    def action_close(self):
        """The dispute ended without a decision (an inquiry answered, withdrawn)."""
        return self._action_set_state("closed", _("Closed"))

    def _action_set_state(self, target, feedback):
        self._check_dispute_manager()
        self.check_access("write")
        # In sudo mode: the manager's right was checked above.
        for dispute in self.sudo():
            dispute._set_state(target)
            dispute.message_post(
                body=_(
                    "%(state)s, recorded by %(user)s.",
                    state=dispute._get_state_label(),
                    user=self.env.user.name,
                )
            )
            if target not in DISPUTE_OPEN_STATES:
                dispute.activity_feedback(
                    ["mail.mail_activity_data_todo"], feedback=feedback
                )
        return True

    # === BUSINESS METHODS === #

    def _check_dispute_manager(self):
        if not self.env["payment.refund"]._is_refund_manager():
            raise AccessError(_("Only a refund manager can handle disputes."))

    def _get_kind_label(self):
        return dict(self._fields["kind"]._description_selection(self.env))[self.kind]

    def _is_chargeback(self):
        """Whether the bank took (or will take) the money back and has not decided:
        a refund on top of it pays the customer twice.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return self.kind in DISPUTE_CHARGEBACK_KINDS and self.is_open

    def _on_state_change(self, previous, decided_by=None):
        """Override of `refund_proof.state.mixin`: a dispute opened (created open), or
        reopened (a second chargeback, pre-arbitration), is announced (`_on_open`)."""
        res = super()._on_state_change(previous, decided_by=decided_by)
        if self.state in DISPUTE_OPEN_STATES and previous not in DISPUTE_OPEN_STATES:
            self._on_open()
        return res

    def _on_open(self):
        """A dispute opened, or reopened: the refund managers get a to-do, and the
        refunds of the payment still in flight are flagged when the bank takes the
        money back."""
        for dispute in self.sudo():
            if not dispute.is_open:
                continue
            managers = self.env["payment.refund"]._get_refund_managers(
                dispute.company_id
            )
            for manager in managers:
                # Queued, not sent in the webhook's post-commit (see
                # `payment.refund._notify_back_office`).
                dispute.with_context(mail_notify_force_send=False).activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    date_deadline=dispute.evidence_due_date
                    and dispute.evidence_due_date.date(),
                    summary=_(
                        "Answer the %(kind)s %(name)s",
                        kind=dispute._get_kind_label().lower(),
                        name=dispute.name,
                    ),
                    note=escape(dispute.reason_display or ""),
                )
            dispute._notify_failure_address(
                _(
                    "New %(kind)s %(name)s",
                    kind=dispute._get_kind_label().lower(),
                    name=dispute.name,
                ),
                dispute._get_open_alert_text(),
            )
            if dispute._is_chargeback():
                dispute._flag_refunds_in_flight()

    def _flag_refunds_in_flight(self):
        """Tell the refund managers of the refunds of this payment that may still
        return money: with the chargeback, the customer would be paid twice.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refunds = self.source_transaction_id.refund_ids.filtered(
            lambda r: r.state in IN_FLIGHT_STATES
        )
        if not refunds:
            return
        managers = self.env["payment.refund"]._get_refund_managers(self.company_id)
        summary = _(
            "Chargeback %(dispute)s on this payment: the customer may be paid twice",
            dispute=self.name,
        )
        note = _(
            "The bank took the money of this payment back (%(dispute)s) while this "
            "refund may still return it. Cancel the refund or check it with the "
            "provider.",
            dispute=self.name,
        )
        for refund in refunds.sudo():
            refund.message_post(body=note)
            for manager in managers:
                # Queued (see `payment.refund._notify_back_office`).
                refund.with_context(mail_notify_force_send=False).activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=manager.id,
                    summary=summary,
                    note=escape(note),
                )
        self.message_post(
            body=_(
                "Refunds of this payment still in flight: %(refunds)s. The refund "
                "managers were told.",
                refunds=", ".join(refunds.mapped("name")),
            )
        )

    def _close_as_refunded(self, refund):
        """Close open inquiries that a full refund of the payment ended.

        :param recordset refund: The `payment.refund` that refunded what remained.
        """
        for dispute in self.sudo():
            dispute._set_state("closed")
            dispute.message_post(
                body=_("Closed: refunded (%(refund)s).", refund=refund.name)
            )
            dispute.activity_feedback(
                ["mail.mail_activity_data_todo"], feedback=_("Refunded")
            )

    @api.model
    def _normalize_card_network(self, value):
        """The `card_network` of a network as a provider spells it, or False.

        :param str value: A card brand or scheme code (Stripe's `visa`, Adyen's `mc`).
        """
        if not value:
            return False
        key = str(value).strip().lower().replace(" ", "_")
        network = CARD_NETWORK_ALIASES.get(key)
        if network:
            return network
        return "other" if key not in CARD_NETWORKS else key

    def _apply_kind(self, kind):
        """Move the dispute's kind forward (an inquiry escalated to a chargeback...),
        never back: a late event of an earlier phase changes nothing.

        Note: self.ensure_one()
        """
        self.ensure_one()
        if kind and DISPUTE_KIND_ORDER.index(kind) > DISPUTE_KIND_ORDER.index(
            self.kind
        ):
            self.write({"kind": kind})
            return True
        return False
