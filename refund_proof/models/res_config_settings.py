from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    refund_window_days = fields.Integer(
        related="company_id.refund_window_days", readonly=False,
    )
