from odoo import http

from odoo.addons.sale.controllers.portal import CustomerPortal


class RefundProofSalePortal(CustomerPortal):
    @http.route()
    def portal_order_page(self, order_id, **kwargs):
        """Override of `sale`: the order's page lists the refunds of its payments."""
        response = super().portal_order_page(order_id, **kwargs)
        order_sudo = getattr(response, "qcontext", {}).get("sale_order")
        if order_sudo:
            # In sudo mode (sale's order_sudo): sale renders the page only after its
            # access check (`_document_check_access`: the visitor's own order, or its
            # access token), and the refunds shown are the order's customer's, whom
            # the page is for; a customer without an account reads no refund
            # otherwise.
            response.qcontext["refund_proof_refunds"] = (
                order_sudo._refund_proof_get_portal_refunds()
            )
        return response
