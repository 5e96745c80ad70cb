from odoo import models


class LoyaltyHistory(models.Model):
    _inherit = "loyalty.history"

    def _get_order_portal_url(self):
        """Override of `loyalty`: a store credit's line links to its refund's page
        (its proof), as sale_loyalty links an order's."""
        if self.order_id and self.order_model == "payment.refund":
            return self.env["payment.refund"].browse(self.order_id).get_portal_url()
        return super()._get_order_portal_url()
