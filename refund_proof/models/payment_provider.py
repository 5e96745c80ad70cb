from odoo import _, fields, models


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    refund_statement_descriptor = fields.Char(
        string="Statement Descriptor",
        help="What the customer sees on their statement for payments made with this "
        "provider (e.g. 'Myshop - via Stripe'). Default: the company's descriptor.",
    )
    refund_expected_arrival = fields.Char(
        string="Refund Arrival",
        translate=True,
        help="Printed on the proof of refund, e.g. 'usually 5-10 business days for "
        "cards'.",
    )

    def _get_refund_expected_arrival(self):
        """Return the sentence telling the customer when the money arrives.

        Provider glue may override it (per payment method, for instance).
        """
        self.ensure_one()
        return self.refund_expected_arrival or _(
            "usually 5-10 business days for cards, depending on your bank"
        )

    def _refund_proof_can_fetch_reference(self):
        """Whether this provider can be asked for the ARN of a refund
        (`payment.transaction._refund_proof_fetch_reference`). Provider bridges
        override it.

        Note: self.ensure_one()

        :rtype: bool
        """
        self.ensure_one()
        return False

    def _refund_proof_can_submit_dispute_evidence(self):
        """Whether the evidence pack of a dispute can be sent to this provider
        (`payment.transaction._refund_proof_submit_dispute_evidence`). Provider
        bridges override it.

        Note: self.ensure_one()

        :rtype: bool
        """
        self.ensure_one()
        return False
