from odoo import models
from odoo.tools.pdf import merge_pdf

from .const import PROOF_TEMPLATE


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _render_qweb_pdf(self, report_ref, res_ids=None, data=None):
        """Override of `base`: a proof of refund is a document, not a render. Printing
        or downloading one serves the proof as issued (`payment.refund.proof`), byte
        for byte, so that the customer's file matches the fingerprint the verification
        page lists; a proof is rendered only when it is issued (once per version)."""
        if (
            self.env.context.get("refund_proof_render")
            or not res_ids
            or self._get_report(report_ref).report_name != PROOF_TEMPLATE
        ):
            return super()._render_qweb_pdf(report_ref, res_ids=res_ids, data=data)
        if isinstance(res_ids, int):
            res_ids = [res_ids]
        refunds = self.env["payment.refund"].browse(res_ids)
        if not self.env.su:
            refunds.check_access("read")
        proofs = [refund._ensure_proof() for refund in refunds]
        if not all(proofs):  # Test mode without force_report_rendering: no PDF.
            return super()._render_qweb_pdf(report_ref, res_ids=res_ids, data=data)
        pdfs = [proof.attachment_id.raw for proof in proofs]
        return (pdfs[0] if len(pdfs) == 1 else merge_pdf(pdfs)), "pdf"
