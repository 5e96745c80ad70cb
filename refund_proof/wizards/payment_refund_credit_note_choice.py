from odoo import api, fields, models


class PaymentRefundCreditNoteChoice(models.AbstractModel):
    """The credit note a refund wizard of a payment pays back: one of the open credit
    notes of the paid invoice, or one created for the full refund. Shown only; the
    request path (`payment.transaction._request_refund`) decides again."""

    _name = "payment.refund.credit.note.choice"
    _description = "Credit Note of a Refund"

    # The wizard's field holding the payment refunded (`payment.transaction`).
    _refund_proof_source_field = None

    def _refund_proof_source_depends(self):
        field = self._refund_proof_source_field
        return (field,) if field else ()

    available_credit_note_ids = fields.Many2many(
        comodel_name="account.move",
        compute="_compute_available_credit_note_ids",
    )
    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        compute="_compute_credit_note_id",
        store=True,
        readonly=False,
        compute_sudo=False,  # Proposes only what the user reads.
        domain="[('id', 'in', available_credit_note_ids)]",
        help="The open credit note of the paid invoice this refund pays back: when "
        "the refund is done, its payment is reconciled with it.",
    )
    can_create_credit_note = fields.Boolean(compute="_compute_can_create_credit_note")
    create_credit_note = fields.Boolean(
        string="Create the Credit Note",
        compute="_compute_credit_note_id",
        store=True,
        readonly=False,
        compute_sudo=False,
        help="Create the invoice's credit note with the refund's reason and refund "
        "it: its payment is reconciled with it when the refund is done.",
    )

    # === COMPUTE METHODS === #

    def _get_refund_proof_source(self):
        self.ensure_one()
        return self[self._refund_proof_source_field]

    @api.depends(_refund_proof_source_depends)
    def _compute_available_credit_note_ids(self):
        for wizard in self:
            tx = wizard._get_refund_proof_source()
            moves = tx._refund_proof_get_open_credit_notes() if tx else tx
            # Only those the user may read (the request path reads the credit note as
            # them), even when computed in sudo mode for another field (the amount).
            wizard.available_credit_note_ids = (
                moves.with_user(self.env.uid)._filtered_access("read")
                if moves
                else False
            )

    @api.depends(_refund_proof_source_depends)
    def _compute_credit_note_id(self):
        for wizard in self:
            available = wizard.available_credit_note_ids
            wizard.credit_note_id = available if len(available) == 1 else False
            wizard.create_credit_note = False

    @api.depends(_refund_proof_source_depends)
    def _compute_can_create_credit_note(self):
        for wizard in self:
            tx = wizard._get_refund_proof_source()
            wizard.can_create_credit_note = bool(tx) and not (
                tx._refund_proof_get_credit_note_blocker()
            )

    # === BUSINESS METHODS === #

    def _get_credit_note_amount(self, remaining):
        """The amount to prefill: all that remains, at most the chosen credit note's
        open amount.

        Note: self.ensure_one()
        """
        self.ensure_one()
        credit_note = self.credit_note_id
        if credit_note and not self.create_credit_note:
            return min(remaining, credit_note.sudo()._refund_proof_get_open_amount())
        return remaining

    def _get_credit_note_request_values(self):
        """The credit note arguments of `_request_refund`."""
        self.ensure_one()
        if self.create_credit_note:
            return {"create_credit_note": True}
        return {"credit_note": self.credit_note_id or None}
