from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools.pdf import merge_pdf

from ..const import PROOF_TEMPLATE

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


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _is_refund_proof_report(self, report_ref):
        """Whether `report_ref` (XML id, report name or record) is the proof of
        refund.

        :rtype: bool
        """
        return self._get_report(report_ref).report_name == PROOF_TEMPLATE

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
