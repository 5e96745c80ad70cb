from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class RefundProofPayoutPortal(CustomerPortal):
    """The customer's choice of another way to be paid back when a refund failed:
    access check (the refund's token), fetch in sudo mode, render; the rules are the
    refund's (models/payment_refund_payout.py)."""

    @http.route(
        ["/my/refunds/<int:refund_id>/payout"],
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=True,
    )
    def portal_refund_payout(self, refund_id, access_token=None, **post):
        try:
            refund_sudo = self._document_check_access(
                "payment.refund", refund_id, access_token
            )
        except (AccessError, MissingError):
            raise request.not_found() from None
        if refund_sudo.state != "failed" or not refund_sudo.payout_offer_date:
            raise request.not_found()
        if request.env.user._is_public() and refund_sudo.partner_id.lang:
            # The link came in the customer's e-mail: the page speaks their language.
            request.update_context(lang=refund_sudo.partner_id.lang)
            refund_sudo = refund_sudo.with_context(lang=refund_sudo.partner_id.lang)
        methods = refund_sudo._get_payout_methods()
        values = {
            "refund": refund_sudo,
            "access_token": access_token,
            "page_name": "refund_payout",
            "error": False,
            "chosen": refund_sudo._get_payout_choice(),
            "methods": methods,
            "form": {
                # The method chosen last, else the first offered.
                "method": post.get("method")
                if post.get("method") in dict(methods)
                else methods[0][0],
                "holder": post.get("holder", ""),
                "bic": post.get("bic", ""),
            },
        }
        status = 200
        if request.httprequest.method == "POST":
            # The rate limit, then the choice; nothing of a refused one is kept but
            # its count (models/payment_refund_payout.py).
            answer = refund_sudo._post_payout_choice(
                post.get("method"),
                holder=post.get("holder"),
                iban=post.get("iban"),
                bic=post.get("bic"),
            )
            status = answer["status"]
            if answer["error"]:
                values["error"] = answer["error"]
                values["chosen"] = refund_sudo._get_payout_choice()
            else:
                values["chosen"] = answer["refund"]
                values["just_chosen"] = True
        return request.render(
            "refund_proof.portal_refund_payout_page", values, status=status
        )
