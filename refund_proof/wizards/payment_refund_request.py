from odoo import _, api, fields, models


class PaymentRefundRequest(models.TransientModel):
    _name = "payment.refund.request"
    _inherit = ["payment.refund.credit.note.choice"]
    _description = "Refund a Payment"
    _refund_proof_source_field = "source_transaction_id"

    source_transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        string="Payment",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    # Read as the user (compute_sudo=False): the wizard shows nothing of a payment
    # its user may not read (another company's).
    currency_id = fields.Many2one(
        related="source_transaction_id.currency_id", compute_sudo=False
    )
    source_amount = fields.Monetary(
        related="source_transaction_id.amount", string="Paid", compute_sudo=False
    )
    remaining_amount = fields.Monetary(
        related="source_transaction_id.refund_remaining_amount",
        string="Refundable",
        compute_sudo=False,
    )
    support_refund = fields.Selection(
        selection=[
            ("none", "Unsupported"),
            ("full_only", "Full only"),
            ("partial", "Partial"),
        ],
        compute="_compute_support_refund",
    )
    manual = fields.Boolean(
        string="Manual Refund",
        compute="_compute_manual",
        store=True,
        readonly=False,
        help="The customer is paid back outside the payment provider (cash, bank "
        "transfer...): the refund is recorded as done, with its date and bank "
        "reference.",
    )
    amount = fields.Monetary(
        string="Amount to Refund",
        compute="_compute_amount",
        store=True,
        readonly=False,
    )
    reason_id = fields.Many2one(comodel_name="payment.refund.reason")
    note = fields.Text()
    arn = fields.Char(string="ARN / Bank Reference")
    manual_method = fields.Selection(
        selection=lambda self: (
            self.env["payment.refund"]._fields["manual_method"].selection
        ),
        string="Paid By",
        default="bank_transfer",
    )
    refund_date = fields.Datetime(string="Paid On", default=fields.Datetime.now)
    dispute_id = fields.Many2one(
        comodel_name="payment.dispute",
        string="Open Dispute",
        compute="_compute_dispute_id",
        help="The open dispute of the payment: under a chargeback the bank already "
        "took the money back and no refund is allowed; under an inquiry only a full "
        "refund, which ends it.",
    )
    is_charged_back = fields.Boolean(compute="_compute_dispute_id")
    policy_verdict = fields.Char(compute="_compute_verdict")
    within_policy = fields.Boolean(compute="_compute_verdict")
    approval_reasons = fields.Text(compute="_compute_verdict")

    @api.depends("source_transaction_id", "amount", "reason_id")
    def _compute_verdict(self):
        """Show, before the user confirms, whether the refund is within policy and
        whether it will wait for a manager (the same rules `_request_refund` applies on
        confirmation)."""
        for wizard in self:
            tx = wizard.source_transaction_id
            if not tx:
                wizard.update(
                    {
                        "policy_verdict": False,
                        "within_policy": True,
                        "approval_reasons": False,
                    }
                )
                continue
            wizard.update(
                self.env["payment.refund"]._get_approval_preview(
                    tx, wizard.amount, wizard.reason_id
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        """The payment must be one the user may read (its company's rules)."""
        wizards = super().create(vals_list)
        wizards.source_transaction_id.check_access("read")
        return wizards

    @api.depends("source_transaction_id")
    def _compute_dispute_id(self):
        for wizard in self:
            tx = wizard.source_transaction_id
            readable = tx and tx.with_env(self.env).has_access("read")
            disputes = (
                tx._get_open_disputes() if readable else self.env["payment.dispute"]
            )
            chargebacks = disputes.filtered(lambda d: d._is_chargeback())
            wizard.dispute_id = (chargebacks or disputes)[:1].id
            wizard.is_charged_back = bool(chargebacks)

    @api.depends("source_transaction_id")
    def _compute_support_refund(self):
        for wizard in self:
            tx = wizard.source_transaction_id
            wizard.support_refund = tx._get_refund_support() if tx else "none"

    @api.depends("support_refund")
    def _compute_manual(self):
        for wizard in self:
            wizard.manual = wizard.support_refund == "none"

    @api.depends(
        "source_transaction_id",
        "support_refund",
        "credit_note_id",
        "create_credit_note",
    )
    def _compute_amount(self):
        for wizard in self:
            wizard.amount = wizard._get_credit_note_amount(wizard.remaining_amount)

    @api.depends("source_transaction_id", "manual")
    def _compute_credit_note_id(self):
        """Override of `payment.refund.credit.note.choice`: a manual refund pays back
        no credit note (no payment would come of it)."""
        res = super()._compute_credit_note_id()
        for wizard in self.filtered("manual"):
            wizard.credit_note_id = False
        return res

    def action_confirm(self):
        self.ensure_one()
        refund = self.source_transaction_id._request_refund(
            amount_to_refund=self.amount,
            reason=self.reason_id,
            note=self.note,
            arn=self.arn,
            manual=self.manual,
            manual_method=self.manual_method,
            refund_date=self.refund_date,
            **self._get_credit_note_request_values(),
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund"),
            "res_model": "payment.refund",
            "res_id": refund.id,
            "view_mode": "form",
            "target": "current",
        }
