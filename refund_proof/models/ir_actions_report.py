from odoo import models

PROOF_REPORT = "refund_proof.report_refund_proof"


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _render_qweb_pdf(self, report_ref, res_ids=None, data=None):
        """Override of `base`: every proof of refund rendered as a PDF (printed,
        downloaded, attached to an e-mail) is stored with its SHA-256, so the
        verification page can tell a reader whether their PDF is one that was issued."""
        content, content_type = super()._render_qweb_pdf(
            report_ref, res_ids=res_ids, data=data
        )
        if (
            content_type == "pdf"
            and res_ids
            and len(res_ids) == 1
            and self._get_report(report_ref).report_name == PROOF_REPORT
        ):
            refund = self.env["payment.refund"].browse(res_ids)
            self.env["payment.refund.proof"]._store(refund, content)
        return content, content_type
