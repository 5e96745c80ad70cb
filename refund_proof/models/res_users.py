from odoo import _, api, fields, models
from odoo.exceptions import AccessError

# What a refund manager sets on a user without being a user administrator.
REFUND_LIMIT_FIELDS = frozenset(
    {"refund_limit", "refund_daily_limit", "refund_limit_currency_id"}
)


class ResUsers(models.Model):
    _inherit = "res.users"

    refund_limit = fields.Monetary(
        currency_field="refund_limit_currency_id",
        groups="refund_proof.group_refund_manager,base.group_erp_manager",
        help="Largest single refund this user may issue without approval, in the "
        "limits' currency. 0 means every refund of this user needs a manager's "
        "approval. Refund managers have no limit.",
    )
    refund_daily_limit = fields.Monetary(
        string="Daily Refund Limit",
        currency_field="refund_limit_currency_id",
        groups="refund_proof.group_refund_manager,base.group_erp_manager",
        help="Largest total this user may refund per calendar day (in the company's "
        "refund time zone) without approval, in the limits' currency. 0 means no "
        "daily cap.",
    )
    # Stored, set with the limits: not a related to the user's company's currency,
    # which users change on themselves (their `company_id`).
    refund_limit_currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_refund_limit_currency_id",
        store=True,
        readonly=False,
        precompute=True,
        groups="refund_proof.group_refund_manager,base.group_erp_manager",
        help="The currency of the refund limits, set with them. Refunds in other "
        "currencies are converted at the day's rate.",
    )

    # === COMPUTE METHODS === #

    # No dependency: computed once, when the user is created (and for the users of
    # the database when refund_proof is installed or upgraded to a stored field), never
    # again when the user changes company.
    @api.depends()
    def _compute_refund_limit_currency_id(self):
        for user in self:
            user.refund_limit_currency_id = user.company_id.currency_id

    # === CRUD METHODS === #

    def write(self, vals):
        """Refund managers set refund limits without being user administrators, on
        users whose every company is one of theirs."""
        if (
            vals
            and set(vals) <= REFUND_LIMIT_FIELDS
            and not self.env.su
            and not self.env.user.has_group("base.group_erp_manager")
            and self.env["payment.refund"]._is_refund_manager()
        ):
            self._check_refund_limit_companies()
            # In sudo mode because res.users is writable by administrators only; the
            # fields written are the refund limits and nothing else, on users of the
            # manager's own companies.
            return super(ResUsers, self.sudo()).write(vals)
        return super().write(vals)

    # === BUSINESS METHODS === #

    def _check_refund_limit_companies(self):
        """Refuse a refund manager setting the limits of a user who works in a company
        that is not theirs: the limits apply in every company of the user.

        :raise AccessError: When one of the users has a company outside the current
                            user's companies.
        """
        own_companies = self.env.user.company_ids
        # In sudo mode because the manager may not read the other companies.
        outsiders = self.sudo().filtered(lambda user: user.company_ids - own_companies)
        if outsiders:
            raise AccessError(
                _(
                    "You cannot set the refund limits of %(users)s: they also work in "
                    "companies that are not yours, where their limits apply too.",
                    users=", ".join(outsiders.mapped("name")),
                )
            )
