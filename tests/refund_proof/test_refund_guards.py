"""Guards of the proof of refund as a document, of what the back office is told, of
refunds stuck pending and of the ARN rules.

A. An issued proof is a document, not a render: it is rendered once per version (the
   refund done, its ARN known or corrected) by the mail cron, stored with its SHA-256,
   and every later print, portal download and e-mail serves that stored file.
B. Everything the back office reads about a failed refund (e-mail, activities, chatter)
   shows customer and provider values as text, never as markup.
C. A refund left pending by a provider whose final notification never comes does not
   hold its amount forever: managers are alerted after some days, and settle it.
D. The ARN is filled once by refund users; only managers correct it, the old value kept;
   no refund that is not (or no longer) done gets one.
"""

import hashlib
import socket
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import freeze_time, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.refund_proof.utils import format_arn

from ..refund_factories import RefundProofCommon
from .test_refund_mail import MailCase
from .test_refund_proof import REPORT, VALID_ARN, ProofCommon

OTHER_ARN = "24500006000123456789017"  # Also a valid ARN (Luhn), not VALID_ARN.
ISSUED = "This PDF is one that the merchant issued."


class ProofDocumentCase(MailCase):
    """Helpers to compare what is served with what was issued."""

    def _counts(self):
        """(issued proofs, PDF or refund attachments), counted as superuser."""
        return (
            self.env["payment.refund.proof"].sudo().search_count([]),
            self.env["ir.attachment"]
            .sudo()
            .search_count(
                [
                    "|",
                    ("res_model", "=", "payment.refund"),
                    ("mimetype", "=", "application/pdf"),
                ]
            ),
        )

    @contextmanager
    def _reports_rendered_as_in_production(self):
        """Let report PDFs be rendered inside HTTP requests as in production.

        In test mode Odoo replaces every PDF rendering by the report's HTML unless the
        context says `force_report_rendering`: without this, a download that renders
        instead of serving the stored proof would still "return" something, but not
        what production returns. The request holds the test cursor, so wkhtmltopdf
        must not fetch the report's CSS from this same server (that request would wait
        for the cursor forever): `report.url` points to a port that refuses
        connections meanwhile, and a rendering takes a second, unstyled (wkhtmltopdf
        then warns of the refused connection: muted, the assertions tell).
        """
        Report = self.registry["ir.actions.report"]
        render = Report._render_qweb_pdf

        def render_for_real(report, report_ref, res_ids=None, data=None):
            return render(
                report.with_context(force_report_rendering=True),
                report_ref,
                res_ids=res_ids,
                data=data,
            )

        params = self.env["ir.config_parameter"].sudo()
        report_url = params.get_param("report.url")
        with (
            socket.socket() as refusing,
            patch.object(Report, "_render_qweb_pdf", render_for_real),
            mute_logger("odoo.addons.base.models.ir_actions_report"),
        ):
            refusing.bind(("127.0.0.1", 0))  # Bound, never listening: refused.
            params.set_param(
                "report.url", f"http://127.0.0.1:{refusing.getsockname()[1]}"
            )
            try:
                yield
            finally:
                params.set_param("report.url", report_url)

    def _download(self, refund):
        """The proof as the link of the customer's e-mail downloads it (no account)."""
        refund._portal_ensure_token()
        with self._reports_rendered_as_in_production():
            return self.url_open(
                f"/my/refunds/{refund.id}?access_token={refund.access_token}"
                "&report_type=pdf&download=1",
                timeout=60,
            )

    def _assert_served_as_issued(self, response, proof):
        """The response is the stored PDF of `proof`, byte for byte, and the public
        verification page recognises it."""
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers.get("Content-Type"), "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"), "a PDF, not HTML")
        digest = hashlib.sha256(response.content).hexdigest()
        self.assertEqual(digest, proof.sha256, "the issued proof, not a new render")
        self.assertEqual(response.content, proof.attachment_id.raw)
        page = self.url_open(f"{proof.refund_id.verification_url}?sha256={digest}")
        self.assertIn(ISSUED, page.text)


