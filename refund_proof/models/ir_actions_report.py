import re

from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools.pdf import merge_pdf

from ..const import PROOF_TEMPLATE, REPORT_PREFIX

# The proof report renders only when the server's own issue path asks
# (`payment.refund._issue_proof`), which passes this object in the render's `data`. A
# client's `data` and context come as JSON through the report routes and RPC, which
# cannot hold this object: no value a client sends makes the proof render anew.
_ISSUE_KEY = "refund_proof_issue"
_ISSUE = object()


def proof_issue_data():
    """The `data` of the render of a proof of refund by the server's issue path.

    :rtype: dict
    """
    return {_ISSUE_KEY: _ISSUE}


def is_proof_issue(data):
    """Whether `data` is that of the server's issue path (`proof_issue_data`)."""
    return isinstance(data, dict) and data.get(_ISSUE_KEY) is _ISSUE


# A stylesheet of an asset bundle in a report's HTML (web.minimal_layout).
_ASSET_CSS_LINK = re.compile(
    r'<link\b[^>]*?\bhref="(?P<url>/web/assets/[^"/]+/(?P<file>[^"/]+\.css))"[^>]*>'
)
_ASSET_CSS_FILE = re.compile(r"(?P<bundle>.+?)(?P<rtl>\.rtl)?\.min\.css")
# The CSS of an asset bundle by (database, URL): the URL holds the bundle's version, so
# an entry never goes stale; a few bundles of a few hundred kilobytes per database.
_ASSET_CSS_CACHE = {}


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _is_refund_proof_report(self, report_ref):
        """Whether `report_ref` (XML id, report name or record) is the proof of
        refund.

        :rtype: bool
        """
        return self._get_report(report_ref).report_name == PROOF_TEMPLATE

    def _run_wkhtmltopdf(
        self, bodies, report_ref=False, header=None, footer=None, **kw
    ):
        """Override of `base`: refund_proof's documents hold their stylesheets, so
        that wkhtmltopdf fetches nothing from the server (`report.url`). Plain Odoo's
        wkhtmltopdf asks a worker of that server for each stylesheet of each render:
        two HTTP requests per proof, and a deadlock when every worker renders (each
        waits for a free worker to serve its styles until `--limit-time-real` kills
        it; the proofs' queue jobs, refund_proof_batch, render in as many workers as
        the channel's capacity). The PDF is the same: the same CSS, in the same
        order, inline instead of linked."""
        if report_ref and self._get_report(report_ref).report_name.startswith(
            REPORT_PREFIX
        ):
            bodies = [self._refund_proof_inline_styles(body) for body in bodies]
            header = header and self._refund_proof_inline_styles(header)
            footer = footer and self._refund_proof_inline_styles(footer)
        return super()._run_wkhtmltopdf(
            bodies, report_ref=report_ref, header=header, footer=footer, **kw
        )

    def _refund_proof_inline_styles(self, html):
        """`html` with each stylesheet of an asset bundle inline (`<style>`) rather
        than linked; a bundle whose CSS cannot be had here stays linked."""

        def inline(match):
            css = self._refund_proof_asset_css(match["url"], match["file"])
            return f"<style>{css}</style>" if css is not None else match[0]

        return _ASSET_CSS_LINK.sub(inline, html)

    def _refund_proof_asset_css(self, url, filename):
        """The CSS served at `url` (`/web/assets/<version>/<bundle>[.rtl].min.css`), as
        Odoo's asset route serves it, or None.

        :rtype: str or None
        """
        key = (self.env.cr.dbname, url)
        if key not in _ASSET_CSS_CACHE:
            # In sudo mode: asset bundles are public files of the database.
            attachment = (
                self.env["ir.attachment"].sudo().search([("url", "=", url)], limit=1)
            )
            name = _ASSET_CSS_FILE.fullmatch(filename)
            if not attachment and name:
                # Not generated yet (Odoo makes a bundle's file when first asked).
                attachment = (
                    self.env["ir.qweb"]
                    .sudo()
                    ._get_asset_bundle(
                        name["bundle"], css=True, js=False, rtl=bool(name["rtl"])
                    )
                    .css()
                )
            if not attachment or attachment.url != url:
                return None  # Another version than the page's: left to the server.
            css = attachment.raw.decode()
            # A stylesheet cannot end the <style> element it is put in.
            _ASSET_CSS_CACHE[key] = None if "</style" in css.lower() else css
        return _ASSET_CSS_CACHE[key]

    def _render_qweb_pdf(self, report_ref, res_ids=None, data=None):
        """Override of `base`: a proof of refund is a document, not a render. Printing
        or downloading one serves the proof as issued (`payment.refund.proof`), byte
        for byte and checked against its SHA-256, so that the reader's file matches
        the fingerprint the verification page lists; a proof is rendered only when
        the server issues it (once per version, `proof_issue_data`), never because of
        a context or data a client sends."""
        if is_proof_issue(data) or not self._is_refund_proof_report(report_ref):
            return super()._render_qweb_pdf(report_ref, res_ids=res_ids, data=data)
        if not res_ids:
            raise UserError(_("A proof of refund is printed from its refund."))
        if isinstance(res_ids, int):
            res_ids = [res_ids]
        refunds = self.env["payment.refund"].browse(res_ids)
        if not self.env.su:
            refunds.check_access("read")
        proofs = [refund._ensure_proof() for refund in refunds]
        if not all(proofs):  # Test mode without force_report_rendering: no PDF.
            return super()._render_qweb_pdf(report_ref, res_ids=res_ids, data=data)
        pdfs = [proof._get_verified_pdf() for proof in proofs]
        return (pdfs[0] if len(pdfs) == 1 else merge_pdf(pdfs)), "pdf"
