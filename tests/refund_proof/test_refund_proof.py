import hashlib
import io
import subprocess
import tempfile

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..refund_factories import RefundProofCommon

REPORT = "refund_proof.action_report_refund_proof"
VALID_ARN = "74612345678901234567893"


class ProofCommon(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {
                "name": "Myshop SAS",
                "website": "https://myshop.example",
                "refund_statement_descriptor": "MYSHOP.EXAMPLE",
                "refund_support_email": "help@myshop.example",
                "refund_support_phone": "+33 1 23 45 67 89",
                "refund_support_url": "https://myshop.example/contact",
            }
        )
        cls.partner.write({"tz": "Europe/Brussels", "name": "Norbert Buyer"})
        cls.card_token = cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.provider.payment_method_ids[:1].id,
                "partner_id": cls.partner.id,
                "payment_details": "4242",
                "provider_ref": "demo-token",
            }
        )
        cls.provider.refund_expected_arrival = "usually 5-10 business days for cards"

    def _done_refund(self, amount=40.0, paid=100.0, **kwargs):
        tx = self._create_paid_transaction(paid, token_id=self.card_token.id)
        invoice = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[paid], post=True
        )
        tx.invoice_ids = invoice
        return self._refund(tx, amount, reason=self.reason_customer, **kwargs)

    def _html(self, refund):
        html, _ = self.env["ir.actions.report"]._render_qweb_html(REPORT, refund.ids)
        return html.decode()


@tagged("-at_install", "post_install")
class TestRefundProofDocument(ProofCommon):
    def test_proof_states_every_fact(self):
        """Merchant, descriptor, contacts, payment, refund, ARN, QR, URL are printed."""
        self._refund(self._create_paid_transaction(100.0), 10.0)  # unrelated
        refund = self._done_refund(arn=VALID_ARN)
        tx = refund.source_transaction_id
        earlier = self._refund(tx, 15.0)
        earlier.sudo().refund_date = refund.refund_date.replace(
            year=refund.refund_date.year - 1
        )
        html = self._html(refund)
        for fact in (
            "Proof of refund",
            "Myshop SAS",
            "https://myshop.example",
            "MYSHOP.EXAMPLE",
            "help@myshop.example",
            "+33 1 23 45 67 89",
            "https://myshop.example/contact",
            "Norbert Buyer",
            tx.invoice_ids.name,
            tx.reference,
            refund.name,
            "40.00",
            "100.00",
            "Partial refund of a payment of",
            "Refunded before",
            "15.00",
            "Europe/Brussels",
            "Customer request",
            "7 461234 5678 90123456789 3",
            "Give this number to your bank",
            "usually 5-10 business days for cards",
            refund.verification_url,
            refund.proof_fingerprint,
            "data:image/png;base64,",
        ):
            with self.subTest(fact=fact):
                self.assertIn(fact, html)
        self.assertIn("•••• 4242", html, "card brand and last 4 digits")

    def test_date_and_time_in_the_customer_time_zone(self):
        """The refund's date and time are printed in the customer's time zone."""
        refund = self._done_refund()
        refund.sudo().refund_date = "2026-07-01 10:30:00"  # UTC
        html = self._html(refund)
        self.assertIn("12:30", html)  # Brussels is UTC+2 in July
        self.assertIn("Europe/Brussels", html)

    def test_arn_to_follow_and_bank_reference(self):
        """Without ARN the proof says one will follow; a bank reference is no ARN."""
        refund = self._done_refund()
        self.assertIn("ARN to follow", self._html(refund))
        refund.with_user(self.refund_user).arn = "BANKREF123X"
        html = self._html(refund)
        self.assertIn("Bank reference", html)
        self.assertNotIn("Acquirer Reference Number", html)

    def test_reason_hidden_when_the_merchant_chooses(self):
        """The company decides whether the reason is printed."""
        refund = self._done_refund()
        self.env.company.refund_proof_show_reason = False
        self.assertNotIn("Customer request", self._html(refund))

    def test_proof_in_the_customer_language(self):
        """A French customer's proof is in French (labels translated by i18n)."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.partner.lang = "fr_FR"
        refund = self._done_refund()
        html = self._html(refund)
        self.assertIn('lang="fr-FR"', html.replace("fr_FR", "fr-FR"))

    def test_only_done_refunds_have_a_proof(self):
        """Asking for the proof of a refund that is not done is a clear error."""
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        tx = self._create_paid_transaction(provider=self.dummy_provider)
        pending = self._refund(tx, 10.0)
        self.assertEqual(pending.state, "pending")
        with self.assertRaisesRegex(UserError, "only done refunds have one"):
            self._html(pending)

    def test_another_company_proof_is_refused(self):
        """A user cannot print the proof of a refund they may not read."""
        refund = self._done_refund()
        outsider = new_test_user(self.env, login="outsider", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(outsider)._render_qweb_html(
                REPORT, refund.ids
            )

    def test_file_name(self):
        """The PDF is named after the refund."""
        refund = self._done_refund()
        report = self.env.ref(REPORT)
        self.assertEqual(
            report._safe_eval_report_name(refund)
            if hasattr(report, "_safe_eval_report_name")
            else eval(report.print_report_name, {"object": refund}),  # noqa: S307
            f"Proof of refund - {refund.name}",
        )
        self.assertEqual(
            refund._get_report_base_filename(), f"Proof of refund - {refund.name}"
        )

    def test_token_is_bound_to_the_refund(self):
        """The token is unguessable, bound to its refund, and rejects tampering."""
        refund = self._done_refund()
        other = self._done_refund()
        token = refund._get_verification_token()
        key, signature = token.split(".")
        Refund = self.env["payment.refund"]
        self.assertEqual(Refund._get_by_verification_token(token), refund)
        self.assertGreaterEqual(len(key), 32)
        self.assertNotIn(str(refund.id), token.split(".")[0][:3])
        tampered = f"{key}.{'0' if signature[0] != '0' else '1'}{signature[1:]}"
        swapped = f"{other.sudo().verification_key}.{signature}"
        for bad in (tampered, swapped, key, f"{key}.", str(refund.id), "", "x" * 200):
            with self.subTest(token=bad):
                self.assertFalse(Refund._get_by_verification_token(bad))


class RealPdfCase(ProofCommon, HttpCase):
    """Real PDFs through wkhtmltopdf, fetching the report's CSS from the test server."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("report.url", self.base_url())


