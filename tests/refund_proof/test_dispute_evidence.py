"""Answering a dispute (issue 13): the evidence pack states every fact the merchant's
records hold (checked on its HTML, and as the text of a real PDF), the dispute form
says when a credit was already processed, the customer's e-mails come from Odoo's
mail queue and their portal downloads are counted, and the refund managers and the
failure address are told of new disputes and of responses due within two days.

Submitting the pack to Stripe is tested in
tests/refund_proof_stripe/test_dispute_stripe_evidence.py.
"""

from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..pdf_text import pdf_to_text
from .test_refund_mail import MailCase
from .test_refund_proof import VALID_ARN

EVIDENCE = "refund_proof.action_report_dispute_evidence"
POLICY = "Returns within 30 days.\nRefunds to the original card within 5 days."


class EvidenceCase(MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {
                "refund_policy_text": POLICY,
                "refund_failure_email": "payments@myshop.example",
            }
        )
        cls.portal_partner.write(
            {"email": "norbert@example.com", "name": "Norbert Buyer"}
        )
        cls.customer_token = cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.provider.payment_method_ids[:1].id,
                "partner_id": cls.portal_partner.id,
                "payment_details": "4242",
                "provider_ref": "demo-token-portal",
            }
        )

    def _paid(self, amount=100.0):
        return self._create_paid_transaction(
            amount, partner_id=self.portal_partner.id, token_id=self.customer_token.id
        )

    def _dispute(self, tx, **values):
        return tx._refund_proof_upsert_dispute(
            {
                "provider_reference": "du_EVIDENCE1",
                "card_network": "visa",
                "reason_code": "13.6",
                "evidence_due_date": datetime(2030, 1, 31, 23, 59),
                **values,
            }
        ).with_env(self.env)

    def _evidence_html(self, dispute, user=None):
        report = self.env["ir.actions.report"]
        if user:
            report = report.with_user(user)
        html, _kind = report._render_qweb_html(EVIDENCE, dispute.ids)
        return html.decode()

    def _todos(self, record, user=None):
        todo = self.env.ref("mail.mail_activity_data_todo")
        record.invalidate_recordset(["activity_ids"])
        # In sudo mode: the test's admin is no refund user, and activities are
        # searched as their documents are readable.
        return record.sudo().activity_ids.filtered(
            lambda a: a.activity_type_id == todo and (not user or a.user_id == user)
        )

    def _failure_mails(self, record):
        return (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("email_to", "=", "payments@myshop.example"),
                ]
            )
        )