@tagged("-at_install", "post_install")
class TestIssuedProofIsADocument(ProofDocumentCase):
    """A proof is issued once per version; prints, downloads and e-mails serve it."""

    def test_back_office_prints_are_the_issued_proof(self):
        """Printing a proof from the back office returns the issued PDF, twice the
        same, and stores nothing: a print is not a new version of the proof."""
        refund = self._done_refund()
        self._run_mail_cron()
        self.assertEqual(len(refund.proof_ids), 1, "issued once, when done")
        proof = refund.proof_ids
        [mail] = self._customer_mails(refund)
        self.assertEqual(mail.attachment_ids, proof.attachment_id, "e-mailed as issued")
        self.assertEqual(
            hashlib.sha256(proof.attachment_id.raw).hexdigest(), proof.sha256
        )
        before = self._counts()
        Report = (
            self.env["ir.actions.report"]
            .with_user(self.refund_user)
            .with_context(force_report_rendering=True)
        )
        for attempt in (1, 2):
            with self.subTest(print=attempt):
                pdf, kind = Report._render_qweb_pdf(REPORT, refund.ids)
                self.assertEqual(kind, "pdf")
                self.assertEqual(hashlib.sha256(pdf).hexdigest(), proof.sha256)
                self.assertEqual(pdf, proof.attachment_id.raw)
        self.assertEqual(self._counts(), before, "no proof nor attachment stored")
        self.assertEqual(refund.proof_ids, proof)

    def test_portal_downloads_are_the_issued_proof(self):
        """Two downloads by the e-mail's link return the issued PDF byte for byte
        (the one the verification page recognises) and store nothing: a download is
        not a new version of the proof (each one used to store a new ~0.9 MB PDF with
        another hash)."""
        refund = self._done_refund(arn=VALID_ARN)
        self._run_mail_cron()
        self.assertEqual(len(refund.proof_ids), 1)
        proof = refund.proof_ids
        self.assertEqual(proof.arn, VALID_ARN)
        before = self._counts()
        first = self._download(refund)
        self._assert_served_as_issued(first, proof)
        second = self._download(refund)
        self._assert_served_as_issued(second, proof)
        self.assertEqual(first.content, second.content)
        self.assertEqual(self._counts(), before, "no proof nor attachment stored")

    def test_portal_download_before_the_proof_is_issued_serves_nothing(self):
        """Until the cron has issued the proof, a download neither returns a PDF nor
        renders and stores one: the issued proof is the only one there is. Once
        issued, that one is served."""
        refund = self._done_refund()
        before = self._counts()
        response = self._download(refund)
        self.assertLess(response.status_code, 500)
        self.assertFalse(response.content.startswith(b"%PDF"), "no PDF served")
        self.assertNotEqual(response.headers.get("Content-Type"), "application/pdf")
        self.assertEqual(self._counts(), before, "nothing rendered and stored")
        self.assertFalse(refund.proof_ids)
        self._run_mail_cron()
        self.assertEqual(len(refund.proof_ids), 1)
        self._assert_served_as_issued(self._download(refund), refund.proof_ids)

    def test_arn_arriving_issues_a_new_version_that_downloads_serve(self):
        """The ARN known later is a new version of the proof: the cron issues it
        (two proofs, the new one with the ARN) and downloads serve that one."""
        refund = self._done_refund()
        self._run_mail_cron()
        first = refund.proof_ids
        self.assertEqual(len(first), 1)
        self.assertFalse(first.arn)
        refund.with_user(self.refund_user).arn = VALID_ARN
        self._run_mail_cron()
        self.assertEqual(len(refund.proof_ids), 2, "one proof per version")
        current = refund.proof_ids - first
        self.assertEqual(current.arn, VALID_ARN)
        before = self._counts()
        response = self._download(refund)
        self._assert_served_as_issued(response, current)
        self.assertNotEqual(response.content, first.attachment_id.raw)
        self.assertEqual(self._counts(), before)

    def test_current_proof_is_the_issued_proof_of_the_current_version(self):
        """`_get_current_proof()` is empty until the cron issues the refund's proof,
        then that proof; an ARN arriving makes it empty again until its version is
        issued, then the new one (the one with the refund's ARN)."""
        refund = self._done_refund()
        self.assertFalse(refund._get_current_proof(), "not issued inside the refund")
        self._run_mail_cron()
        first = refund._get_current_proof()
        self.assertEqual(first, refund.proof_ids)
        self.assertEqual(len(first), 1)
        refund.with_user(self.refund_user).arn = VALID_ARN
        self.assertFalse(refund._get_current_proof(), "this version is not issued yet")
        self._run_mail_cron()
        current = refund._get_current_proof()
        self.assertEqual(current, refund.proof_ids - first)
        self.assertEqual(current.arn, refund.arn)