@tagged("-at_install", "post_install")
class TestRefundProofPdf(RealPdfCase):
    def test_real_pdf_with_decodable_qr_is_stored_with_its_sha256(self):
        """The rendered PDF is one page, its QR decodes to the verification URL, and
        it is stored with its SHA-256 as an issued proof."""
        from PIL import Image
        from pyzbar.pyzbar import decode

        refund = self._done_refund(arn=VALID_ARN)
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(REPORT, refund.ids)
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/proof.pdf"
            with open(path, "wb") as f:
                f.write(pdf)
            pages = subprocess.run(
                ["pdfinfo", path], capture_output=True, text=True
            ).stdout
            subprocess.run(
                ["pdftoppm", "-png", "-r", "200", "-singlefile", path, f"{tmp}/page"],
                capture_output=True,
                check=True,
            )
            with open(f"{tmp}/page.png", "rb") as f:
                png = f.read()
        # The facts are checked on the HTML of the same report (TestRefundProofDocument)
        # and as the PDF's text in test_refund_proof_text; here the page count and the
        # QR code.
        self.assertRegex(pages, r"Pages:\s+1\n", "the proof fits on one page")
        codes = decode(Image.open(io.BytesIO(png)))
        self.assertEqual([c.data.decode() for c in codes], [refund.verification_url])
        self.assertEqual(refund.proof_ids.sha256, hashlib.sha256(pdf).hexdigest())
        self.assertEqual(refund.proof_ids.attachment_id.raw, pdf)
        self.assertEqual(refund.proof_ids.arn, VALID_ARN)
