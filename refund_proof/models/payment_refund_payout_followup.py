"""What follows an offer of another way to be paid back when nobody acts
(models/payment_refund_payout.py): the offer sent by the failure itself when the
company wants it, the customer reminded when they do not answer, then the refund
managers asked to call.

The company's settings (res.company): `refund_payout_auto_offer` (off by default: an
offer is a manager's decision unless the merchant says otherwise),
`refund_payout_reminder_days` and `refund_payout_second_reminder_days` (3 and 10 days
after the offer), `refund_payout_escalation_days` (14: a to-do for the refund
managers). 0 turns a step off.
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

PAYOUT_REMINDER_TEMPLATE = "refund_proof.mail_template_refund_payout_reminder"


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    payout_reminder_count = fields.Integer(
        string="Reminders Sent",
        readonly=True,
        copy=False,
        help="How many times the customer was reminded of the current offer.",
    )
    payout_escalation_date = fields.Datetime(
        string="Managers Asked On",
        readonly=True,
        copy=False,
        help="When the refund managers were asked to contact the customer, who "
        "answered neither the offer nor its reminders.",
    )

    # === BUSINESS METHODS - LIFECYCLE === #

    def _on_state_change(self, previous, decided_by=None):
        """Override of `payment.refund`: a failed refund offers the customer another
        way to be paid back at once when its company says so (a replacement that fails
        too does not: the customer already chose, a manager decides what next)."""
        res = super()._on_state_change(previous, decided_by=decided_by)
        if (
            self.state == "failed"
            and self.company_id.refund_payout_auto_offer
            and not self.replaced_refund_id
            and not self.payout_offer_date
        ):
            self._auto_offer_payout()
        return res

    def _auto_offer_payout(self):
        """Send the offer as the failure's consequence, when it can be made (a
        customer with an e-mail address, no live replacement); otherwise the back
        office, already told of the failure, offers it or not.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refund = self.sudo()
        try:
            refund._check_payout_offerable()
        except UserError as error:  # A reason not to offer, not a fault.
            refund.message_post(
                body=_(
                    "Another way to be paid back was not offered automatically: "
                    "%(reason)s",
                    reason=error.args[0],
                ),
                subtype_xmlid="mail.mt_note",
            )
            return
        # In sudo mode: the company's setting decided it, not a user; the offer's
        # date and e-mail are the server's to write.
        refund._offer_payout()
        refund.message_post(
            body=_(
                "Another way to be paid back was offered to the customer when the "
                "refund failed (company setting)."
            ),
            subtype_xmlid="mail.mt_note",
        )

    def _offer_payout(self):
        """Override of `payment.refund`: a new offer is followed up from its own
        date."""
        self.write({"payout_reminder_count": 0, "payout_escalation_date": False})
        return super()._offer_payout()

    # === CRON METHODS === #

    @api.model
    def _cron_follow_up_payout_offers(self):
        """Remind the customers who have not answered an offer (first and second
        reminder), then ask the refund managers to contact them; once each, at the
        days after the offer set by each refund's company. An offer stops being
        followed up once answered, or when its refund is no longer failed."""
        now = fields.Datetime.now()
        refunds = self.sudo().search(
            [
                ("state", "=", "failed"),
                ("payout_offer_date", "!=", False),
                ("payout_escalation_date", "=", False),
            ]
        )
        for refund in refunds:
            if refund._get_payout_choice():
                continue
            step = refund._get_payout_follow_up_step(now)
            if not step:
                continue
            try:
                with self.env.cr.savepoint():
                    if step == "escalate":
                        refund._escalate_payout_offer(now)
                    else:
                        refund._send_payout_reminder()
            except Exception:
                # One customer's failing e-mail must not stop the others'.
                _logger.exception("Could not follow up the offer of %s", refund.name)

    def _get_payout_follow_up_step(self, now):
        """What is due for this refund's unanswered offer at `now`: "remind", then
        "escalate", or False.

        Note: self.ensure_one()
        """
        self.ensure_one()
        company = self.company_id
        days = [
            company.refund_payout_reminder_days,
            company.refund_payout_second_reminder_days,
        ]
        reminders = [day for day in days if day > 0]
        age = now - self.payout_offer_date
        sent = self.payout_reminder_count
        if sent < len(reminders) and age >= timedelta(days=reminders[sent]):
            return "remind"
        escalation = company.refund_payout_escalation_days
        if escalation > 0 and age >= timedelta(days=escalation):
            return "escalate"
        return False

    def _send_payout_reminder(self):
        """E-mail the customer a reminder of the offer (the same link), in their
        language, queued.

        Note: self.ensure_one()
        """
        self.ensure_one()
        self._send_payout_mail(PAYOUT_REMINDER_TEMPLATE)
        self.payout_reminder_count += 1

    def _escalate_payout_offer(self, now):
        """Ask the refund managers to contact the customer, who answered neither the
        offer nor its reminders (their money is still with the merchant).

        Note: self.ensure_one()
        """
        self.ensure_one()
        self._notify_back_office(
            _(
                "%(customer)s has not chosen how to be paid back for %(name)s since "
                "%(days)s days: contact them.",
                customer=self.partner_id.name or "",
                name=self.name,
                days=(now - self.payout_offer_date).days,
            ),
            requester=False,
            mail=False,
        )
        self.payout_escalation_date = now
