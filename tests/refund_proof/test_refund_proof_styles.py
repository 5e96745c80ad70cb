from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.base.models.ir_actions_report import IrActionsReport

from .test_refund_proof import REPORT, RealPdfCase

# Nothing listens there: a stylesheet wkhtmltopdf had to fetch would fail to load.
UNREACHABLE = "http://127.0.0.1:9"


@tagged("-at_install", "post_install")
class TestRefundProofStyles(RealPdfCase):
    """A proof's stylesheets are in its HTML: wkhtmltopdf fetches nothing from the
    server `report.url` names (ir_actions_report.py, `_run_wkhtmltopdf`)."""

    @contextmanager
    def _watch_wkhtmltopdf(self):
        """The HTML bodies Odoo's own `_run_wkhtmltopdf` runs wkhtmltopdf on
        (watched, not replaced: the PDF is rendered for real)."""
        bodies = []
        run = IrActionsReport._run_wkhtmltopdf

        def watch(report, html_bodies, *args, **kwargs):
            bodies.extend(html_bodies)
            return run(report, html_bodies, *args, **kwargs)

        with patch.object(IrActionsReport, "_run_wkhtmltopdf", watch):
            yield bodies

    def _render(self, report_ref, records):
        return (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(report_ref, records.ids)[0]
        )

    def test_proof_renders_with_report_url_unreachable(self):
        """With `report.url` pointing where nothing answers, the proof renders with
        Odoo's report styles, inline; nothing fails to load (the run's log would say
        so: wkhtmltopdf's warnings are Odoo's)."""
        self.env["ir.config_parameter"].sudo().set_param("report.url", UNREACHABLE)
        refund = self._done_refund()
        with self._watch_wkhtmltopdf() as bodies:
            pdf = self._render(REPORT, refund)
        self.assertTrue(pdf.startswith(b"%PDF"))
        self.assertTrue(bodies)
        for body in bodies:
            self.assertNotIn('href="/web/assets/', body)
            # Odoo's report styles (web.report_assets_common), not only the layout's.
            self.assertIn(".o_report_layout", body)

    def test_other_reports_keep_odoos_links(self):
        """Only refund_proof's reports change: Odoo's module reference links its
        styles as before."""
        with self._watch_wkhtmltopdf() as bodies:
            self._render(
                "base.ir_module_reference_print", self.env.ref("base.module_base")
            )
        self.assertTrue(bodies)
        self.assertIn('href="/web/assets/', bodies[0])
