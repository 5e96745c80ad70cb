import re

from markupsafe import Markup

from odoo import http
from odoo.http import request

from ..utils import initials

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DOCTYPE = Markup("<!DOCTYPE html>\n")


class RefundProofVerification(http.Controller):
    @http.route(
        "/refund-proof/verify/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
        readonly=True,
    )
    def refund_proof_verify(self, token, sha256=None, **kwargs):
        """Tell a reader whether a proof of refund is genuine. Public: shows the minimum
        (no e-mail, address, full name or card data) and reads stored fields only."""
        refund = request.env["payment.refund"]._get_by_verification_token(token)
        status = refund and refund._get_verification_status()
        headers = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}
        if not status:
            return request.render(
                "refund_proof.refund_proof_verify_page",
                {"status": "unknown", "doctype": DOCTYPE},
                status=404,
                headers=headers,
            )
        return request.render(
            "refund_proof.refund_proof_verify_page",
            self._prepare_verify_values(refund, status, sha256),
            headers=headers,
        )

    def _prepare_verify_values(self, refund, status, sha256=None):
        # Only the columns shown: partners, companies and currencies are wide rows.
        refund.company_id.fetch(["name"])
        refund.partner_id.fetch(["name"])
        refund.currency_id.fetch(
            ["name", "symbol", "position", "rounding", "decimal_places"]
        )
        values = {
            "doctype": DOCTYPE,
            "status": status,
            "merchant_name": refund.company_id.name,
            "refund_number": refund.name,
            "amount": refund._format_amount(),
            "currency": refund.currency_id.name,
            "refund_date": refund._format_proof_datetime(refund.refund_date),
            "timezone": refund._get_proof_timezone(),
            "arn": refund.arn_display,
            "arn_type": refund.arn_type,
            "customer_initials": initials(refund.partner_id.name),
            "state": refund._get_state_label(),
            "fingerprint": refund.proof_fingerprint,
            "revoked_on": False,
            "pdf_check": None,
        }
        if status == "revoked":
            values["revoked_on"] = refund._format_proof_datetime(
                refund.reversal_date or refund.cancel_date or refund.write_date
            )
        if sha256:
            sha256 = sha256.strip().lower()
            values["pdf_check"] = (
                "invalid"
                if not SHA256_RE.match(sha256)
                else "match"
                if sha256 in refund.proof_ids.mapped("sha256")
                else "nomatch"
            )
        return values
