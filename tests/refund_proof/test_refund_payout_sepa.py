"""Paying the customers' bank transfers (issue 26): the SEPA credit transfer file of
approved transfers, then the confirmation with the bank's reference, and what the
proof, the e-mail and the verification page say of it."""

import os
import re
from datetime import timedelta

import sepaxml
from freezegun import freeze_time
from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.refund_proof.utils import mask_iban

from ..pdf_text import pdf_to_text
from .test_refund_mail import MailCase
from .test_refund_proof import REPORT

GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"
IBAN_COMPACT = "FR7630006000011234567890189"
MASKED = "FR76 •••• •••• 0189"
COMPANY_IBAN = "FR1420041010050500013M02606"
XSD = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", "pain.001.001.03.xsd")
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
REFERENCE = "FRBANK20261206"


@tagged("-at_install", "post_install")
class TestRefundPayoutSepa(MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com"})
        cls.bank_journal = cls.company_data["default_journal_bank"]
        bank = cls.env["res.bank"].create({"name": "La Banque", "bic": "PSSTFRPPXXX"})
        cls.company_account = cls.env["res.partner.bank"].create(
            {
                "acc_number": COMPANY_IBAN,
                "partner_id": cls.env.company.partner_id.id,
                "bank_id": bank.id,
            }
        )
        cls.bank_journal.bank_account_id = cls.company_account
        cls.schema = etree.XMLSchema(etree.parse(XSD))

    # --- helpers: a failed refund, the offer, the customer's post, the approval --- #

    def _failed_refund(self, currency=None, failure="expired_or_canceled_card"):
        # Odoo computes a provider's refund support (not stored): again after each
        # request of the test server, which invalidates the cache.
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        tx = self._create_paid_transaction(
            100.0,
            provider=self.dummy_provider,
            currency_id=(currency or self.currency_euro).id,
        )
        failed = self._refund(tx, 40.0, reason=self.reason_customer)
        failed.transaction_ids._set_error(failure)
        self.assertEqual(failed.state, "failed")
        return failed

    def _choose_transfer(self, failed):
        """The customer posts the choice page's form: a refund awaiting approval."""
        failed.with_user(self.refund_manager).action_offer_payout()
        page = self.url_open(failed.get_portal_url(suffix="/payout"))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = self.url_open(
            f"/my/refunds/{failed.id}/payout",
            data={
                "csrf_token": csrf,
                "access_token": failed.access_token,
                "method": "bank_transfer",
                "holder": "Norbert Buyer",
                "iban": GOOD_IBAN,
                "bic": "",
            },
        )
        self.assertEqual(response.status_code, 200)
        new = failed.replacement_refund_ids
        self.assertEqual(new.state, "to_approve")
        return new

    def _approved_transfer(self, **kwargs):
        new = self._choose_transfer(self._failed_refund(**kwargs))
        new.with_user(self.refund_manager).action_approve()
        self.assertEqual(new.state, "pending")
        return new

    def _export(self, refunds, user=None):
        return refunds.with_user(user or self.refund_manager).action_export_sepa()

    def _file(self, refund):
        """The attachment of the SEPA file a refund was exported in, as a refund
        manager reads it."""
        export = refund.with_user(self.refund_manager).payout_export_id
        attachment = (
            self.env["ir.attachment"]
            .with_user(self.refund_manager)
            .search(
                [
                    ("res_model", "=", "payment.refund.payout.export"),
                    ("res_id", "=", export.id),
                    ("res_field", "=", "file"),
                ]
            )
        )
        self.assertEqual(len(attachment), 1)
        self.assertEqual(attachment.name, export.name)
        return attachment

    def _parse(self, attachment):
        """The file, validated against the schema sepaxml ships."""
        document = etree.fromstring(attachment.raw)
        self.schema.assertValid(document)
        return document

    def _chatter(self, refund):
        return " ".join(refund.message_ids.mapped("body"))

    # --- the SEPA file --- #

    def test_export_makes_a_valid_file_with_the_transfer(self):
        """An approved transfer exports as a pain.001.001.03 file that validates
        against the schema and carries the IBAN, amount, currency and the refund's
        number as end-to-end id, paid from the company's bank journal's IBAN."""
        new = self._approved_transfer()
        action = self._export(new)
        attachment = self._file(new)
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertEqual(action["url"], f"/web/content/{attachment.id}?download=true")
        document = self._parse(attachment)
        tx = document.find(".//p:CdtTrfTxInf", NS)
        self.assertEqual(tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS), new.name)
        amount = tx.find("p:Amt/p:InstdAmt", NS)
        self.assertEqual((amount.text, amount.get("Ccy")), ("40.00", "EUR"))
        self.assertEqual(
            tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS), IBAN_COMPACT
        )
        self.assertEqual(tx.findtext("p:Cdtr/p:Nm", namespaces=NS), "Norbert Buyer")
        self.assertEqual(
            document.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS),
            COMPANY_IBAN,
        )
        self.assertEqual(
            document.findtext(".//p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS),
            "PSSTFRPPXXX",
        )
        self.assertEqual(
            document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS), "40.00"
        )
        self.assertTrue(new.payout_export_date)
        self.assertEqual(new.state, "pending", "paid once the bank confirms it")
        # The chatter names the file, nothing of the IBAN.
        chatter = self._chatter(new)
        self.assertIn(new.sudo().payout_export_id.name, chatter)
        self.assertNotIn(IBAN_COMPACT, chatter)
        self.assertNotIn("3456", chatter)

    def test_one_file_for_the_selection_exported_once(self):
        """Two transfers go in one file (two transactions, their sum); exporting
        them again is refused: a second file would pay them twice."""
        first, second = self._approved_transfer(), self._approved_transfer()
        self._export(first | second)
        export = first.sudo().payout_export_id
        self.assertEqual(export, second.sudo().payout_export_id)
        self.assertEqual(export.refund_ids, first | second)
        document = self._parse(self._file(first))
        ids = document.xpath("//p:EndToEndId/text()", namespaces=NS)
        self.assertEqual(sorted(ids), sorted((first | second).mapped("name")))
        self.assertEqual(
            document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS), "80.00"
        )
        with self.assertRaisesRegex(UserError, "already exported"):
            self._export(second)

    def test_file_is_for_refund_managers_only(self):
        """A refund user reads neither the exported file (its attachment, its
        record) nor the refund's link to it; a refund manager downloads it."""
        new = self._approved_transfer()
        self._export(new)
        attachment = self._file(new)
        as_user = attachment.with_user(self.refund_user)
        with self.assertRaises(AccessError):
            as_user.read(["raw"])
        self.assertFalse(as_user.search([("id", "=", attachment.id)]))
        with self.assertRaises(AccessError):
            new.sudo().payout_export_id.with_user(self.refund_user).read(["name"])
        with self.assertRaises(AccessError):
            new.with_user(self.refund_user).read(["payout_export_id"])
        self.assertTrue(new.with_user(self.refund_user).payout_export_date)
        self.assertTrue(attachment.with_user(self.refund_manager).raw)

    def test_refund_user_cannot_export(self):
        """A refund user (not a manager) cannot export, over the ORM."""
        new = self._approved_transfer()
        with self.assertRaises(AccessError):
            self._export(new, user=self.refund_user)
        self.assertFalse(new.payout_export_date)

    def test_refunds_other_than_approved_transfers_are_refused(self):
        """A transfer awaiting approval and an ordinary refund are refused, and
        nothing of the selection is exported."""
        approved = self._approved_transfer()
        waiting = self._choose_transfer(self._failed_refund())
        # A bank transfer recorded by hand: not a payout the customer chose.
        ordinary = self._refund(
            self._create_paid_transaction(
                50.0, provider=self.dummy_provider, currency_id=self.currency_euro.id
            ),
            10.0,
            manual=True,
            manual_method="bank_transfer",
        )
        for refund in (waiting, ordinary):
            with self.subTest(state=refund.state):
                with self.assertRaisesRegex(UserError, "not an approved bank transfer"):
                    self._export(approved | refund)
        self.assertFalse(
            any((approved | waiting | ordinary).mapped("payout_export_date"))
        )

    def test_other_currency_is_refused(self):
        """A transfer in another currency than the euro is refused."""
        new = self._approved_transfer(currency=self.currency_usd)
        with self.assertRaisesRegex(UserError, "euros only"):
            self._export(new)
        self.assertFalse(new.payout_export_date)

    def test_company_without_a_bank_account_is_refused(self):
        """No bank journal with an account, or an account that is no IBAN: refused
        with a sentence saying what to set."""
        new = self._approved_transfer()
        self.bank_journal.bank_account_id = False
        with self.assertRaisesRegex(UserError, "no bank journal with a bank account"):
            self._export(new)
        self.bank_journal.bank_account_id = self.env["res.partner.bank"].create(
            {"acc_number": "123456789", "partner_id": self.env.company.partner_id.id}
        )
        with self.assertRaisesRegex(UserError, "is not an IBAN"):
            self._export(new)
        self.assertFalse(new.payout_export_date)

    # --- the confirmation, and what the customer's documents say --- #

    def test_confirmed_transfer_proof_mail_and_page(self):
        """Exported, then confirmed with the bank's reference: done. The proof PDF
        (its text) and the e-mail say the masked IBAN, the date, the reference and
        the failed card refund with its reason (escaped in the e-mail), never the
        IBAN; the public verification page says nothing of the IBAN."""
        new = self._approved_transfer(failure="Card <expired> & closed")
        self._export(new)
        new.with_user(self.refund_manager).action_confirm_transfer(REFERENCE)
        self.assertEqual(new.state, "done")
        failed = new.replaced_refund_id
        date = new._format_proof_datetime(new.refund_date)
        line = new._get_payout_proof_line()
        self.assertEqual(
            line,
            f"Paid by bank transfer to {MASKED} on {date}, bank reference "
            f"{REFERENCE}. Replaces refund {failed.name} to "
            f"{failed.payment_method_display}, which failed: Card <expired> & "
            "closed.",
        )
        self.assertEqual(mask_iban(IBAN_COMPACT), MASKED)

        pdf, _kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(REPORT, new.ids)
        )
        text = re.sub(r"\s", "", pdf_to_text(pdf))
        for fact in (MASKED, date, REFERENCE, failed.name, "Card<expired>&closed"):
            with self.subTest(fact=fact):
                self.assertIn(re.sub(r"\s", "", fact), text)
        self.assertNotIn(IBAN_COMPACT, text)
        self.assertNotIn("34567890", text)

        self._run_mail_cron()
        mail = self._customer_mails(new)
        self.assertEqual(len(mail), 1)
        self.assertIn(f"bank transfer to {MASKED}", mail.body_html)
        self.assertIn(REFERENCE, mail.body_html)
        self.assertIn("Card &lt;expired&gt; &amp; closed", mail.body_html)
        self.assertNotIn("<expired>", mail.body_html)
        self.assertNotIn(IBAN_COMPACT, mail.body_html)
        self.assertNotIn("Refunded to:", mail.body_html)

        page = self.url_open(new.verification_url)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Genuine", page.text)
        for private in ("FR76", "0189", "••••", "bank transfer to", "<expired>"):
            with self.subTest(private=private):
                self.assertNotIn(private, page.text)

    def test_ordinary_refund_has_no_payout_line(self):
        """An ordinary refund, and a transfer not confirmed yet, have no line."""
        new = self._approved_transfer()
        self.assertEqual(new._get_payout_proof_line(), "")
        self.assertEqual(new.replaced_refund_id._get_payout_proof_line(), "")

    def test_pending_alert_says_the_transfer_waits_for_its_confirmation(self):
        """A transfer pending too long alerts the managers that it waits for the
        bank transfer's confirmation, not for the provider."""
        new = self._approved_transfer()
        later = fields.Datetime.now() + timedelta(days=10)
        with freeze_time(later):
            self.env["payment.refund"]._cron_alert_stuck_pending()
        summaries = new.sudo().activity_ids.mapped("summary")
        self.assertTrue(summaries)
        for summary in summaries:
            self.assertIn("waiting for the bank transfer's confirmation", summary)
            self.assertNotIn("provider", summary)

    def test_proof_line_and_mail_in_the_customer_language(self):
        """A French customer's proof line and e-mail say it in French."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["refund_proof"], ["fr_FR"], overwrite=True
        )
        self.partner.lang = "fr_FR"
        new = self._approved_transfer()
        new.with_user(self.refund_manager).action_confirm_transfer(REFERENCE)
        line = new.with_context(lang="fr_FR")._get_payout_proof_line()
        self.assertTrue(
            line.startswith(f"Payé par virement bancaire sur le compte {MASKED} le ")
        )
        self.assertIn("qui a échoué : expired or canceled card.", line)
        self._run_mail_cron()
        mail = self._customer_mails(new)
        self.assertIn("Payé par virement bancaire", mail.body_html)
        self.assertNotIn("Remboursé sur", mail.body_html)
