from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_amount


class PaymentRefundCreditNote(models.TransientModel):
    _name = "payment.refund.credit.note"
    _description = "Refund a Credit Note to the Customer"

    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        required=True,
        readonly=True,
        ondelete="cascade",
        domain="[('move_type', '=', 'out_refund'), ('state', '=', 'posted')]",
    )
    currency_id = fields.Many2one(related="credit_note_id.currency_id")
    partner_id = fields.Many2one(related="credit_note_id.partner_id", string="Customer")
    invoice_id = fields.Many2one(
        related="credit_note_id.reversed_entry_id", string="Invoice"
    )
    open_amount = fields.Monetary(
        string="Left to Refund",
        compute="_compute_refundable",
        help="The credit note's open amount, minus its refunds in progress.",
    )
    refundable_amount = fields.Monetary(
        string="Refundable on the Payments",
        compute="_compute_refundable",
        help="What the payments of the invoice can still refund.",
    )
    amount = fields.Monetary(
        string="Amount to Refund",
        compute="_compute_amount",
        store=True,
        readonly=False,
    )
    reason_id = fields.Many2one(comodel_name="payment.refund.reason")
    note = fields.Text()
    split_html = fields.Html(
        string="Refunded On",
        compute="_compute_split",
        sanitize=False,  # Built here, every value escaped (Markup).
    )
    split_count = fields.Integer(string="Number of Refunds", compute="_compute_split")
    split_error = fields.Char(
        string="Why It Cannot Be Refunded", compute="_compute_split"
    )
    approval_reasons = fields.Text(
        string="Why Approval Is Needed", compute="_compute_split"
    )

    # === COMPUTE METHODS === #

    @api.depends("credit_note_id")
    def _compute_refundable(self):
        for wizard in self:
            credit_note = wizard.credit_note_id
            if not credit_note:
                wizard.open_amount = wizard.refundable_amount = 0.0
                continue
            wizard.open_amount = credit_note._refund_proof_get_open_amount()
            wizard.refundable_amount = sum(
                credit_note._refund_proof_get_source_transactions().mapped(
                    "refund_remaining_amount"
                )
            )

    @api.depends("credit_note_id")
    def _compute_amount(self):
        for wizard in self:
            wizard.amount = min(wizard.open_amount, wizard.refundable_amount)

    @api.depends("credit_note_id", "amount", "reason_id")
    def _compute_split(self):
        """Show, before the user confirms, the refunds that confirming makes (one per
        payment, largest refundable first) and whether they will wait for a manager
        (the rules `_request_refund` applies to each on confirmation)."""
        Refund = self.env["payment.refund"]
        for wizard in self:
            wizard.update(
                {
                    "split_html": False,
                    "split_count": 0,
                    "split_error": False,
                    "approval_reasons": False,
                }
            )
            credit_note = wizard.credit_note_id
            currency = wizard.currency_id
            if not credit_note or currency.compare_amounts(wizard.amount, 0) <= 0:
                continue
            if currency.compare_amounts(wizard.amount, wizard.open_amount) > 0:
                wizard.split_error = _(
                    "Only %(open)s is left to refund on this credit note.",
                    open=format_amount(self.env, wizard.open_amount, currency),
                )
                continue
            try:
                split = credit_note._refund_proof_get_refund_split(wizard.amount)
            except UserError as error:
                wizard.split_error = error.args[0]
                continue
            reasons = []
            rows = Markup()
            for tx, part in split:
                preview = Refund._get_approval_preview(tx, part, wizard.reason_id)
                for line in (preview["approval_reasons"] or "").splitlines():
                    if line not in reasons:
                        reasons.append(line)
                rows += Markup(
                    "<tr><td>%s</td><td class='text-end'>%s</td>"
                    "<td class='text-end'>%s</td></tr>"
                ) % (
                    tx.reference,
                    format_amount(self.env, tx.refund_remaining_amount, currency),
                    format_amount(self.env, part, currency),
                )
            wizard.split_html = Markup(
                "<table class='table table-sm mb-0'><thead><tr><th>%s</th>"
                "<th class='text-end'>%s</th><th class='text-end'>%s</th></tr>"
                "</thead><tbody>%s</tbody></table>"
            ) % (_("Payment"), _("Refundable"), _("To Refund"), rows)
            wizard.split_count = len(split)
            wizard.approval_reasons = "\n".join(reasons) or False

    # === ACTION METHODS === #

    def action_confirm(self):
        """Refund the credit note: one refund per payment of the split, each through
        the request path (`_request_refund`: rights, cap, limits, approval), all
        linked to the credit note.

        Everything the refunds depend on is locked and checked before the first one is
        sent, so that a refusal cannot come after money moved for an earlier one.
        """
        self.ensure_one()
        Transaction = self.env["payment.transaction"]
        Transaction._check_refund_rights()
        credit_note = self.credit_note_id
        credit_note.check_access("read")
        blocker = credit_note._refund_proof_get_refund_blocker()
        if blocker:
            raise UserError(blocker)
        currency = credit_note.currency_id
        amount = currency.round(self.amount)
        if currency.compare_amounts(amount, 0) <= 0:
            raise UserError(_("The amount to refund must be positive."))
        # The same order of locks as the request path: payments, credit note, user.
        sources = credit_note._refund_proof_get_source_transactions()
        sources.with_env(self.env)._lock_for_refund()
        credit_note._refund_proof_check_open_amount(amount)
        split = [
            (tx.with_env(self.env), part)
            for tx, part in credit_note._refund_proof_get_refund_split(amount)
        ]
        for tx, part in split:
            tx._check_refund_request(part, credit_note=credit_note)
        self.env["payment.refund"]._lock_user_limits()
        refunds = self.env["payment.refund"]
        for tx, part in split:
            refunds |= tx._request_refund(
                amount_to_refund=part,
                reason=self.reason_id,
                note=self.note,
                credit_note=credit_note,
            )
        action = {
            "type": "ir.actions.act_window",
            "name": _("Refunds"),
            "res_model": "payment.refund",
            "target": "current",
        }
        if len(refunds) == 1:
            action.update(view_mode="form", res_id=refunds.id)
        else:
            action.update(view_mode="list,form", domain=[("id", "in", refunds.ids)])
        return action
