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

    # === HOOKS FOR BRIDGES (models/payment_transaction_bridge.py) === #

    def _get_refund_expected_arrival(self):
        """Return the sentence telling the customer when the money arrives.

        A hook: bridges may override it (per payment method, for instance).
        """
        self.ensure_one()
        return self.refund_expected_arrival or _(
            "usually 5-10 business days for cards, depending on your bank"
        )

    def _get_refund_no_arn_note(self):
        """Return the sentence telling the customer why a refund of this provider
        has no ARN (`payment.refund.arn_unavailable`) and what their statement shows
        instead.

        A hook: bridges may override it with their provider's words.
        """
        self.ensure_one()
        return _(
            "The payment was reversed before it settled: instead of a credit, your "
            "bank or card statement shows the charge disappearing."
        )

    # === CAPABILITIES FOR BRIDGES === #

    def _refund_proof_gives_arn(self):
        """Whether this provider's refunds may get an ARN (or bank reference) after
        they are done. When not (Mollie), a refund's proof, e-mail and portal page
        say how the refund appears on the statement instead of "ARN to follow".
        Bridges override it.

        Note: self.ensure_one()

        :rtype: bool
        """
        self.ensure_one()
        return True

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

    # === BUSINESS METHODS - SERVICES FOR BRIDGES === #

    def _refund_proof_get_signing_secrets(self, current, previous, previous_until):
        """The secrets whose signatures a bridge accepts on the provider's events:
        the current one, and while a secret is rotated, the previous one until its
        end date (the providers sign or retry events with the old secret for a while).

        Note: self.ensure_one()

        :param str current: The provider's secret (Odoo's field).
        :param str previous: The previous secret, if any.
        :param datetime previous_until: Until when the previous one is accepted.
        :rtype: list[str]
        """
        self.ensure_one()
        secrets = [current] if current else []
        if previous and previous_until and fields.Datetime.now() <= previous_until:
            secrets.append(previous)
        return secrets
