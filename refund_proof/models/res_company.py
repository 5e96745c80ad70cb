from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    refund_window_days = fields.Integer(
        string="Refund Window (days)", default=30,
        help="Refunds later than this many days after the payment need a manager's approval. "
        "0 means no window. Refund reasons may override it.",
    )
