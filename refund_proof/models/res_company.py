"""The company's refund settings: written by administrators only, each change logged.

Every field this class defines is a refund setting (`_refund_settings_fields`): the
limits' day, the refund window, what the proof and the evidence pack state, whom the
e-mails go to. A field added here later is guarded and logged by itself.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from odoo.addons.base.models.res_partner import _tz_get

_logger = logging.getLogger(__name__)

# Longest value written in full in the settings log (a refund policy is a text).
LOG_VALUE_MAX_LENGTH = 200


class ResCompany(models.Model):
    _inherit = "res.company"

    refund_tz = fields.Selection(
        selection=_tz_get,
        string="Refund Time Zone",
        compute="_compute_refund_tz",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        help="The time zone of the company's refund days: when a user's daily refund "
        "limit starts again, and how many days after the payment a refund is (the "
        "refund window). A setting of its own, not the company contact's time zone.",
    )
    refund_window_days = fields.Integer(
        string="Refund Window (days)",
        default=30,
        help="Refunds later than this many days after the payment need a manager's "
        "approval. 0 means no window. Refund reasons may override it.",
    )

    refund_statement_descriptor = fields.Char(
        string="Statement Descriptor",
        help="The name your customers see on their bank or card statement for your "
        "payments and refunds (e.g. MYSHOP.COM). Printed on the proof of refund so "
        "that customers recognise it. A payment provider can override it.",
    )
    refund_support_email = fields.Char(
        string="Refund Support E-mail",
        help="Printed on the proof. Default: company e-mail.",
    )
    refund_support_phone = fields.Char(
        help="Printed on the proof. Default: company phone.",
    )
    refund_support_url = fields.Char(
        string="Contact Page",
        help="Printed on the proof, e.g. https://myshop.com/contact.",
    )
    refund_proof_show_reason = fields.Boolean(
        string="Show Reason on Proof",
        default=True,
        help="Print the refund reason on the proof of refund sent to the customer.",
    )
    refund_proof_send_email = fields.Boolean(
        string="E-mail Proofs Automatically",
        default=True,
        help="E-mail the customer when a refund is done, and again when its ARN is "
        "known.",
    )
    refund_proof_attach_pdf = fields.Boolean(
        string="Attach the Proof PDF",
        default=True,
        help="Attach the proof of refund to those e-mails (the portal link is always "
        "there).",
    )
    refund_failure_email = fields.Char(
        string="Notify Failures To",
        help="Internal e-mail address told about failed refunds, e.g. "
        "payments@myshop.com.",
    )
    refund_pending_alert_days = fields.Integer(
        string="Alert on Refunds Pending For (days)",
        default=7,
        help="A refund still pending at the provider after this many days raises an "
        "activity for the refund managers: the provider's final notification may "
        "never come, and a pending refund holds its amount. 0 means never.",
    )
    refund_payout_auto_offer = fields.Boolean(
        string="Offer Another Way When a Refund Fails",
        help="When a refund to the card fails, e-mail the customer at once the link "
        "where they choose another way to be paid back (bank transfer, store "
        "credit). Off: a refund manager offers it (Offer Another Way).",
    )
    refund_payout_reminder_days = fields.Integer(
        string="First Reminder After (days)",
        default=3,
        help="Remind the customer who has not chosen how to be paid back this many "
        "days after the offer. 0 means no reminder.",
    )
    refund_payout_second_reminder_days = fields.Integer(
        string="Second Reminder After (days)",
        default=10,
        help="A second reminder this many days after the offer. 0 means none.",
    )
    refund_payout_escalation_days = fields.Integer(
        string="Ask the Managers After (days)",
        default=14,
        help="A to-do for the refund managers, to contact the customer who has not "
        "answered, this many days after the offer. 0 means never.",
    )

    refund_policy_text = fields.Text(
        string="Refund Policy",
        help="Your refund policy as your customers see it (terms of sale, shop page). "
        "Printed in the evidence pack of a dispute: the bank checks the refund against "
        "it.",
    )
    dispute_rate_threshold = fields.Float(
        string="Dispute Rate Warning (%)",
        default=0.9,
        digits=(5, 2),
        help="The dispute rate report shows in red a month whose disputes reach this "
        "share of its paid transactions (per provider); 0 turns the warning off. The "
        "card networks flag a merchant higher up: Visa's VAMP at 1.5% since April "
        "2026 (2.2% before) of fraud reports plus disputes, with more than 1,500 of "
        "them a month; Mastercard at 1.5% and 100 chargebacks. 0.9% was Visa's former "
        "dispute programme (VDMP) threshold; acquirers often enforce lower limits.",
    )

    # === COMPUTE METHODS === #

    # No dependency: computed once, when the company is created (and for the existing
    # companies when refund_proof is installed or upgraded to this field), from its
    # partner's time zone; never again when someone edits the company's contact.
    @api.depends()
    def _compute_refund_tz(self):
        for company in self:
            company.refund_tz = company.partner_id.tz or "UTC"

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "refund_payout_reminder_days",
        "refund_payout_second_reminder_days",
        "refund_payout_escalation_days",
    )
    def _check_refund_payout_days_not_negative(self):
        for company in self:
            if (
                min(
                    company.refund_payout_reminder_days,
                    company.refund_payout_second_reminder_days,
                    company.refund_payout_escalation_days,
                )
                < 0
            ):
                raise ValidationError(
                    _(
                        "The days before a reminder or before asking the managers "
                        "are 0 (never) or more."
                    )
                )

    # === CRUD METHODS === #

    def write(self, vals):
        """Refund settings are written by administrators (or the server) only, and
        each change is logged."""
        settings = self._refund_settings_fields().intersection(vals)
        if not settings:
            return super().write(vals)
        self._check_refund_settings_access(settings)
        before = {company: {f: company[f] for f in settings} for company in self}
        result = super().write(vals)
        for company, old_values in before.items():
            for fname, old in old_values.items():
                new = company[fname]
                if new != old:
                    _logger.info(
                        "Company %s (id %s): refund setting %s changed: %s -> %s, by "
                        "%s (uid %s)",
                        company.name,
                        company.id,
                        fname,
                        self._refund_setting_log_value(old),
                        self._refund_setting_log_value(new),
                        self.env.user.login,
                        self.env.uid,
                    )
        return result

    # === BUSINESS METHODS === #

    @api.model
    def _refund_settings_fields(self):
        """The names of the refund settings: every field refund_proof defines on the
        company.

        :rtype: frozenset
        """
        return REFUND_SETTINGS_FIELDS

    def _check_refund_settings_access(self, fnames):
        """Refuse a write of refund settings by anyone but an administrator (Settings
        right) or the server.

        :param fnames: The names of the refund settings written.
        :raise AccessError: When the current user is not an administrator.
        """
        if self.env.su or self.env.user.has_group("base.group_system"):
            return
        labels = sorted(self._fields[f]._description_string(self.env) for f in fnames)
        raise AccessError(
            _(
                "Only administrators can change the refund settings of a company "
                "(%(settings)s).",
                settings=", ".join(labels),
            )
        )

    @api.model
    def _refund_setting_log_value(self, value):
        """A setting's value as the log states it: its repr, shortened when long."""
        text = repr(value)
        if len(text) > LOG_VALUE_MAX_LENGTH:
            text = f"{text[:LOG_VALUE_MAX_LENGTH]}... ({len(text)} characters)"
        return text

    def _get_refund_timezone(self):
        """The time zone of the company's refund days (daily limits, refund window):
        its refund setting (`refund_tz`), which only administrators change; never
        its partner's nor a user's own, which users may change.

        :rtype: str
        """
        self.ensure_one()
        return self.refund_tz or "UTC"


# Every field of the class above, a field added later included.
REFUND_SETTINGS_FIELDS = frozenset(
    name for name, value in vars(ResCompany).items() if isinstance(value, fields.Field)
)
