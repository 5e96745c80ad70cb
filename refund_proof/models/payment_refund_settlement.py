"""A refund asked before its payment settled at the provider.

Some providers cannot refund a payment they have not settled yet (Authorize.Net settles
once a day): they cancel the whole payment instead (a void: no money moved, the charge
disappears from the customer's statement), or the refund has to wait for the
settlement. Provider-neutral services here, which a bridge calls from its
`_send_refund_request` (models/payment_transaction_bridge.py): the bridge knows its
provider and decides; this file records.

- `_hold`: the refund waits, unsent, in draft (its amount reserved, cancellable by its
  requester or a manager as any unsent refund), with why and until about when;
- `_release_hold`: the bridge's schedule found the payment settled: the request is
  checked again and sent;
- `_record_done_by_cancellation`: the provider cancelled the payment instead of
  refunding it: the refund is done, and no ARN will come.
"""

import logging

import psycopg2

from odoo import _, fields, models
from odoo.exceptions import UserError, ValidationError

_logger = logging.getLogger(__name__)


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    hold_reason = fields.Text(
        string="Held Because",
        groups="base.group_user",
        readonly=True,
        copy=False,
        help="Why this refund waits before it is sent to the provider (the payment "
        "is not settled yet, for instance). It is sent by itself once the reason is "
        "gone, and can be cancelled meanwhile.",
    )
    hold_until = fields.Datetime(
        string="Held Until About",
        groups="base.group_user",
        readonly=True,
        copy=False,
        help="When the refund is expected to be sent, as far as the provider lets "
        "us know.",
    )
    by_cancellation = fields.Boolean(
        string="By Cancelling the Payment",
        readonly=True,
        copy=False,
        tracking=True,
        help="The provider cancelled the payment before it settled instead of "
        "refunding it (a void): no money left the customer's account, the charge "
        "disappears from their statement instead of a credit, and no ARN will come.",
    )

    # === BUSINESS METHODS - LIFECYCLE === #

    def _get_transition_values(self, previous, target, now):
        """Override of `payment.refund`: a refund leaving draft (sent, cancelled,
        failed) is no longer held."""
        values = super()._get_transition_values(previous, target, now)
        if previous == "draft" and target != "draft":
            values.update(hold_reason=False, hold_until=False)
        return values

    # === BUSINESS METHODS - SERVICES FOR BRIDGES === #

    def _hold(self, reason, until=None):
        """Keep this refund, being sent, from being sent now: it stays in draft with
        its amount reserved, nothing reaches the provider, and the refund form says
        `reason` and `until`. The bridge sends it later (`_release_hold`). Server
        side: bridges call it from their `_send_refund_request`, and return no
        refund transaction.

        Note: self.ensure_one()

        :param str reason: Why it waits, for the back office (translated).
        :param datetime until: About when it will be sent, if known.
        """
        self.ensure_one()
        if self.state != "draft":
            raise UserError(
                _(
                    "%(name)s cannot be held: it is %(state)s, not about to be sent.",
                    name=self.name,
                    state=self._get_state_label(),
                )
            )
        self._write_server_values({"hold_reason": reason, "hold_until": until})
        self.message_post(
            body=_("Held, not sent yet: %(reason)s", reason=reason),
        )

    def _release_hold(self):
        """Send these held refunds now (their bridge found the reason gone): each
        request is checked again as an approval is (the payment, the provider, the
        amount left), then sent; a refund no longer allowed fails with the reason.
        Server side: bridges call it from their schedule, in sudo mode."""
        self._lock_for_decision()
        for refund in self:
            if refund.state != "draft" or not refund.hold_reason:
                continue  # Cancelled, or sent, meanwhile.
            try:
                with self.env.cr.savepoint():
                    refund.source_transaction_id._check_refund_request(
                        refund.amount,
                        manual=refund.origin == "manual",
                        credit_note=refund.credit_note_id,
                        exclude=refund,
                    )
            except psycopg2.Error:
                raise
            except (UserError, ValidationError) as error:
                message = str(error.args[0]) if error.args else str(error)
                refund.message_post(
                    body=_("Not sent after it was held: %(message)s", message=message)
                )
                refund._set_state("failed", failure_message=message)
                continue
            refund._write_server_values({"hold_reason": False, "hold_until": False})
            refund.message_post(body=_("Released: sent to the provider."))
            refund._send_to_provider()

    def _record_done_by_cancellation(self, message=None):
        """Record this refund, being sent, as done by the cancellation of its whole
        payment at the provider (a void before settlement): no money moved, the
        charge disappears from the customer's statement, and no ARN will come. Server
        side: bridges call it from their `_send_refund_request` once the provider
        confirmed the cancellation, and return no refund transaction.

        Note: self.ensure_one()

        :param str message: What the provider answered, for the chatter.
        """
        self.ensure_one()
        source = self.source_transaction_id
        if source.currency_id.compare_amounts(self.amount, source.amount):
            # A cancellation returns the whole payment, never a part.
            raise UserError(
                _(
                    "%(name)s is a part of the payment: cancelling the payment "
                    "cannot be recorded as it.",
                    name=self.name,
                )
            )
        self.message_post(
            body=_(
                "%(provider)s cancelled the payment before it settled, instead of "
                "refunding it: no money left the customer's account, and no ARN will "
                "come. %(message)s",
                provider=self.provider_id.name,
                message=message or "",
            )
        )
        self._set_state(
            "done",
            by_cancellation=True,
            arn_unavailable=True,
            reference_next_fetch=False,
        )