@tagged("-at_install", "post_install")
class TestBackOfficeNoticesAreEscaped(ProofCommon):
    """What a customer or a provider wrote reaches the back office as text."""

    CUSTOMER = "<img src=x onerror=alert(1)>Eve"
    PROVIDER_MESSAGE = '<script>alert("x")</script>'

    def _failed_refund(self):
        self.env.company.refund_failure_email = "payments@myshop.example"
        self.partner.name = self.CUSTOMER
        refund = self._done_refund()
        self.assertEqual(refund.partner_id.name, self.CUSTOMER)
        self.env.flush_all()
        self.env.cr.precommit.run()  # The done refund's tracking, before the failure.
        messages_before = refund.message_ids
        # The provider reports the done refund failed, with its own message.
        refund.transaction_ids._set_error(
            self.PROVIDER_MESSAGE, extra_allowed_states=("done",)
        )
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.assertEqual(refund.state, "failed")
        self.assertEqual(refund.failure_message, self.PROVIDER_MESSAGE)
        return refund, refund.message_ids - messages_before

    def _assert_escaped(self, html, what):
        html = str(html or "")
        self.assertNotIn("<script", html, what)
        self.assertNotIn("<img", html, what)

    def test_failure_email_escapes_customer_and_provider_values(self):
        """The e-mail to the failure address shows the customer's name and the
        provider's message as text: a name or a message is no markup to run in the
        mailbox of the payments team."""
        refund, _messages = self._failed_refund()
        alert = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("email_to", "=", "payments@myshop.example"),
                    ("model", "=", "payment.refund"),
                    ("res_id", "=", refund.id),
                ]
            )
        )
        self.assertEqual(len(alert), 1)
        body = alert.body_html
        self._assert_escaped(body, "raw markup in the failure e-mail")
        self.assertIn("&lt;script&gt;alert(", body, "the message, shown as text")
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;Eve", body, "the name")
        self.assertIn(refund.name, body)

    def test_back_office_activities_escape_the_provider_message(self):
        """The activities telling requester and managers about the failure show the
        provider's message as text, not stripped or interpreted as markup."""
        refund, _messages = self._failed_refund()
        activities = refund.sudo().activity_ids
        self.assertIn(self.refund_user, activities.user_id)
        self.assertIn(self.refund_manager, activities.user_id)
        for activity in activities:
            with self.subTest(user=activity.user_id.name):
                self._assert_escaped(activity.note, "raw markup in the activity")
                self.assertIn("&lt;script&gt;alert(", str(activity.note))

    def test_failure_chatter_shows_no_markup_from_outside(self):
        """The messages the refund posts on failure carry no markup from the
        customer or the provider; what they quote of them is text."""
        refund, messages = self._failed_refund()
        self.assertTrue(messages, "the failure is in the chatter")
        for message in messages:
            with self.subTest(message=message.id):
                body = str(message.body or "")
                self._assert_escaped(body, "raw markup in the chatter")
                if "alert(" in body:
                    self.assertIn("&lt;", body, "quoted as text, not as markup")


