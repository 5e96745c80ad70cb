from odoo import http
from odoo.http import request

from odoo.addons.sale.controllers.portal import CustomerPortal


class RefundProofSalePortal(CustomerPortal):
    @http.route()
    def portal_order_page(self, order_id, **kwargs):
        """Override of `sale`: the order's page lists the refunds of its payments to
        whoever may have them (`_refund_proof_get_visitor_refunds`)."""
        response = super().portal_order_page(order_id, **kwargs)
        order_sudo = getattr(response, "qcontext", {}).get("sale_order")
        if order_sudo:
            # In sudo mode (sale's order_sudo): sale renders the page only after its
            # access check (`_document_check_access`: the visitor's own order, or its
            # access token), and the refunds shown are the order's customer's, whom
            # the page is for; a customer without an account reads no refund
            # otherwise.
            response.qcontext["refund_proof_refunds"] = (
                self._refund_proof_get_visitor_refunds(
                    order_sudo._refund_proof_get_portal_refunds()
                )
            )
        return response

    def _refund_proof_get_visitor_refunds(self, refunds_sudo):
        """Those of the order's refunds the visitor may have, with their proof links
        (which carry each refund's access token): a visitor without an account holds
        the order's e-mailed link, the customer's; signed in, the refund's customer,
        or a user who reads the refund (refund users, read-only accountants). Reading
        the order is not enough: a salesman gets no refund of its customer.

        :param recordset refunds_sudo: `payment.refund`, in sudo mode.
        :return: The refunds to list, in sudo mode.
        :rtype: recordset of `payment.refund`
        """
        user = request.env.user
        if user._is_public():
            return refunds_sudo
        customer = user.partner_id.commercial_partner_id
        readable = refunds_sudo.with_user(user)._filtered_access("read")
        return refunds_sudo.filtered(
            lambda refund: (
                refund in readable
                or refund.partner_id.commercial_partner_id == customer
            )
        )
