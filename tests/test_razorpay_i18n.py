import os

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "refund_proof_razorpay"
I18N = os.path.join(os.path.dirname(__file__), "..", MODULE, "i18n")
LANGS = {"fr": "fr_FR", "ro": "ro_RO"}


@tagged("-at_install", "post_install")
class TestRazorpayTranslations(TransactionCase):
    """fr and ro cover every string of the Razorpay bridge and load cleanly."""

    def test_po_files_cover_every_string_of_the_bridge(self):
        """Every term Odoo exports for the bridge is translated in fr and ro."""
        sources = {
            source
            for module, _t, _n, _r, source, _v, _c in TranslationModuleReader(
                self.env.cr, [MODULE]
            )
            if module == MODULE and source
        }
        self.assertIn("Razorpay reports that the refund failed.", sources)
        for code in LANGS:
            po = polib.pofile(os.path.join(I18N, f"{code}.po"))
            translated = {e.msgid for e in po.translated_entries()}
            with self.subTest(lang=code):
                self.assertFalse(po.fuzzy_entries(), "no fuzzy entry")
                self.assertEqual(sorted(sources - translated), [])

    def test_po_files_load_without_warnings(self):
        """Both catalogues load without a warning."""
        for lang in LANGS.values():
            self.env["res.lang"]._activate_lang(lang)
        with self.assertNoLogs("odoo", level="WARNING"):
            self.env["ir.module.module"]._load_module_terms(
                [MODULE], list(LANGS.values()), overwrite=True
            )
