from odoo import _, http
from odoo.exceptions import UserError
from odoo.http import request

from odoo.addons.web.controllers.report import ReportController


class RefundProofReportController(ReportController):
    @http.route()
    def report_routes(self, reportname, docids=None, converter=None, **data):
        """Override of `web`: a proof of refund is served only as its issued PDF
        (`/report/pdf/...`, whose render serves the issued file to whoever may read
        the refund, `ir.actions.report._render_qweb_pdf`); its HTML and text are
        never rendered for a client."""
        if converter != "pdf" and self._is_refund_proof_report(reportname):
            raise UserError(
                _(
                    "A proof of refund is served only as its issued PDF: print or "
                    "download it from its refund."
                )
            )
        return super().report_routes(
            reportname, docids=docids, converter=converter, **data
        )

    def _is_refund_proof_report(self, reportname):
        """Whether `reportname` (report name or XML id) is the proof of refund."""
        try:
            return request.env["ir.actions.report"]._is_refund_proof_report(reportname)
        except ValueError:  # No such report: web's route answers.
            return False