@tagged("-at_install", "post_install")
class TestStuckPendingRefunds(RefundProofCommon):
    """A pending refund whose final notification never comes is alerted and settled."""

    def _provider_pending_refund(self, amount=40.0):
        """A refund the provider reports as pending (its webhook creating the refund
        transaction, as provider glue does), on a payment of 100.00."""
        tx = self._create_paid_transaction(100.0)
        tx.sudo()._create_child_transaction(amount, is_refund=True)
        refund = tx.refund_ids
        self.assertEqual(len(refund), 1)
        self.assertRecordValues(
            refund,
            [{"origin": "provider", "state": "pending", "outcome_unknown": False}],
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0 - amount, msg="held")
        return tx, refund

    def _chatter(self, refund):
        return " ".join(str(body) for body in refund.message_ids.mapped("body"))

    def _alerts(self, refund):
        todo = self.env.ref("mail.mail_activity_data_todo")
        return refund.sudo().activity_ids.filtered(lambda a: a.activity_type_id == todo)

    def _company_managers(self, refund):
        return self.env.ref("refund_proof.group_refund_manager").users.filtered(
            lambda u: u.active and not u.share and refund.company_id in u.company_ids
        )

    def _run_alert_cron_at(self, when):
        with freeze_time(when):
            self.env["payment.refund"]._cron_alert_stuck_pending()
        self.env.invalidate_all()

    def test_manager_marks_a_pending_provider_refund_not_refunded(self):
        """A refund manager who did not find the refund in the provider's dashboard
        fails it: its amount is freed, their note is in the chatter."""
        tx, refund = self._provider_pending_refund()
        refund.with_user(self.refund_manager).action_mark_not_refunded(
            note="Not in the Stripe dashboard"
        )
        self.assertEqual(refund.state, "failed")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")
        self.assertIn("Not in the Stripe dashboard", self._chatter(refund))
        self.assertFalse(refund.customer_mail_pending, "nothing to tell the customer")

    def test_manager_marks_a_pending_provider_refund_refunded(self):
        """A refund manager who found the refund in the provider's dashboard makes it
        done: the customer's e-mail is scheduled, their note is in the chatter."""
        tx, refund = self._provider_pending_refund()
        refund.with_user(self.refund_manager).action_mark_refunded(
            note="Seen in the dashboard"
        )
        self.assertRecordValues(
            refund, [{"state": "done", "customer_mail_pending": "done"}]
        )
        self.assertTrue(refund.refund_date)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
        self.assertIn("Seen in the dashboard", self._chatter(refund))

    def test_refund_user_cannot_settle_a_pending_refund(self):
        """Deciding the outcome of a refund is a manager's: a refund user gets an
        access error either way, and the refund stays pending."""
        tx, refund = self._provider_pending_refund()
        as_user = refund.with_user(self.refund_user)
        with self.assertRaises(AccessError):
            as_user.action_mark_not_refunded(note="Not in the Stripe dashboard")
        with self.assertRaises(AccessError):
            as_user.action_mark_refunded(note="Seen in the dashboard")
        self.assertEqual(refund.state, "pending")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_alert_delay_is_a_company_setting_of_seven_days(self):
        """The alert delay is the company's, 7 days by default, set in Settings."""
        self.assertEqual(self.env.company.refund_pending_alert_days, 7)
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.refund_pending_alert_days, 7)
        settings.refund_pending_alert_days = 3
        settings.execute()
        self.assertEqual(self.env.company.refund_pending_alert_days, 3)
        cron = self.env.ref("refund_proof.ir_cron_refund_pending_alert")
        self.assertEqual(cron.model_id.model, "payment.refund")
        self.assertIn("_cron_alert_stuck_pending", cron.code)
        self.assertTrue(cron.active)

    def test_refund_pending_too_long_alerts_each_manager_once(self):
        """A refund pending for longer than the delay gets one to-do activity per
        refund manager of the company, and only one however often the cron runs;
        a recent one, or a done one, gets none."""
        _tx, stuck = self._provider_pending_refund()
        _tx, done = self._provider_pending_refund()
        done.sudo().transaction_ids._set_done()
        self.assertEqual(done.state, "done")
        self.assertFalse(self._alerts(stuck) | self._alerts(done))
        managers = self._company_managers(stuck)
        self.assertIn(self.refund_manager, managers)
        now = fields.Datetime.now()

        self._run_alert_cron_at(now + timedelta(days=2))
        self.assertFalse(self._alerts(stuck), "2 days pending: not stuck yet")

        cron = self.env.ref("refund_proof.ir_cron_refund_pending_alert")
        with freeze_time(now + timedelta(days=8)):
            cron.method_direct_trigger()
        self.env.invalidate_all()
        alerts = self._alerts(stuck)
        self.assertEqual(alerts.user_id, managers)
        self.assertEqual(len(alerts), len(managers), "one each")
        self.assertNotIn(self.refund_user, alerts.user_id)
        self.assertFalse(self._alerts(done), "a done refund is not stuck")

        self._run_alert_cron_at(now + timedelta(days=8))
        self._run_alert_cron_at(now + timedelta(days=9))
        self.assertEqual(self._alerts(stuck), alerts, "alerted once")

    def test_alert_delay_follows_the_company_setting(self):
        """With the delay set to 3 days, a refund pending for 4 days is alerted."""
        self.env.company.refund_pending_alert_days = 3
        _tx, refund = self._provider_pending_refund()
        managers = self._company_managers(refund)
        now = fields.Datetime.now()
        self._run_alert_cron_at(now + timedelta(days=2))
        self.assertFalse(self._alerts(refund), "2 days: within the 3 days")
        self._run_alert_cron_at(now + timedelta(days=4))
        alerts = self._alerts(refund)
        self.assertEqual(alerts.user_id, managers)
        self.assertEqual(len(alerts), len(managers))


