from odoo import fields, models

REFUND_LIMIT_FIELDS = {"refund_limit", "refund_daily_limit"}


class ResUsers(models.Model):
    _inherit = "res.users"

    refund_limit = fields.Monetary(
        currency_field="refund_limit_currency_id",
        groups="refund_proof.group_refund_manager,base.group_erp_manager",
        help="Largest single refund this user may issue without approval, in the "
        "company currency. 0 means every refund of this user needs a manager's "
        "approval. Refund managers have no limit.",
    )
    refund_daily_limit = fields.Monetary(
        string="Daily Refund Limit",
        currency_field="refund_limit_currency_id",
        groups="refund_proof.group_refund_manager,base.group_erp_manager",
        help="Largest total this user may refund per calendar day (in the company's "
        "time zone) without approval, in the company currency. 0 means no daily cap.",
    )
    refund_limit_currency_id = fields.Many2one(
        related="company_id.currency_id",
        string="Refund Limit Currency",
    )

    def write(self, vals):
        """Refund managers set refund limits without being user administrators."""
        if (
            vals
            and set(vals) <= REFUND_LIMIT_FIELDS
            and not self.env.su
            and self.env["payment.refund"]._is_refund_manager()
        ):
            # In sudo mode because res.users is writable by administrators only; the
            # fields written are the refund limits and nothing else.
            return super(ResUsers, self.sudo()).write(vals)
        return super().write(vals)
