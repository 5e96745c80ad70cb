"""The proof is text, not pictures of text: what a bank clerk copies, a screen reader
reads and an acquirer's evidence system indexes is in the PDF as text.
"""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import tagged
from odoo.tools import file_path, format_amount

from ..pdf_text import pdf_to_text
from .test_refund_proof import REPORT, VALID_ARN, RealPdfCase

WEB_FONT = "web/static/fonts/lato/Lato-Reg-webfont.ttf"


class _WebFontCSSHandler(BaseHTTPRequestHandler):
    """Answers every stylesheet with Odoo's web font on the body, and the font."""

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler's name)
        if self.path == "/lato.ttf":
            with open(file_path(WEB_FONT), "rb") as f:
                body, kind = f.read(), "font/ttf"
        else:
            body = (
                b"@font-face { font-family: 'Lato'; "
                b"src: url('/lato.ttf') format('truetype'); }\n"
                b"body { font-family: 'Lato'; }\n"
            )
            kind = "text/css"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@tagged("-at_install", "post_install")
class TestRefundProofText(RealPdfCase):
    def _web_font_server_url(self):
        """A server whose report CSS knows nothing of refund_proof: web fonts only."""
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _WebFontCSSHandler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        return f"http://127.0.0.1:{httpd.server_port}"

    def _pdf_text(self, refund):
        pdf, _ = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(REPORT, refund.ids)
        )
        return pdf_to_text(pdf)

    def test_pdf_text_has_the_number_amount_and_arn(self):
        """pdftotext finds the refund number, the amount and the ARN in the real PDF,
        whichever server serves the report's CSS."""
        for server, url in (
            ("Odoo's test server", self.base_url()),
            ("a server with web fonts only", self._web_font_server_url()),
        ):
            with self.subTest(css=server):
                self.env["ir.config_parameter"].sudo().set_param("report.url", url)
                refund = self._done_refund(1234.56, paid=2000.0, arn=VALID_ARN)
                amount = format_amount(self.env, refund.amount, refund.currency_id)
                # What a clerk copies, whatever spacing the proof groups it with.
                text = re.sub(r"\s", "", self._pdf_text(refund))
                for fact in (refund.name, amount, VALID_ARN):
                    self.assertIn(re.sub(r"\s", "", fact), text)
