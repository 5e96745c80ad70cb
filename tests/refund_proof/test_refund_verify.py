import hashlib

from odoo.tests import HttpCase, tagged

from .test_refund_proof import VALID_ARN, ProofCommon


@tagged("-at_install", "post_install")
class TestRefundVerification(ProofCommon, HttpCase):
    def _get(self, url, **params):
        return self.url_open(
            url
            if not params
            else f"{url}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
        )

    def test_genuine_proof(self):
        """A done refund's page says Genuine with the public facts, not indexed."""
        refund = self._done_refund(arn=VALID_ARN)
        response = self._get(refund.verification_url)
        self.assertEqual(response.status_code, 200)
        page = response.text
        for fact in (
            "Genuine",
            "Myshop SAS",
            refund.name,
            "40.00",
            "USD",
            "7 461234 5678 90123456789 3",
            "N. B.",
            refund.proof_fingerprint,
            "Europe/Brussels",
        ):
            with self.subTest(fact=fact):
                self.assertIn(fact, page)
        self.assertIn('<meta name="robots" content="noindex, nofollow"', page)
        self.assertEqual(response.headers.get("X-Robots-Tag"), "noindex, nofollow")

    def test_public_page_leaks_no_personal_data(self):
        """No e-mail, address, phone, full name or card data on the public page."""
        refund = self._done_refund()
        page = self._get(refund.verification_url).text
        partner = self.partner
        for secret in (
            partner.email,
            partner.street,
            partner.city,
            partner.phone,
            "Norbert",
            "Buyer",
            "4242",
            refund.source_transaction_id.reference,
            "help@myshop.example",
        ):
            with self.subTest(secret=secret):
                self.assertNotIn(secret, page)

    def test_revoked_proof(self):
        """A refund reversed by the provider after its proof shows Revoked, dated."""
        refund = self._done_refund()
        refund.transaction_ids._set_error(
            "Refund reversed", extra_allowed_states=("done",)
        )
        self.assertEqual(refund.state, "failed")
        response = self._get(refund.verification_url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Revoked", response.text)
        self.assertNotIn("Genuine", response.text)

    def test_tampered_and_unknown_tokens(self):
        """A tampered, truncated or unknown token: Not a genuine proof, HTTP 404."""
        refund = self._done_refund()
        token = refund._get_verification_token()
        key, signature = token.split(".")
        flipped = "1" if signature[-1] == "0" else "0"
        for bad in (
            f"{key}.{signature[:-1]}{flipped}",
            key,
            token[:-5],
            "A" * 32 + "." + "0" * 32,
            str(refund.id),
        ):
            with self.subTest(token=bad):
                response = self._get(f"/refund-proof/verify/{bad}")
                self.assertEqual(response.status_code, 404)
                self.assertIn("Not a genuine proof", response.text)
                self.assertNotIn(refund.name, response.text)

    def test_refund_never_done_has_no_genuine_page(self):
        """A refund that was never done has no proof: its token gives 404."""
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        pending = self._refund(
            self._create_paid_transaction(provider=self.dummy_provider), 5.0
        )
        self.assertEqual(self._get(pending.verification_url).status_code, 404)

    def test_pdf_fingerprint_check(self):
        """A reader checks that their PDF is one the merchant issued."""
        refund = self._done_refund()
        self.env["payment.refund.proof"]._store(refund, b"%PDF-1.4 issued proof")
        good = hashlib.sha256(b"%PDF-1.4 issued proof").hexdigest()
        bad = hashlib.sha256(b"%PDF-1.4 forged proof").hexdigest()
        self.assertIn(
            "is one that the merchant issued",
            self._get(refund.verification_url, sha256=good).text,
        )
        self.assertIn(
            "is not one that the merchant issued",
            self._get(refund.verification_url, sha256=bad).text,
        )
        self.assertIn(
            "64 hexadecimal", self._get(refund.verification_url, sha256="zz").text
        )

    def test_page_and_pdf_state_the_same_time(self):
        """With no customer time zone, page and proof use the merchant's, not yours."""
        self.partner.tz = False
        self.env.company.refund_tz = "America/New_York"
        refund = self._done_refund()
        self.assertIn("America/New_York", self._get(refund.verification_url).text)
        self.assertIn("America/New_York", self._html(refund))

    def test_time_zone_is_fixed_when_the_refund_is_requested(self):
        """The customer changing time zone later does not move the dates of a proof
        already issued: the page, the PDF and the e-mails keep stating the same time."""
        refund = self._done_refund()
        self.assertEqual(refund.proof_tz, "Europe/Brussels")
        self.partner.tz = "Asia/Tokyo"
        self.env.company.refund_tz = "America/New_York"
        self.assertEqual(refund.proof_tz, "Europe/Brussels")
        self.assertIn("Europe/Brussels", self._get(refund.verification_url).text)
        self.assertIn("Europe/Brussels", self._html(refund))
        self.assertEqual(self._done_refund().proof_tz, "Asia/Tokyo", "new refunds")
