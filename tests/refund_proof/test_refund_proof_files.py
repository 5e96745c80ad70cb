"""The issued proof's file, and what the portal reaches of a refund (issue 22,
findings 8 and 9), over Odoo's real HTTP routes and JSON-RPC.

A. An issued proof and a dispute's evidence pack are immutable files: their
   `ir.attachment` is written or deleted by no user (refund manager, administrator,
   accountant), only by the server's own issue path; a proof whose stored bytes no
   longer match its SHA-256 (changed under Odoo, in the filestore or the database) is
   refused on print, portal download and report route, with a clear error.
B. No client decides whether the proof report renders: `/report/pdf/...` serves the
   issued file to whoever may read the refund (whatever context it sends), and
   `/report/html/...` of the proof is refused.
C. Portal customers read only the refund fields the portal shows (not `create_uid`);
   the e-mailed link's token posts no chatter message. (A salesman reading an order
   does not get its refunds' proofs from the customer's order page:
   tests/refund_proof_sale/test_sale.py, TestSaleOrderPageProofLinks.)
"""

import base64
import hashlib
import json
import os
import uuid

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..json_rpc_client import JsonRpcMixin, RpcError
from .test_refund_mail import MailCase
from .test_refund_proof import REPORT

PROOF_REPORT_NAME = "refund_proof.report_refund_proof"
PROOF_LOGGER = "odoo.addons.refund_proof.models.payment_refund_proof"
TAMPERED = "does not match its fingerprint"
# What the portal pages show of a refund (the list, its page, its links), which its
# customer reads.
PORTAL_SHOWN = [
    "id",
    "display_name",
    "name",
    "state",
    "amount",
    "currency_id",
    "source_amount",
    "payment_method_display",
    "refund_date",
    "request_date",
    "arn",
    "arn_display",
    "arn_unavailable",
    "arn_expected",
    "verification_url",
    "access_url",
    "access_token",
    # The portal's domain reads it (a failed refund with another way offered).
    "payout_offer_date",
    # Read by the back office's views' modifiers: harmless.
    "origin",
    "is_partial",
    "can_edit_arn",
]


