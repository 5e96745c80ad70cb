from odoo import _, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..const import PORTAL_DOMAIN, PROOF_REPORT


class RefundProofPortal(CustomerPortal):
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "refund_count" in counters:
            Refund = request.env["payment.refund"]
            values["refund_count"] = (
                Refund.search_count(self._get_refunds_domain())
                if Refund.has_access("read")
                else 0
            )
        return values

    def _get_refunds_domain(self):
        # The record rule restricts portal users to their commercial partner's refunds.
        return list(PORTAL_DOMAIN)

    def _get_refund_searchbar_sortings(self):
        return {
            "date": {"label": _("Newest"), "order": "request_date desc, id desc"},
            "name": {"label": _("Reference"), "order": "name desc"},
            "amount": {"label": _("Amount"), "order": "amount desc"},
            "state": {"label": _("Status"), "order": "state, request_date desc"},
        }

    @http.route(
        ["/my/refunds", "/my/refunds/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_refunds(self, page=1, sortby=None, **kwargs):
        values = self._prepare_portal_layout_values()
        Refund = request.env["payment.refund"]
        domain = self._get_refunds_domain()
        sortings = self._get_refund_searchbar_sortings()
        sortby = sortby if sortby in sortings else "date"
        has_access = Refund.has_access("read")
        total = Refund.search_count(domain) if has_access else 0
        pager = portal_pager(
            url="/my/refunds",
            url_args={"sortby": sortby},
            total=total,
            page=page,
            step=self._items_per_page,
        )
        refunds = (
            Refund.search(
                domain,
                order=sortings[sortby]["order"],
                limit=self._items_per_page,
                offset=pager["offset"],
            )
            if has_access
            else Refund
        )
        request.session["my_refunds_history"] = refunds.ids[:100]
        values.update(
            {
                "refunds": refunds.sudo(),
                "page_name": "refund",
                "pager": pager,
                "default_url": "/my/refunds",
                "searchbar_sortings": sortings,
                "sortby": sortby,
            }
        )
        return request.render("refund_proof.portal_my_refunds", values)

    @http.route(
        ["/my/refunds/<int:refund_id>"], type="http", auth="public", website=True
    )
    def portal_my_refund_detail(
        self, refund_id, access_token=None, report_type=None, download=False, **kwargs
    ):
        try:
            refund_sudo = self._document_check_access(
                "payment.refund", refund_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        if not refund_sudo.filtered_domain(PORTAL_DOMAIN):
            return request.redirect("/my")
        if report_type in ("html", "pdf", "text"):
            # The proof as issued, never a new render: a done refund's proof is issued
            # by the mail cron just after the refund is committed; until then (or for a
            # refund that is not done) the page says so.
            if report_type != "pdf" or not (
                refund_sudo.state == "done" and refund_sudo._get_current_proof()
            ):
                return request.redirect(refund_sudo.get_portal_url())
            # The issued file, checked against its SHA-256 (a file changed under Odoo
            # is refused with an error, and is no download).
            response = self._show_report(
                model=refund_sudo,
                report_type=report_type,
                report_ref=PROOF_REPORT,
                download=download,
            )
            if not request.env.user._is_internal():
                # The customer's download (a back-office preview is not one): the
                # evidence pack of a dispute lists them.
                refund_sudo._get_current_proof()._log_download(request.env.user)
            return response
        values = self._get_page_view_values(
            refund_sudo,
            access_token,
            {"refund": refund_sudo, "page_name": "refund"},
            "my_refunds_history",
            False,
            **kwargs,
        )
        return request.render("refund_proof.portal_refund_page", values)