@tagged("-at_install", "post_install")
class TestArnRulesInTheOrm(MailCase):
    """Who may fill or change the ARN, on which refunds, and what is kept of it."""

    def _arn_history(self, refund):
        """(old, new) ARN values tracked in the refund's chatter, and its text."""
        self.env.flush_all()
        self.env.cr.precommit.run()  # Tracking values are written before the commit.
        tracked = (
            self.env["mail.tracking.value"]
            .sudo()
            .search(
                [
                    ("mail_message_id", "in", refund.message_ids.ids),
                    ("field_id.name", "=", "arn"),
                ]
            )
        )
        changes = [(t.old_value_char or False, t.new_value_char) for t in tracked]
        text = " ".join(str(body) for body in refund.message_ids.mapped("body"))
        return changes, text

    def test_refund_user_fills_a_missing_arn_but_cannot_replace_it(self):
        """Any refund user adds the ARN the bank gives days later; replacing an ARN
        already given is a correction, not theirs to make."""
        refund = self._done_refund()
        as_user = refund.with_user(self.refund_user)
        as_user.arn = VALID_ARN
        self.assertEqual(refund.arn, VALID_ARN)
        with self.assertRaises(UserError):  # AccessError is a UserError too.
            as_user.arn = OTHER_ARN
        refund.invalidate_recordset()
        self.assertEqual(refund.arn, VALID_ARN, "unchanged")

    def test_manager_corrects_an_arn_old_value_kept_customer_told(self):
        """A refund manager corrects a wrong ARN: the old value stays in the chatter
        and the customer gets a new "bank reference" e-mail."""
        refund = self._done_refund()
        self._run_mail_cron()  # The refund's e-mail is sent.
        refund.with_user(self.refund_user).arn = VALID_ARN
        self._run_mail_cron()  # The ARN's e-mail is sent.
        self.assertFalse(refund.customer_mail_pending)
        refund.with_user(self.refund_manager).arn = OTHER_ARN
        self.assertEqual(refund.arn, OTHER_ARN)
        self.assertEqual(refund.customer_mail_pending, "arn")
        changes, text = self._arn_history(refund)
        self.assertTrue(
            (VALID_ARN, OTHER_ARN) in changes
            or VALID_ARN in text
            or format_arn(VALID_ARN) in text,
            f"the replaced ARN is kept in the chatter: {changes}",
        )

    def test_no_arn_on_failed_or_cancelled_refunds(self):
        """A refund that failed (here: reversed by the provider) or was cancelled
        returned no money: nobody, manager included, gives it an ARN."""
        failed = self._done_refund()
        failed.transaction_ids._set_error(
            "Returned by the issuer", extra_allowed_states=("done",)
        )
        self.assertEqual(failed.state, "failed")
        requester = new_test_user(
            self.env,
            login="zero_limit",
            groups="base.group_user,refund_proof.group_refund_user",
        )
        cancelled = self._refund(
            self._create_paid_transaction(100.0), 10.0, user=requester
        )
        self.assertEqual(cancelled.state, "to_approve")
        cancelled.with_user(requester).action_cancel("Asked by mistake")
        self.assertEqual(cancelled.state, "cancelled")
        for refund in failed | cancelled:
            for user in (self.refund_user, self.refund_manager):
                with (
                    self.subTest(state=refund.state, user=user.login),
                    self.assertRaises(UserError),  # ValidationError is one too.
                ):
                    refund.with_user(user).arn = VALID_ARN
                refund.invalidate_recordset()
                self.assertFalse(refund.arn)