@tagged("-at_install", "post_install")
class TestDisputeEvidence(EvidenceCase):
    def test_pack_states_every_fact(self):
        """The pack states the dispute, the payment, the refund with its date and
        time, ARN, issued proof's fingerprint and verification URL, the customer's
        e-mail from the mail queue (sent, to whom, when), their portal download
        with its date, the merchant's contacts and refund policy."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0, reason=self.reason_customer, arn=VALID_ARN)
        self._run_mail_cron()
        mail = self._customer_mails(refund)
        with self.mock_mail_gateway():
            mail.send()
        self.assertEqual(mail.state, "sent")
        proof = refund._get_current_proof()
        self.assertTrue(proof, "the mail cron issued the proof")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(f"/my/refunds/{refund.id}?report_type=pdf&download=1")
        self.assertEqual(response.content, proof.attachment_id.raw)
        self.assertEqual(proof.download_count, 1)
        dispute = self._dispute(tx, amount=100.0)

        html = self._evidence_html(dispute)
        for fact in (
            "Myshop SAS",
            dispute.name,
            "du_EVIDENCE1",
            "Visa 13.6 — Credit not processed",
            "Chargeback",
            "Needs Response",
            tx.reference,
            "Norbert Buyer",
            "norbert@example.com",
            refund.name,
            "40.00",
            "100.00",
            "7 461234 5678 90123456789 3",  # the ARN as the proof prints it
            proof.sha256,
            refund.verification_url,
            mail.subject,
            "Sent",
            "help@myshop.example",
            "+33 1 23 45 67 89",
            "https://myshop.example/contact",
            "Returns within 30 days.",
            "Refunds to the original card within 5 days.",
            "MYSHOP.EXAMPLE",
            "Credit already processed.",
        ):
            self.assertIn(fact, html)
        # Dates and times as the pack states them: in the company's time zone.
        self.assertIn(dispute._format_dispute_datetime(refund.refund_date), html)
        self.assertIn(dispute._format_dispute_datetime(mail.write_date), html)
        self.assertIn(
            dispute._format_dispute_datetime(proof.download_ids.download_date), html
        )
        self.assertIn(dispute._format_dispute_datetime(dispute.evidence_due_date), html)
        self.assertIn(mail.recipient_ids.email, html)

    def test_pack_printed_before_the_mail_cron_issues_the_proof(self):
        """A pack printed right after a refund, before the mail cron issued its proof,
        still names the refund's proof: its fingerprint and verification page (the
        proof is issued for the pack, once; the cron then e-mails that version)."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0, reason=self.reason_customer)
        self.assertFalse(refund.proof_ids, "the premise: the cron has not run")
        dispute = self._dispute(tx)
        # Real PDFs, as outside tests (the proof is rendered with the pack).
        html, _kind = (
            self.env["ir.actions.report"]
            .with_user(self.refund_user)
            .with_context(force_report_rendering=True)
            ._render_qweb_html(EVIDENCE, dispute.ids)
        )
        html = html.decode()
        proof = refund._get_current_proof()
        self.assertTrue(proof, "issued for the pack")
        self.assertIn(proof.sha256, html)
        self.assertIn(refund.verification_url, html)
        self._run_mail_cron()
        self.assertEqual(refund.proof_ids, proof, "no second version for the e-mail")

    def test_values_of_customers_and_providers_are_escaped(self):
        """A customer's name, a provider's reason and the merchant's policy are
        printed as text, never as markup."""
        self.portal_partner.name = "<b>Evil</b> Buyer"
        self.env.company.refund_policy_text = "<script>alert(1)</script>"
        tx = self._paid()
        self._refund(tx, 10.0)
        dispute = self._dispute(
            tx, reason_code=False, provider_reason="<img src=x onerror=alert(2)>"
        )
        html = self._evidence_html(dispute)
        self.assertNotIn("<script>alert(1)", html)
        self.assertNotIn("<img src=x", html)
        self.assertNotIn("<b>Evil</b>", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)

    def test_a_refund_after_the_dispute_is_no_credit_processed_before_it(self):
        """Only refunds done before the dispute was opened are "credit already
        processed"; the form's banner says when, the pack lists every refund."""
        tx = self._paid(100.0)
        before = self._refund(tx, 30.0)
        dispute = self._dispute(tx, kind="inquiry")
        self.assertEqual(dispute.credit_processed_date, before.refund_date)
        self.assertEqual(dispute.credit_processed_amount, 30.0)
        letter = (
            self.env["payment.dispute"]
            .with_user(self.refund_manager)
            .create(
                {
                    "source_transaction_id": self._paid(50.0).id,
                    "amount": 50.0,
                    "kind": "inquiry",
                    "opened_date": fields.Datetime.now() - timedelta(days=3),
                }
            )
        )
        self._refund(letter.source_transaction_id, 50.0)  # Ends the inquiry.
        self.assertEqual(letter.state, "closed")
        self.assertFalse(letter.credit_processed_date)
        html = self._evidence_html(letter)
        self.assertNotIn("Credit already processed.", html)
        self.assertIn(letter.refund_ids.name, html)

    def test_pack_is_a_real_pdf_with_its_facts_as_text(self):
        """wkhtmltopdf renders the pack; its text holds the dispute, the refund and
        its ARN."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0, arn=VALID_ARN)
        refund.with_context(force_report_rendering=True)._ensure_proof()
        dispute = self._dispute(tx)
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(EVIDENCE, dispute.ids)
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        text = pdf_to_text(pdf, layout=True)
        for fact in (dispute.name, refund.name, "7 461234 5678 90123456789 3"):
            self.assertIn(fact, text)
        self.assertIn("Dispute evidence", text)

    def test_print_action_and_who_may_print(self):
        """Refund users and managers print the pack; a user of another company and a
        portal customer cannot."""
        tx = self._paid()
        self._refund(tx, 10.0)
        dispute = self._dispute(tx)
        action = dispute.with_user(self.refund_user).action_print_evidence()
        self.assertEqual(action["report_name"], "refund_proof.report_dispute_evidence")
        self.assertIn(dispute.name, self._evidence_html(dispute, self.refund_user))
        self.assertIn(dispute.name, self._evidence_html(dispute, self.refund_manager))
        other_company = self.env["res.company"].create({"name": "Other Shop"})
        outsider = new_test_user(
            self.env,
            login="evidence_outsider",
            groups="base.group_user,refund_proof.group_refund_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        for user in (outsider, self.portal_user, self.plain_user):
            with self.assertRaises(AccessError):
                self._evidence_html(dispute, user)

    def test_submit_needs_a_provider_that_receives_evidence(self):
        """Odoo's demo provider (like a bank letter) cannot receive evidence: the
        button is hidden and the server refuses, recording nothing."""
        tx = self._paid()
        dispute = self._dispute(tx)
        self.assertFalse(dispute.can_submit_evidence)
        with self.assertRaises(UserError):
            dispute.with_user(self.refund_manager).action_submit_evidence()
        with self.assertRaises(AccessError):
            dispute.with_user(self.refund_user).action_submit_evidence()
        self.assertFalse(dispute.evidence_submit_date)
        self.assertEqual(dispute.state, "needs_response")
        for field, value in (
            ("evidence_submit_date", fields.Datetime.now()),
            ("evidence_submission", "evidence[receipt]: file_x"),
            ("deadline_alert_date", fields.Datetime.now()),
        ):
            with self.assertRaises(AccessError):
                dispute.with_user(self.refund_manager).write({field: value})

    # --- portal downloads --- #

    def test_downloads_by_the_customer_and_through_the_link(self):
        """A back-office preview through the portal route is not a download; the
        customer signed in and a holder of the e-mailed link are told apart; reloading
        within ten minutes does not count again, later it does."""
        tx = self._paid()
        refund = self._refund(tx, 10.0)
        proof = refund.with_context(force_report_rendering=True)._ensure_proof()
        self.authenticate("admin", "admin")
        self.url_open(f"/my/refunds/{refund.id}?report_type=pdf&download=1")
        self.assertEqual(proof.download_count, 0)
        refund._portal_ensure_token()
        self.authenticate(None, None)
        url = (
            f"/my/refunds/{refund.id}?access_token={refund.access_token}"
            "&report_type=pdf&download=1"
        )
        self.assertEqual(self.url_open(url).content, proof.attachment_id.raw)
        self.url_open(url)
        other = new_test_user(
            self.env, login="another_customer", groups="base.group_portal"
        )
        self.authenticate(other.login, other.login)
        self.url_open(url)  # Another customer holding the link: the link's.
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self.url_open(f"/my/refunds/{refund.id}?report_type=pdf&download=1")
        self.url_open(f"/my/refunds/{refund.id}?report_type=pdf")
        self.assertEqual(proof.download_ids.mapped("channel"), ["link", "customer"])
        proof.download_ids.write(
            {"download_date": fields.Datetime.now() - timedelta(minutes=11)}
        )
        self.url_open(f"/my/refunds/{refund.id}?report_type=pdf")
        self.assertEqual(
            proof.download_ids.mapped("channel"), ["link", "customer", "customer"]
        )
        html = self._evidence_html(self._dispute(tx))
        self.assertIn("By the customer, signed in", html)
        self.assertIn("Through the e-mailed link", html)

    def test_proofs_and_downloads_of_another_company_are_invisible(self):
        """Issued proofs and their downloads follow the companies of the reader."""
        tx = self._paid()
        refund = self._refund(tx, 10.0)
        proof = refund.with_context(force_report_rendering=True)._ensure_proof()
        proof._log_download(self.portal_user)
        other_company = self.env["res.company"].create({"name": "Other Shop"})
        outsider = new_test_user(
            self.env,
            login="proof_outsider",
            groups="base.group_user,refund_proof.group_refund_user",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        for model in ("payment.refund.proof", "payment.refund.proof.download"):
            self.assertFalse(self.env[model].with_user(outsider).search([]))
        self.assertEqual(
            self.env["payment.refund.proof"]
            .with_user(self.refund_user)
            .search([("id", "=", proof.id)]),
            proof,
        )

    # --- alerts --- #

    def test_new_dispute_alerts_managers_and_failure_address(self):
        """A new dispute gives each refund manager a to-do and e-mails the failure
        address, the customer's name escaped."""
        self.portal_partner.name = "<i>Norbert</i>"
        tx = self._paid()
        dispute = self._dispute(tx)
        self.assertTrue(self._todos(dispute, self.refund_manager))
        mail = self._failure_mails(dispute)
        self.assertEqual(len(mail), 1)
        self.assertIn(dispute.name, mail.subject)
        self.assertIn("&lt;i&gt;Norbert&lt;/i&gt;", mail.body_html)
        self.assertIn("Visa 13.6", mail.body_html)

    def test_deadline_alert_two_days_ahead_once_per_due_date(self):
        """The deadline cron tells the managers (a to-do due that day) and the
        failure address of responses due within two days, once; a new due date
        gets its own alert; answered disputes get none."""
        now = datetime(2030, 1, 10, 8, 0)
        tx = self._paid()
        soon = self._dispute(tx, evidence_due_date=now + timedelta(days=1, hours=20))
        later = self._dispute(
            self._paid(),
            provider_reference="du_LATER",
            evidence_due_date=now + timedelta(days=5),
        )
        answered = self._dispute(
            self._paid(),
            provider_reference="du_ANSWERED",
            evidence_due_date=now + timedelta(hours=5),
        )
        answered.with_user(self.refund_manager).action_mark_under_review()
        disputes = soon | later | answered
        (disputes.activity_ids).unlink()
        self._failure_mails(soon).unlink()
        cron = self.env["payment.dispute"]._cron_alert_dispute_deadlines
        with patch.object(fields.Datetime, "now", return_value=now):
            cron()
        todo = self._todos(soon, self.refund_manager)
        self.assertEqual(len(todo), 1)
        self.assertEqual(todo.date_deadline, soon.evidence_due_date.date())
        self.assertIn(soon.name, todo.summary)
        self.assertEqual(len(self._failure_mails(soon)), 1)
        self.assertFalse(self._todos(later) | self._todos(answered))
        with patch.object(
            fields.Datetime, "now", return_value=now + timedelta(hours=1)
        ):
            cron()
        self.assertEqual(len(self._todos(soon)), 1, "once per due date")
        soon.with_user(self.refund_manager).evidence_due_date = now + timedelta(days=1)
        self.assertFalse(soon.deadline_alert_date)
        with patch.object(
            fields.Datetime, "now", return_value=now + timedelta(hours=2)
        ):
            cron()
        self.assertEqual(len(self._todos(soon, self.refund_manager)), 2)
        with patch.object(fields.Datetime, "now", return_value=now + timedelta(days=3)):
            cron()
        self.assertEqual(len(self._todos(later, self.refund_manager)), 1)
