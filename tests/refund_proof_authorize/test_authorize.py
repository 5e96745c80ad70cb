"""The Authorize.Net bridge (refund_proof_authorize) through Odoo's real
payment_authorize.

Only the network is replaced: Odoo's calls to https://apitest.authorize.net/ (the
sandbox of a provider in test mode) reach a local Authorize.Net API (`AuthorizeAPI`, on
tests/provider_api_server.py's server) answering with the objects of
tests/data/authorize/, shaped as Authorize.Net's JSON API reference.
"""

import json
from datetime import datetime, timedelta

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged

from odoo.addons.payment_authorize.models import authorize_request

from ..provider_api_server import ProviderAPIServer, load, redirect
from ..refund_factories import RefundProofCommon

API_BASE = "https://apitest.authorize.net"
API_PATH = r"/xml/v1/request\.api$"
UNSETTLED = "capturedPendingSettlement"
SETTLED = "settledSuccessfully"
ODOO_PAYMENT_LOGGER = "odoo.addons.payment.models.payment_transaction"


class AuthorizeAPI:
    """Authorize.Net's JSON API, as far as these tests need it: every request is a
    POST of one JSON object to /xml/v1/request.api, named after the operation.

    - getTransactionDetailsRequest answers the payment as it is now (its
      transactionStatus: capturedPendingSettlement until `settle`, then
      settledSuccessfully; voided once voided);
    - createTransactionRequest voidTransaction voids a payment not settled yet;
    - createTransactionRequest refundTransaction refunds part or all of a settled
      payment, and is refused (response code 54) before settlement, as Authorize.Net
      refuses it.
    """

    def __init__(self, server):
        self.payments = {}  # transId -> dict(status, amount, submitted)
        self.refunds = []  # (refTransId, amount) of the refunds made
        self.refuse_void = False  # Answer voids with error 16 (not found).
        self._next_id = 50000000000
        server.route("POST", API_PATH, self._answer)

    def add_payment(self, trans_id, amount, submitted=None):
        self.payments[trans_id] = {
            "status": UNSETTLED,
            "amount": amount,
            "submitted": submitted or datetime.utcnow() - timedelta(hours=2),
        }

    def settle(self, trans_id):
        self.payments[trans_id]["status"] = SETTLED

    def _answer(self, request, match):
        # Odoo posts the JSON text without a JSON content type.
        body = json.loads(request["body"])
        [(operation, data)] = body.items()
        if operation == "getTransactionDetailsRequest":
            return self._details(data["transId"])
        if operation == "createTransactionRequest":
            tx_request = data["transactionRequest"]
            kind = tx_request["transactionType"]
            if kind == "voidTransaction":
                return self._void(tx_request["refTransId"])
            if kind == "refundTransaction":
                return self._refund(tx_request["refTransId"], tx_request["amount"])
        return 400, {"error": f"unexpected request {operation}"}

    def _details(self, trans_id):
        payment = self.payments[trans_id]
        name = (
            "transaction_details_settled_successfully"
            if payment["status"] == SETTLED
            else "transaction_details_captured_pending_settlement"
        )
        details = load("authorize", name)
        details["transaction"].update(
            transId=trans_id,
            transactionStatus=payment["status"],
            submitTimeUTC=payment["submitted"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            authAmount=payment["amount"],
            settleAmount=payment["amount"],
        )
        return details

    def _void(self, trans_id):
        if self.refuse_void:
            return load("authorize", "create_transaction_error_not_found")
        payment = self.payments[trans_id]
        assert payment["status"] == UNSETTLED, "only an unsettled payment is voided"
        payment["status"] = "voided"
        answer = load("authorize", "create_transaction_void")
        answer["transactionResponse"].update(transId=trans_id, refTransID=trans_id)
        return answer

    def _refund(self, trans_id, amount):
        payment = self.payments[trans_id]
        if payment["status"] != SETTLED:
            return load("authorize", "create_transaction_error_credit_criteria")
        self._next_id += 1
        self.refunds.append((trans_id, amount))
        answer = load("authorize", "create_transaction_refund")
        answer["transactionResponse"].update(
            transId=str(self._next_id), refTransID=trans_id
        )
        return answer


@tagged("-at_install", "post_install")
class TestAuthorize(RefundProofCommon, HttpCase):
    """An HttpCase for the registry's test mode, where the crons commit nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.authorize = cls._prepare_provider(
            "authorize",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "authorize_login": "refund_proof_login",
                "authorize_transaction_key": "refund_proof_key",
                "authorize_signature_key": "00000000",
                "available_currency_ids": [Command.set(cls.currency.ids)],
                "payment_method_ids": [
                    Command.set([cls.env.ref("payment.payment_method_card").id])
                ],
            },
        )
        cls.authorize.payment_method_ids.write({"active": True})
        cls._payments = 0

    def setUp(self):
        super().setUp()
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        self.server = server
        self.api = AuthorizeAPI(server)
        self.enterContext(redirect(authorize_request.requests, API_BASE, server))

    # --- helpers --- #

    def _paid(self, amount=100.0, settled=False):
        """An Authorize.Net payment (its transId), captured; settled or not yet."""
        type(self)._payments += 1
        trans_id = f"{40000000000 + self._payments}"
        self.api.add_payment(trans_id, amount)
        if settled:
            self.api.settle(trans_id)
        return self._create_paid_transaction(
            amount, provider=self.authorize, provider_reference=trans_id
        )

    def _requests(self, kind):
        """The transactionRequest of each createTransactionRequest of `kind` (its
        transactionType) that Odoo sent."""
        sent = []
        for request in self.server.requests_to("POST", API_PATH):
            body = json.loads(request["body"]).get("createTransactionRequest", {})
            tx_request = body.get("transactionRequest", {})
            if tx_request.get("transactionType") == kind:
                sent.append(tx_request)
        return sent

    # --- before settlement: the void --- #

    def test_full_refund_before_settlement_is_done_by_cancelling_the_payment(self):
        """A full refund of a payment not settled yet is Authorize.Net's void: the
        refund is done, of the whole amount, with no ARN to come, and nothing stays
        pending."""
        tx = self._paid(100.0)
        refund = self._refund(tx)
        self.assertEqual(len(self._requests("voidTransaction")), 1)
        self.assertFalse(self._requests("refundTransaction"))
        self.assertRecordValues(
            refund,
            [{"state": "done", "amount": 100.0, "arn_unavailable": True}],
        )
        self.assertTrue(refund.refund_date)
        self.assertEqual(tx.state, "cancel", "Odoo cancels the voided payment")
        self.assertEqual(tx.refund_status, "full")
        self.assertEqual(tx.refund_remaining_amount, 0.0)
        with self.assertRaises(UserError):
            self._refund(tx, 10.0)
        self.assertFalse(refund.transaction_ids, "no money moved: no refund attempt")

    def test_void_is_recorded_as_a_cancellation_on_the_refund_and_its_proof(self):
        """The void's refund says so: by cancelling the payment, and its proof tells
        the customer, in the bridge's words, that the charge disappears instead of a
        credit; the reference cron never asks for an ARN."""
        tx = self._paid(100.0)
        refund = self._refund(tx)
        self.assertTrue(refund.by_cancellation)
        self.assertFalse(refund.reference_next_fetch)
        note = self.authorize._get_refund_no_arn_note()
        self.assertEqual(refund.no_arn_note, note)
        self.assertIn("charge disappears", note)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("refund_proof.action_report_refund_proof", refund.ids)[0]
            .decode()
        )
        self.assertIn("No ARN for this refund.", html)
        self.assertIn("pending charge disappears", html)
        self.assertNotIn("ARN to follow", html)
        self.assertNotIn(
            "When will I see the money?", html, "no money to wait for: none moved"
        )

    def test_void_customer_mail_says_the_charge_disappears(self):
        """The customer's e-mail of the void says it in the bridge's words too, with
        no money to wait for."""
        tx = self._paid(100.0)
        refund = self._refund(tx)
        template = self.env.ref("refund_proof.mail_template_refund_done")
        body = template._render_field("body_html", refund.ids)[refund.id]
        self.assertIn("ARN: none for this refund.", body)
        self.assertIn("pending charge disappears", body)
        self.assertNotIn("When will I see the money?", body)

    def test_void_consumes_the_cap_against_a_second_request(self):
        """After the void nothing remains to refund: a second request, full or part,
        is refused, and nothing more reaches Authorize.Net."""
        tx = self._paid(100.0)
        self._refund(tx)
        sent = len(self.server.received)
        for amount in (None, 1.0):
            with self.assertRaises(UserError):
                self._refund(tx, amount)
        self.assertEqual(len(self.server.received), sent)
        self.assertEqual(len(tx.refund_ids), 1)

    def test_void_refused_by_authorize_fails_the_refund(self):
        """Authorize.Net refusing the void (Odoo logs its illegal state change and
        leaves the payment confirmed): the refund fails with why, never pending for
        ever, and can be retried."""
        tx = self._paid(100.0)
        self.api.refuse_void = True
        with self.assertLogs(ODOO_PAYMENT_LOGGER, "WARNING") as logs:
            refund = self._refund(tx)
        self.assertIn("illegal value for the state", logs.output[0])
        self.assertEqual(len(self._requests("voidTransaction")), 1)
        self.assertEqual(tx.state, "done")
        self.assertRecordValues(refund, [{"state": "failed", "by_cancellation": False}])
        self.assertIn("did not cancel the payment", refund.failure_message)
        self.assertEqual(tx.refund_remaining_amount, 100.0)
        self.api.refuse_void = False
        refund.with_user(self.refund_user).action_retry()
        self.assertRecordValues(refund, [{"state": "done", "by_cancellation": True}])

    def test_void_post_processed_cancels_the_payment_and_keeps_the_refund_done(self):
        """Odoo's post-processing of the voided payment cancels its account payment
        (the invoice is open again: no money moved); the refund stays done, the
        payment's amount stays consumed."""
        tx = self._paid(100.0)
        payment = tx.payment_id
        self.assertNotEqual(payment.state, "canceled")
        refund = self._refund(tx)
        tx._post_process()
        self.assertEqual(payment.state, "canceled")
        self.assertEqual(refund.state, "done")
        self.assertEqual(tx.refund_remaining_amount, 0.0)
        self.assertEqual(tx.refunded_amount, 100.0)

    # --- before settlement: a part is held --- #

    def test_partial_refund_before_settlement_is_held_with_its_amount_reserved(self):
        """A part asked before settlement is not sent (Odoo's module would void the
        whole payment): the refund waits, unsent, its amount reserved, and its form
        says why and until about when."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertFalse(self._requests("voidTransaction"))
        self.assertFalse(self._requests("refundTransaction"))
        self.assertEqual(tx.state, "done")
        self.assertRecordValues(refund, [{"state": "draft", "amount": 40.0}])
        self.assertIn("not settled", refund.hold_reason)
        self.assertTrue(refund.hold_until)
        self.assertFalse(refund.transaction_ids)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_held_refund_is_sent_by_the_cron_once_the_payment_settled(self):
        """The cron leaves a held refund alone while Authorize.Net has not settled the
        payment, then sends it, for its amount, once getTransactionDetails says
        settledSuccessfully: the refund is done."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        cron = self.env.ref("refund_proof_authorize.ir_cron_refund_after_settlement")
        cron.method_direct_trigger()
        self.assertEqual(refund.state, "draft")
        self.assertFalse(self._requests("refundTransaction"))
        self.api.settle(tx.provider_reference)
        cron.method_direct_trigger()
        [sent] = self._requests("refundTransaction")
        self.assertEqual(sent["refTransId"], tx.provider_reference)
        self.assertEqual(float(sent["amount"]), 40.0)
        self.assertFalse(self._requests("voidTransaction"))
        self.assertRecordValues(
            refund, [{"state": "done", "hold_reason": False, "arn_unavailable": False}]
        )
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(tx.state, "done")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_held_refund_can_be_cancelled_and_is_then_never_sent(self):
        """Its requester cancels a held refund: its amount is refundable again, and
        the cron sends nothing after the settlement."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        refund.with_user(self.refund_user).action_cancel()
        self.assertRecordValues(refund, [{"state": "cancelled", "hold_reason": False}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        self.api.settle(tx.provider_reference)
        self.env.ref(
            "refund_proof_authorize.ir_cron_refund_after_settlement"
        ).method_direct_trigger()
        self.assertFalse(self._requests("refundTransaction"))
        self.assertEqual(refund.state, "cancelled")

    def test_held_refund_reserves_the_cap_against_a_second_request(self):
        """While a part is held, a second request is capped by what it leaves; the
        rest of the payment is not a void either (that would cancel the part held
        too): it is held as well."""
        tx = self._paid(100.0)
        self._refund(tx, 40.0)
        with self.assertRaises(ValidationError):
            self._refund(tx, 70.0)
        rest = self._refund(tx, 60.0)
        self.assertEqual(rest.state, "draft")
        self.assertTrue(rest.hold_reason)
        self.assertFalse(self._requests("voidTransaction"))
        self.assertEqual(tx.refund_remaining_amount, 0.0)
        with self.assertRaises(ValidationError):
            self._refund(tx, 1.0)

    def test_approved_part_before_settlement_is_held_too(self):
        """A part above its requester's limit waits for approval; approved before
        the settlement, it is held as well, never voided."""
        self.refund_user.sudo().refund_limit = 10.0
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "to_approve")
        refund.with_user(self.refund_manager).action_approve()
        self.assertRecordValues(refund, [{"state": "draft", "amount": 40.0}])
        self.assertTrue(refund.hold_reason)
        self.assertFalse(self._requests("voidTransaction"))
        self.assertFalse(self._requests("refundTransaction"))

    def test_held_refund_fails_when_the_payment_was_voided_meanwhile(self):
        """A payment voided in Authorize.Net's interface while a part of it was
        held: the cron sends nothing, the refund fails with why, its amount freed."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.api.payments[tx.provider_reference]["status"] = "voided"
        self.env.ref(
            "refund_proof_authorize.ir_cron_refund_after_settlement"
        ).method_direct_trigger()
        self.assertFalse(self._requests("refundTransaction"))
        self.assertFalse(self._requests("voidTransaction"))
        self.assertEqual(refund.state, "failed")
        self.assertIn("already voided", refund.failure_message)
        self.assertEqual(tx.state, "done", "Odoo's module did not cancel it here")

    def test_refund_form_says_why_a_refund_waits_and_until_when(self):
        """The refund's form shows the hold's reason and expected time, as long as
        the refund is held."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0).with_user(self.refund_user)
        arch = refund.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="hold_reason"', arch)
        self.assertIn('name="hold_until"', arch)
        self.assertIn("Authorize.Net has not settled the payment", refund.hold_reason)
        self.assertGreater(refund.hold_until, fields.Datetime.now())
        self.assertLessEqual(
            refund.hold_until, fields.Datetime.now() + timedelta(hours=24)
        )

    # --- after settlement --- #

    def test_authorize_refunds_a_part(self):
        """Authorize.Net providers refund a part (Odoo's module says full only)."""
        self.assertEqual(self.authorize.support_refund, "partial")
        tx = self._paid(100.0, settled=True)
        self.assertEqual(tx._get_refund_support(), "partial")

    def test_full_refund_of_a_settled_payment_is_a_refund_transaction(self):
        """A settled payment is refunded (refundTransaction, its whole amount) on a
        refund attempt, done; the payment stays confirmed."""
        tx = self._paid(100.0, settled=True)
        refund = self._refund(tx)
        [sent] = self._requests("refundTransaction")
        self.assertEqual(float(sent["amount"]), 100.0)
        self.assertFalse(self._requests("voidTransaction"))
        self.assertRecordValues(
            refund,
            [{"state": "done", "by_cancellation": False, "arn_unavailable": False}],
        )
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.refund_remaining_amount, 0.0)

    def test_partial_refund_of_a_settled_payment_passes_its_amount(self):
        """A part of a settled payment is sent at once with its amount; a second part
        is capped by what remains."""
        tx = self._paid(100.0, settled=True)
        refund = self._refund(tx, 30.0)
        [sent] = self._requests("refundTransaction")
        self.assertEqual(float(sent["amount"]), 30.0)
        self.assertEqual(refund.state, "done")
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)
        with self.assertRaises(ValidationError):
            self._refund(tx, 80.0)
        self.assertEqual(self._refund(tx, 70.0).state, "done")
        self.assertEqual(
            [float(r["amount"]) for r in self._requests("refundTransaction")],
            [30.0, 70.0],
        )