class ProofFilesCase(MailCase, JsonRpcMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.administrator = new_test_user(
            cls.env,
            login="rp_files_admin",
            name="Ada Admin",
            groups="base.group_user,base.group_system,base.group_erp_manager,"
            "refund_proof.group_refund_manager",
        )
        cls.accountant = new_test_user(
            cls.env,
            login="rp_files_accountant",
            name="Alice Accountant",
            groups="base.group_user,account.group_account_manager,"
            "refund_proof.group_refund_manager",
        )

    def _customer_refund(self, amount=20.0):
        """A done refund of a payment of the portal customer."""
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        refund = self._refund(tx, amount)
        self.assertEqual(refund.state, "done")
        return refund

    def _issued(self, refund):
        """The refund's proof issued through the server's store path, with a small
        PDF of its own (the bytes are not what these tests look at)."""
        pdf = (
            b"%PDF-1.4\n% proof of " + refund.name.encode() + uuid.uuid4().hex.encode()
        )
        proof = self.env["payment.refund.proof"]._store(refund, pdf)
        self.assertEqual(refund._get_current_proof(), proof)
        return proof

    def _tamper(self, attachment, data=b"%PDF-1.4\n% forged proof\n"):
        """Replace the stored bytes of `attachment` under Odoo: in its filestore file,
        or in the database's column."""
        attachment = attachment.sudo()
        if attachment.store_fname:
            path = attachment._full_path(attachment.store_fname)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path)
        else:
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE ir_attachment SET db_datas = %s WHERE id = %s",
                [data, attachment.id],
            )
        self.env.invalidate_all()
        self.assertEqual(attachment.raw, data)
        return data

    def _post_message(self, refund, body, **access):
        """POST /mail/message/post as the visitor of the e-mailed link (no session)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "thread_model": "payment.refund",
                "thread_id": refund.id,
                "post_data": {"body": body, "message_type": "comment"},
                **access,
            },
        }
        return self.url_open(
            "/mail/message/post",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )


@tagged("-at_install", "post_install")
class TestIssuedFilesAreImmutable(ProofFilesCase):
    def _evidence_pack(self):
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        dispute = tx._refund_proof_upsert_dispute(
            {"provider_reference": "du_FILES1", "card_network": "visa"}
        ).with_env(self.env)
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": "Dispute evidence.pdf",
                    "raw": b"%PDF-1.4\n% evidence pack " + uuid.uuid4().hex.encode(),
                    "mimetype": "application/pdf",
                    "res_model": "payment.dispute",
                    "res_id": dispute.id,
                }
            )
        )
        dispute.sudo().evidence_attachment_id = attachment
        return attachment

    def test_no_user_writes_or_deletes_an_issued_file(self):
        """A refund manager, an administrator and an accountant (each may write the
        refund and the dispute) neither rewrite nor delete the attachment of an issued
        proof or of an evidence pack over JSON-RPC: refused, the bytes and the proof
        record unchanged."""
        proof = self._issued(self._customer_refund())
        pack = self._evidence_pack()
        forged = base64.b64encode(b"%PDF-1.4\n% forged\n").decode()
        for attachment in (proof.attachment_id, pack):
            original, name = attachment.sudo().raw, attachment.sudo().name
            for user in (self.refund_manager, self.administrator, self.accountant):
                for method, args in (
                    ("write", [[attachment.id], {"datas": forged}]),
                    ("write", [[attachment.id], {"name": "renamed.pdf"}]),
                    ("write", [[attachment.id], {"res_id": 0}]),
                    ("unlink", [[attachment.id]]),
                ):
                    with self.subTest(
                        file=attachment.res_model, user=user.login, call=args
                    ):
                        with self.assertRaisesRegex(RpcError, "AccessError"):
                            self._rpc(user, "ir.attachment", method, *args)
                        self.env.invalidate_all()
                        self.assertTrue(attachment.sudo().exists())
                        self.assertEqual(attachment.sudo().raw, original)
                        self.assertEqual(attachment.sudo().name, name)
        self.assertTrue(proof.exists())
        self.assertEqual(
            hashlib.sha256(proof.attachment_id.raw).hexdigest(), proof.sha256
        )

    def test_tampered_proof_is_refused_on_print(self):
        """A proof whose file was changed in the filestore is not printed nor served
        as an attachment: a clear error, logged for the administrator."""
        refund = self._customer_refund()
        proof = self._issued(refund)
        self.assertTrue(proof.attachment_id.store_fname, "stored in the filestore")
        forged = self._tamper(proof.attachment_id)
        Report = self.env["ir.actions.report"].with_user(self.refund_user)
        with (
            self.assertLogs(PROOF_LOGGER, "ERROR") as logs,
            self.assertRaisesRegex(UserError, TAMPERED),
        ):
            Report._render_qweb_pdf(REPORT, refund.ids)
        self.assertIn(refund.name, logs.output[0])
        # Nor served as the chatter's attachment.
        self.authenticate(self.refund_manager.login, self.refund_manager.login)
        with self.assertLogs(PROOF_LOGGER, "ERROR"), mute_logger("odoo.http"):
            response = self.url_open(
                f"/web/content/{proof.attachment_id.id}?download=true"
            )
        # Odoo's /web/content answers a UserError as not found.
        self.assertEqual(response.status_code, 404)
        self.assertNotIn(forged, response.content)

    def test_tampered_proof_is_not_emailed(self):
        """A proof issued before its e-mail went out (the customer downloaded it
        first), then changed in the filestore: the mail cron attaches no forged file
        (the e-mail stays pending, the administrator told in the log); restored, it
        goes out with the issued bytes."""
        refund = self._customer_refund()
        self.assertEqual(refund.customer_mail_pending, "done")
        proof = self._issued(refund)
        issued = proof.attachment_id.raw
        self._tamper(proof.attachment_id)
        with (
            self.assertLogs(PROOF_LOGGER, "ERROR"),
            mute_logger("odoo.addons.refund_proof.models.payment_refund_mail"),
        ):
            self.env["payment.refund"]._cron_send_customer_mails()
        self.assertEqual(refund.customer_mail_pending, "done")
        self.assertFalse(self._customer_mails(refund))
        self._tamper(proof.attachment_id, issued)  # Restored from a backup.
        self.env["payment.refund"]._cron_send_customer_mails()
        self.assertFalse(refund.customer_mail_pending)
        (mail,) = self._customer_mails(refund)
        self.assertEqual(mail.attachment_ids.raw, issued)

    def test_tampered_proof_is_refused_on_portal_download_and_report_route(self):
        """Changed in the database (attachments stored there), the proof is refused
        to the customer on the portal's download and on /report/pdf."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("ir_attachment.location", "db")
        refund = self._customer_refund()
        proof = self._issued(refund)
        self.assertFalse(proof.attachment_id.store_fname, "stored in the database")
        forged = self._tamper(proof.attachment_id)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for url in (
            f"/my/refunds/{refund.id}?report_type=pdf&download=true",
            f"/report/pdf/{PROOF_REPORT_NAME}/{refund.id}",
        ):
            with self.subTest(url=url):
                with (
                    self.assertLogs(PROOF_LOGGER, "ERROR"),
                    mute_logger("odoo.http"),
                ):
                    response = self.url_open(url)
                self.assertNotEqual(response.status_code, 200)
                self.assertNotIn(forged, response.content)
                self.assertIn(TAMPERED, response.text)


