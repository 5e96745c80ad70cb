import os

import polib

from odoo.tests import tagged
from odoo.tools.translate import TranslationModuleReader

from .test_refund_mail import MailCase

I18N = os.path.join(os.path.dirname(__file__), "..", "..", "refund_proof", "i18n")
LANGS = {"fr": "fr_FR", "ro": "ro_RO"}
# Terms written the same in the language: OCA's po formatting clears a translation equal
# to its source (Odoo then shows the source). Anything else left empty is a miss.
SAME_AS_SOURCE = {
    "fr": {
        "ARN",
        # The payout's bank account (models/payment_refund_payout.py) and the
        # placeholder of its form.
        "BIC",
        "IBAN",
        "FR76 3000 6000 0112 3456 7890 189",
        # The card networks' names (payment.dispute.card_network).
        "American Express",
        "Discover",
        "Mastercard",
        "Visa",
        "Configuration",
        "Date",
        "Description",
        "ID",
        "Logo",
        "MYSHOP.COM",
        "Messages",
        "Myshop - via Stripe",
        "Note",
        "SHA-256",
        "Total",
        "payments@myshop.com",
    },
    "ro": {
        "ARN",
        "BIC",
        "IBAN",
        "FR76 3000 6000 0112 3456 7890 189",
        "American Express",
        "Discover",
        "Mastercard",
        "Visa",
        "E-mail:",
        "ID",
        "Logo",
        "MYSHOP.COM",
        "Manager",
        "Manual",
        "SHA-256",
        "Total",
        "payments@myshop.com",
    },
}

# The same, per provider bridge (refund_proof_<provider>): {module: {lang: terms}}.
BRIDGE_SAME_AS_SOURCE = {
    "refund_proof_batch": {
        "fr": {"ID", "Message", "Messages", "Note", "Total"},
        # The line's "payment: message" is written alike in Romanian.
        "ro": {"ID", "Total", "%(payment)s: %(message)s"},
    },
}


@tagged("-at_install", "post_install")
class TestTranslations(MailCase):
    """fr and ro cover every string of the module and load cleanly."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for lang in LANGS.values():
            cls.env["res.lang"]._activate_lang(lang)

    def _bridges(self):
        """The provider bridges installed (refund_proof_<provider>)."""
        return (
            self.env["ir.module.module"]
            .search(
                [("name", "=like", "refund_proof\\_%"), ("state", "=", "installed")]
            )
            .mapped("name")
        )

    def _load(self):
        with self.assertNoLogs("odoo", level="WARNING"):
            self.env["ir.module.module"]._load_module_terms(
                ["refund_proof", *self._bridges()], list(LANGS.values()), overwrite=True
            )

    def test_po_files_cover_every_string_of_the_module(self):
        """Every term Odoo exports for refund_proof is translated in fr and ro."""
        sources = {
            source
            for module, _t, _n, _r, source, _v, _c in TranslationModuleReader(
                self.env.cr, ["refund_proof"]
            )
            if module == "refund_proof" and source
        }
        self.assertGreater(len(sources), 300)
        for code in LANGS:
            po = polib.pofile(os.path.join(I18N, f"{code}.po"))
            translated = {e.msgid for e in po.translated_entries()}
            missing = sorted(sources - translated - SAME_AS_SOURCE[code])
            with self.subTest(lang=code):
                self.assertFalse(po.fuzzy_entries(), "no fuzzy entry")
                self.assertEqual(
                    missing, [], f"{len(missing)} untranslated in {code}.po"
                )

    def test_bridges_po_files_cover_their_strings(self):
        """Every provider bridge installed ships fr and ro covering its own terms."""
        bridges = self._bridges()
        self.assertTrue(bridges, "the test database has the provider bridges")
        for bridge in bridges:
            sources = {
                source
                for module, _t, _n, _r, source, _v, _c in TranslationModuleReader(
                    self.env.cr, [bridge]
                )
                if module == bridge and source
            }
            i18n = os.path.join(os.path.dirname(__file__), "..", "..", bridge, "i18n")
            for code in LANGS:
                with self.subTest(module=bridge, lang=code):
                    path = os.path.join(i18n, f"{code}.po")
                    if not sources:
                        continue
                    self.assertTrue(os.path.exists(path), f"{bridge} has no {code}.po")
                    po = polib.pofile(path)
                    translated = {e.msgid for e in po.translated_entries()}
                    same = BRIDGE_SAME_AS_SOURCE.get(bridge, {}).get(code, set())
                    missing = sorted(sources - translated - same)
                    self.assertEqual(
                        missing,
                        [],
                        f"{len(missing)} untranslated in {bridge}/{code}.po",
                    )

    def test_po_files_load_without_warnings(self):
        """Loading both catalogues (refund_proof's and the bridges') logs no warning."""
        self._load()
        reason = self.env.ref("refund_proof.reason_duplicate_charge")
        self.assertNotEqual(reason.with_context(lang="fr_FR").name, reason.name)
        self.assertNotEqual(reason.with_context(lang="ro_RO").name, reason.name)

    def test_customer_mail_in_the_customer_language(self):
        """A French customer gets the e-mail in French, a Romanian one in Romanian."""
        self._load()
        for lang, hello, subject in (
            ("fr_FR", "Bonjour", "votre remboursement"),
            ("ro_RO", "Bună ziua", "rambursarea dumneavoastră"),
        ):
            with self.subTest(lang=lang):
                self.partner.lang = lang
                refund = self._done_refund()
                self._run_mail_cron()
                mail = self._customer_mails(refund)
                self.assertIn(hello, mail.body_html)
                self.assertIn(subject, mail.subject)