@tagged("-at_install", "post_install")
class TestReportRoutesServeTheIssuedFile(ProofFilesCase):
    def test_report_pdf_serves_the_issued_file_whatever_the_context(self):
        """The customer's /report/pdf of their refund is the issued file, byte for
        byte, with or without `refund_proof_render` in the context it sends."""
        refund = self._customer_refund()
        proof = self._issued(refund)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        context = json.dumps({"refund_proof_render": True})
        for url in (
            f"/report/pdf/{PROOF_REPORT_NAME}/{refund.id}",
            f"/report/pdf/{PROOF_REPORT_NAME}/{refund.id}?context={context}",
        ):
            with self.subTest(url=url):
                response = self.url_open(url)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.content, proof.attachment_id.raw)
        self.assertEqual(refund.proof_ids, proof, "nothing issued anew")

    def test_report_html_and_text_of_the_proof_are_refused(self):
        """A proof is served only as its issued PDF: /report/html and /report/text of
        the proof report render nothing, for the customer or a refund user."""
        refund = self._customer_refund()
        self._issued(refund)
        for user in (self.portal_user, self.refund_user):
            self.authenticate(user.login, user.login)
            for converter in ("html", "text"):
                url = f"/report/{converter}/{PROOF_REPORT_NAME}/{refund.id}"
                with self.subTest(user=user.login, url=url):
                    with mute_logger("odoo.http"):
                        response = self.url_open(url)
                    self.assertEqual(response.status_code, 400)
                    self.assertIn("issued PDF", response.text)
                    self.assertNotIn(refund.verification_url, response.text)

    def test_evidence_report_html_still_renders(self):
        """Other reports keep Odoo's routes (the evidence pack's HTML preview)."""
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        dispute = tx._refund_proof_upsert_dispute(
            {"provider_reference": "du_FILES2", "card_network": "visa"}
        )
        self.authenticate(self.refund_manager.login, self.refund_manager.login)
        response = self.url_open(
            f"/report/html/refund_proof.report_dispute_evidence/{dispute.id}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(dispute.name, response.text)


@tagged("-at_install", "post_install")
class TestPortalReachOfARefund(ProofFilesCase):
    def test_portal_customer_reads_only_what_the_portal_shows(self):
        """Over JSON-RPC the customer reads the fields of their refund the portal
        shows, not who made it (`create_uid`, `write_uid`, the requester), nor searches
        or groups by them; a read of every field reads those the portal shows."""
        refund = self._customer_refund()
        for call in (
            ("read", [refund.id], ["create_uid"]),
            ("read", [refund.id], ["write_uid"]),
            ("read", [refund.id], ["requested_by_id"]),
            ("read", [refund.id], ["name", "note"]),
            ("search_read", [("id", "=", refund.id)], ["create_uid"]),
            ("search", [("create_uid", "=", self.refund_user.id)]),
            ("read_group", [], ["create_uid"], ["create_uid"]),
        ):
            with self.subTest(call=call):
                with self.assertRaisesRegex(RpcError, "AccessError"):
                    self._rpc(self.portal_user, "payment.refund", *call)
        [values] = self._rpc(
            self.portal_user, "payment.refund", "read", [refund.id], PORTAL_SHOWN
        )
        self.assertEqual(values["name"], refund.name)
        self.assertEqual(values["amount"], refund.amount)
        self.assertEqual(values["verification_url"], refund.verification_url)
        [default] = self._rpc(self.portal_user, "payment.refund", "read", [refund.id])
        self.assertEqual(set(default), set(PORTAL_SHOWN))

    def test_emailed_link_posts_no_chatter_message(self):
        """The e-mailed link's token (or its signed partner hash) opens the refund's
        page, but posts no message on the refund through /mail/message/post."""
        refund = self._customer_refund()
        refund._portal_ensure_token()
        partner = refund.partner_id
        for access in (
            {"token": refund.access_token},
            {"hash": refund._sign_token(partner.id), "pid": partner.id},
        ):
            body = f"Posted through the link {uuid.uuid4().hex}"
            with self.subTest(access=sorted(access)):
                response = self._post_message(refund, body, **access)
                self.assertEqual(response.status_code, 200)
                self.assertIn("error", response.json())
                self.env.invalidate_all()
                self.assertNotIn(body, "".join(refund.message_ids.mapped("body")))
        # The link still opens the page.
        page = self.url_open(
            f"/my/refunds/{refund.id}?access_token={refund.access_token}"
        )
        self.assertEqual(page.status_code, 200)
        self.assertIn(refund.name, page.text)
