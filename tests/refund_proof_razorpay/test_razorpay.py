"""The Razorpay bridge (refund_proof_razorpay) through Odoo's real payment_razorpay.

Only the network is replaced: Odoo's calls to https://api.razorpay.com/ reach a local
Razorpay Refunds API (`RazorpayAPI`, on tests/provider_api_server.py's server) answering
with the entities of tests/data/razorpay/, and Razorpay's webhooks are signed as
Razorpay signs them (hex HMAC-SHA256 of the raw body, checked by Razorpay's own library,
PyPI `razorpay`, `Utility.verify_webhook_signature`) and posted to Odoo's real route.
"""

import hashlib
import hmac
import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

import razorpay

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment_razorpay.models import payment_provider as razorpay_provider

from ..provider_api_server import ProviderAPIServer, load, redirect
from ..refund_proof.test_refund_mail import MailCase
from ..refund_proof.test_refund_proof import VALID_ARN

API_BASE = "https://api.razorpay.com"
WEBHOOK_URL = "/payment/razorpay/webhook"
WEBHOOK_SECRET = "rzp_whsec_refund_proof_tests"
RRN = "412345678901"
ODOO_TX_LOGGER = "odoo.addons.payment_razorpay.models.payment_transaction"
ODOO_WEBHOOK_LOGGER = "odoo.addons.payment_razorpay.controllers.main"
BRIDGE_LOGGER = "odoo.addons.refund_proof_razorpay.models.payment_provider"


class RazorpayAPI:
    """Razorpay's Refunds API v1, as far as these tests need it: Create a Normal
    Refund (POST /v1/payments/:id/refund), idempotent per `X-Refund-Idempotency` as
    documented (the same key and body answer the refund already made), and Fetch
    Refund With ID (GET /v1/refunds/:id), which answers the refund as it is now."""

    def __init__(self, server):
        self.refunds = {}
        self.answer = "refund_processed"  # The entity a new refund starts as.
        self.stall = 0  # Seconds to wait before answering a refund request.
        # The first request of each key still being processed: a request with the
        # same key is answered 409 (Idempotent Request).
        self.in_progress = False
        self._keys = {}
        server.route("POST", r"/v1/payments/(?P<payment>[^/]+)/refund$", self._create)
        server.route("GET", r"/v1/refunds/(?P<refund>[^/]+)$", self._fetch)

    def _create(self, request, match):
        key = request["headers"].get("X-Refund-Idempotency")
        body = request["json"]
        if key in self._keys and self.in_progress:
            return 409, load("razorpay", "error_idempotency_in_progress")
        if key in self._keys:
            refund_id, first_body = self._keys[key]
            if body != first_body:
                return 400, {
                    "error": {
                        "code": "BAD_REQUEST_ERROR",
                        "description": "Idempotency key reused with another body.",
                    }
                }
        else:
            refund_id = f"rfnd_RPTest{len(self.refunds) + 1:07d}"
            self.refunds[refund_id] = load(
                "razorpay",
                self.answer,
                id=refund_id,
                payment_id=match["payment"],
                amount=body["amount"],
                notes=body.get("notes") or [],
            )
            if key:
                self._keys[key] = (refund_id, body)
        time.sleep(self.stall)
        return self.refunds[refund_id]

    def _fetch(self, request, match):
        refund = self.refunds.get(match["refund"])
        if not refund:
            return 400, {"error": {"code": "BAD_REQUEST_ERROR"}}
        return refund

    def made_in_dashboard(self, payment_id, amount, answer="refund_processed"):
        """A refund made in Razorpay's dashboard: no `notes.reference` of Odoo."""
        refund_id = f"rfnd_RPDash{len(self.refunds) + 1:07d}"
        self.refunds[refund_id] = load(
            "razorpay",
            answer,
            id=refund_id,
            payment_id=payment_id,
            amount=amount,
            notes={"comment": "Refunded from the dashboard."},
        )
        return self.refunds[refund_id]


@tagged("-at_install", "post_install")
class TestRazorpay(MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.razorpay = cls._prepare_provider(
            "razorpay",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "razorpay_key_id": "rzp_test_refundproof",
                "razorpay_key_secret": "rzp_secret_refundproof",
                "razorpay_webhook_secret": WEBHOOK_SECRET,
                "payment_method_ids": [
                    Command.set([cls.env.ref("payment.payment_method_card").id])
                ],
            },
        )
        cls.razorpay.payment_method_ids.write({"active": True})
        cls._payments = 0

    def setUp(self):
        super().setUp()
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        self.server = server
        self.api = RazorpayAPI(server)
        self.enterContext(redirect(razorpay_provider.requests, API_BASE, server))

    # --- helpers --- #

    @contextmanager
    def _slow_network(self, seconds=0.5):
        """Odoo waits 10 s for Razorpay's answer (`API_TIMEOUT`): here the network
        gives up after `seconds`, which is what a Razorpay answering late (its
        `stall` longer than `seconds`) looks like to Odoo."""
        redirected = razorpay_provider.requests.post

        def post(url, *args, **kwargs):
            return redirected(url, *args, **{**kwargs, "timeout": seconds})

        with patch.object(razorpay_provider.requests, "post", post):
            yield

    def _paid(self, amount=100.0):
        """A Razorpay payment (pay_…) with its invoice."""
        type(self)._payments += 1
        tx = self._create_paid_transaction(
            amount,
            provider=self.razorpay,
            provider_reference=f"pay_RPTest{self._payments:07d}",
        )
        tx.invoice_ids = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[amount], post=True
        )
        return tx

    def _razorpay_refund(self, refund):
        """The refund entity Razorpay holds for a refund record."""
        return self.api.refunds[refund.transaction_ids.provider_reference]

    @staticmethod
    def _as(entity, name):
        """The recorded refund entity `name` for the refund `entity` (its id, payment,
        amount and notes)."""
        keys = ("id", "payment_id", "amount", "notes")
        return load("razorpay", name, **{key: entity[key] for key in keys})

    def _event(self, name, refund_entity=None, **dispute):
        """A Razorpay webhook event (tests/data/razorpay/event_<name>.json) carrying
        `refund_entity`, or a dispute entity updated with `dispute`."""
        event = load("razorpay", "event_" + name.replace(".", "_"))
        payload = event["payload"]
        if refund_entity is not None:
            payload["refund"]["entity"] = dict(refund_entity)
            payload["payment"]["entity"]["id"] = refund_entity["payment_id"]
        if "dispute" in payload:
            payload["dispute"]["entity"].update(dispute)
            payload["payment"]["entity"]["id"] = payload["dispute"]["entity"][
                "payment_id"
            ]
        return event

    def _post(self, event, secret=WEBHOOK_SECRET, signature=None):
        """POST the raw JSON of `event` to Odoo's Razorpay webhook, signed with
        `secret` (None: unsigned) unless `signature` is given; the signature is
        checked by Razorpay's library first."""
        raw = json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None and secret:
            signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            # Razorpay's own library (PyPI `razorpay`, which has no signer) checks
            # that this is Razorpay's signature of the body.
            razorpay.Utility().verify_webhook_signature(raw.decode(), signature, secret)
        if signature:
            headers["X-Razorpay-Signature"] = signature
        self.env.flush_all()
        response = self.url_open(WEBHOOK_URL, data=raw, headers=headers)
        self.env.invalidate_all()
        return response

    def _make_reference_due(self, refund):
        refund.sudo().reference_next_fetch = fields.Datetime.now() - timedelta(
            minutes=1
        )

    def _run_reference_cron(self):
        self.env["payment.refund"]._cron_fetch_refund_references()

    # --- refund requests --- #

    def test_refund_request_carries_the_idempotency_key(self):
        """Odoo's refund request reaches Razorpay with the refund's idempotency key in
        X-Refund-Idempotency, its amount in minor units and the attempt's reference."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        [request] = self.server.requests_to(
            "POST", rf"/v1/payments/{tx.provider_reference}/refund$"
        )
        self.assertEqual(
            request["headers"].get("X-Refund-Idempotency"),
            refund._get_idempotency_key(),
        )
        self.assertEqual(
            request["json"],
            {"amount": 4000, "notes": {"reference": refund.transaction_ids.reference}},
        )
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": False, "customer_mail_pending": "done"}],
        )
        self.assertTrue(refund.transaction_ids.provider_reference.startswith("rfnd_"))

    @mute_logger(BRIDGE_LOGGER)
    def test_retry_after_unknown_outcome_gets_the_refund_already_made(self):
        """Razorpay refunds but answers after Odoo's timeout; a manager who finds
        nothing marks it not refunded, and the retry sends the same key: Razorpay
        answers the refund it made, none is made twice."""
        tx = self._paid(100.0)
        self.api.stall = 1.5  # Longer than the network's 0.5 s.
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.assertEqual(refund.state, "failed")
        self.api.stall = 0
        refund.with_user(self.refund_user).action_retry()
        requests = self.server.requests_to("POST", r"/v1/payments/.+/refund$")
        self.assertEqual(len(requests), 2)
        self.assertEqual(
            {r["headers"]["X-Refund-Idempotency"] for r in requests},
            {refund._get_idempotency_key()},
        )
        self.assertEqual(len(self.api.refunds), 1, "Razorpay refunded once")
        [refund_id] = self.api.refunds
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertEqual(refund.transaction_ids.provider_reference, refund_id)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    @mute_logger(BRIDGE_LOGGER)
    def test_webhook_settles_the_refund_of_unknown_outcome(self):
        """Razorpay's refund.processed for a request whose answer never came (its
        attempt was rolled back, its `notes.reference` names nothing) settles that
        same refund, with its ARN."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertFalse(refund.transaction_ids, "the attempt was rolled back")
        [entity] = self.api.refunds.values()
        entity["acquirer_data"] = {"arn": VALID_ARN}
        response = self._post(self._event("refund.processed", entity))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")
        self.assertRecordValues(
            refund,
            [{"state": "done", "outcome_unknown": False, "arn": VALID_ARN}],
        )
        self.assertEqual(refund.transaction_ids.provider_reference, entity["id"])

    @mute_logger(BRIDGE_LOGGER)
    def test_409_while_the_first_request_is_in_flight_keeps_the_key(self):
        """Razorpay answering 409 (the first request with this key still in
        progress) to a retry is no refusal: the refund stays pending with its amount
        held and its key; Razorpay's event then settles it, refunded once."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.api.stall = 0
        self.api.in_progress = True
        refund.with_user(self.refund_user).action_retry()
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertIn("still processing", refund.failure_message)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")
        requests = self.server.requests_to("POST", r"/v1/payments/.+/refund$")
        self.assertEqual(len(requests), 2)
        self.assertEqual(
            {r["headers"]["X-Refund-Idempotency"] for r in requests},
            {refund._get_idempotency_key()},
            "the same key",
        )
        [entity] = self.api.refunds.values()
        response = self._post(self._event("refund.processed", entity))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.refund_ids, refund)
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertEqual(len(self.api.refunds), 1, "Razorpay refunded once")

    def test_refund_created_and_speed_changed_events_change_nothing(self):
        """refund.created and refund.speed_changed (an instant refund going at
        normal speed), which Odoo does not handle, neither record a second refund
        nor change the pending one; its refund.processed then makes it done."""
        tx = self._paid(100.0)
        self.api.answer = "refund_pending"
        refund = self._refund(tx, 40.0)
        entity = self._razorpay_refund(refund)
        for name in ("refund.created", "refund.speed_changed"):
            with self.subTest(event=name):
                event = self._event(name)
                event["payload"]["refund"]["entity"].update(
                    {
                        key: entity[key]
                        for key in ("id", "payment_id", "amount", "notes")
                    }
                )
                event["payload"]["payment"]["entity"]["id"] = entity["payment_id"]
                self.assertEqual(self._post(event).status_code, 200)
                self.assertEqual(tx.refund_ids, refund)
                self.assertEqual(tx.child_transaction_ids, refund.transaction_ids)
                self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        processed = self._as(entity, "refund_processed_arn")
        self.assertEqual(
            self._post(self._event("refund.processed", processed)).status_code, 200
        )
        self.assertRecordValues(refund, [{"state": "done", "arn": VALID_ARN}])

    def test_instant_refund_with_its_utr_under_arn_is_a_bank_reference(self):
        """An instant refund (`speed_requested` optimum) processed instantly carries
        its UTR under `acquirer_data.arn`, the one key Razorpay documents: it is
        recorded as the refund's bank reference, not as an ARN."""
        tx = self._paid(100.0)
        self.api.answer = "refund_processed_instant"
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": "412345678901", "arn_type": "bank_reference"}],
        )

    # --- the bank's reference --- #

    def test_arn_missing_at_processing_comes_by_polling(self):
        """A refund processed without ARN gets it from the reference cron asking
        Razorpay (Fetch Refund With ID): a new proof version and the customer's ARN
        e-mail."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "done", "arn": False}])
        self._run_mail_cron()
        first = self._customer_mails(refund)
        self.assertEqual(len(first), 1)
        self._run_reference_cron()  # The first pass plans the question only.
        self.assertFalse(self.server.requests_to("GET", r"/v1/refunds/"))
        self.assertTrue(refund.reference_next_fetch)

        entity = self._razorpay_refund(refund)
        entity["acquirer_data"] = {"arn": VALID_ARN}  # The bank answered Razorpay.
        self._make_reference_due(refund)
        self._run_reference_cron()
        self.assertEqual(
            len(self.server.requests_to("GET", rf"/v1/refunds/{entity['id']}$")), 1
        )
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"arn": VALID_ARN, "arn_type": "arn", "customer_mail_pending": "arn"}],
        )
        self.assertFalse(refund.reference_next_fetch, "nothing more to ask")
        self._run_mail_cron()
        second = self._customer_mails(refund) - first
        self.assertEqual(len(second), 1)
        self.assertIn("7 461234 5678 90123456789 3", second.body_html)
        self.assertEqual(len(refund.proof_ids), 2, "a new proof version")
        latest = refund.proof_ids.sorted("id")[-1]
        self.assertEqual(latest.arn, VALID_ARN)
        self.assertEqual(second.attachment_ids, latest.attachment_id)

    def test_polling_before_the_bank_answers_asks_again_later(self):
        """Razorpay without a reference yet: nothing recorded, asked again later."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self._make_reference_due(refund)
        before = fields.Datetime.now()
        self._run_reference_cron()
        self.assertEqual(len(self.server.requests_to("GET", r"/v1/refunds/")), 1)
        self.assertRecordValues(
            refund,
            [{"arn": False, "arn_unavailable": False, "reference_fetch_count": 1}],
        )
        self.assertGreater(refund.reference_next_fetch, before + timedelta(hours=5))

    def test_rrn_of_the_refund_is_recorded_as_its_bank_reference(self):
        """A 12-digit RRN in the refund's `acquirer_data` is the refund's bank
        reference (not an ARN)."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        entity = self._razorpay_refund(refund)
        entity["acquirer_data"] = load("razorpay", "refund_processed_rrn")[
            "acquirer_data"
        ]
        self._make_reference_due(refund)
        self._run_reference_cron()
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [
                {
                    "arn": RRN,
                    "arn_type": "bank_reference",
                    "customer_mail_pending": "done",
                }
            ],
        )

    def test_signed_refund_processed_webhook_brings_the_arn(self):
        """A pending refund is made done, with its ARN, by Razorpay's signed
        refund.processed event."""
        tx = self._paid(100.0)
        self.api.answer = "refund_pending"
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        entity = self._as(self._razorpay_refund(refund), "refund_processed_arn")
        response = self._post(self._event("refund.processed", entity))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.refund_ids, refund)
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": VALID_ARN, "customer_mail_pending": "done"}],
        )
        self.assertFalse(self.server.requests_to("GET", r"/v1/refunds/"))

    # --- lifecycle --- #

    @mute_logger(ODOO_TX_LOGGER)
    def test_refund_failed_after_processed_fails_the_refund(self):
        """refund.failed after processed: the refund fails, its proof is revoked, the
        back office is told and the customer is not.

        Defensive: Razorpay documents `processed` as "the final state of the refund"
        and says a refund "cannot be canceled or reversed" (About Refunds), so this
        event should never come; were it sent, the refund would not stand."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self._run_mail_cron()
        mails = self._customer_mails(refund)
        self.assertEqual(len(mails), 1)
        entity = self._as(self._razorpay_refund(refund), "refund_failed")
        response = self._post(self._event("refund.failed", entity))
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [
                {
                    "state": "failed",
                    "failure_message": "Razorpay reports that the refund failed.",
                    "customer_mail_pending": False,
                }
            ],
        )
        self.assertEqual(refund.transaction_ids.state, "error")
        self.assertTrue(refund.reversal_date)
        self.assertEqual(refund._get_verification_status(), "revoked")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")
        activities = refund.sudo().activity_ids.filtered(
            lambda a: "failed" in (a.summary or "")
        )
        self.assertEqual(
            activities.user_id, self.refund_user | self.refund_manager, "told"
        )
        self._run_mail_cron()
        self.assertEqual(self._customer_mails(refund), mails, "customer not told")

    @mute_logger(ODOO_TX_LOGGER)
    def test_late_processed_event_after_failed_is_checked_with_razorpay(self):
        """A refund.processed delivered after refund.failed does not make the refund
        done again while Razorpay holds it failed."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        processed = dict(self._razorpay_refund(refund))
        failed = self._as(processed, "refund_failed")
        self._razorpay_refund(refund).update(failed)  # As Razorpay holds it now.
        self.assertEqual(
            self._post(self._event("refund.failed", failed)).status_code, 200
        )
        self.assertEqual(refund.state, "failed")
        response = self._post(self._event("refund.processed", processed))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            len(self.server.requests_to("GET", rf"/v1/refunds/{processed['id']}$")), 1
        )
        self.assertEqual(refund.state, "failed")
        self.assertEqual(refund.transaction_ids.state, "error")

    @mute_logger(ODOO_TX_LOGGER)
    def test_refund_made_in_the_dashboard_is_one_refund_through_its_events(self):
        """A refund made in Razorpay's dashboard is recorded once, whether its
        refund.processed comes once or twice, and its refund.failed fails it."""
        tx = self._paid(100.0)
        entity = self.api.made_in_dashboard(tx.provider_reference, 3000)
        for _delivery in range(2):
            response = self._post(self._event("refund.processed", entity))
            self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            tx.refund_ids, [{"origin": "provider", "state": "done", "amount": 30.0}]
        )
        self.assertEqual(tx.refund_ids.transaction_ids.provider_reference, entity["id"])
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)
        response = self._post(
            self._event("refund.failed", self._as(entity, "refund_failed"))
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(tx.refund_ids), 1)
        self.assertEqual(tx.refund_ids.state, "failed")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    # --- disputes --- #

    def _invoice_messages(self, tx, text):
        return tx.invoice_ids.message_ids.filtered(lambda m: text in (m.body or ""))

    def test_dispute_events_are_logged_on_the_payment_and_are_no_refund(self):
        """Signed dispute events are logged on the payment's invoice, with the
        dispute's id, amount and reason; no refund is recorded."""
        tx = self._paid(100.0)
        dispute = {"payment_id": tx.provider_reference}
        response = self._post(self._event("payment.dispute.created", **dispute))
        self.assertEqual(response.status_code, 200)
        [message] = self._invoice_messages(tx, "disp_RPTest0000001")
        self.assertIn("dispute opened by the customer", message.body)
        self.assertIn("The customer says the refund was not received.", message.body)
        self.assertIn("100.00", message.body)
        self.assertIn("not a refund", message.body)
        for event, status in (
            ("payment.dispute.under_review", "under_review"),
            ("payment.dispute.action_required", "open"),
            ("payment.dispute.lost", "lost"),
            ("payment.dispute.won", "won"),
            ("payment.dispute.closed", "closed"),
        ):
            data = self._event("payment.dispute.created", status=status, **dispute)
            data["event"] = event
            self.assertEqual(self._post(data).status_code, 200)
        self.assertEqual(len(self._invoice_messages(tx, "disp_RPTest0000001")), 6)
        self.assertEqual(len(self._invoice_messages(tx, "status: lost")), 1)
        self.assertFalse(tx.refund_ids)

    def test_dispute_events_record_the_payment_dispute(self):
        """A signed payment.dispute.created records one chargeback needing a
        response, with Razorpay's reason, respond_by and created_at; later events
        follow its status; a retrieval is an inquiry."""
        tx = self._paid(100.0)
        dispute = {"payment_id": tx.provider_reference}
        self._post(self._event("payment.dispute.created", **dispute))
        record = self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )
        self.assertRecordValues(
            record,
            [
                {
                    "provider_reference": "disp_RPTest0000001",
                    "origin": "provider",
                    "kind": "chargeback",
                    "state": "needs_response",
                    "amount": 100.0,
                    "provider_reason": "The customer says the refund was not received.",
                    "evidence_due_date": datetime(2026, 1, 8, 0, 0),
                    "opened_date": datetime(2026, 1, 1, 0, 0),
                }
            ],
        )
        under_review = self._event(
            "payment.dispute.created", status="under_review", **dispute
        )
        under_review["event"] = "payment.dispute.under_review"
        self._post(under_review)
        self.assertEqual(record.state, "under_review")
        with self.assertRaisesRegex(UserError, record.name):
            self._refund(tx, 10.0)
        lost = self._event("payment.dispute.created", status="lost", **dispute)
        lost["event"] = "payment.dispute.lost"
        self._post(lost)
        self.assertEqual(record.state, "lost")
        other = self._paid(50.0)
        self._post(
            self._event(
                "payment.dispute.created",
                id="disp_RPTest0000002",
                payment_id=other.provider_reference,
                phase="retrieval",
                amount=5000,
            )
        )
        inquiry = self.env["payment.dispute"].search(
            [("source_transaction_id", "=", other.id)]
        )
        self.assertRecordValues(
            inquiry, [{"kind": "inquiry", "state": "needs_response", "amount": 50.0}]
        )
        self.assertFalse(tx.child_transaction_ids)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    # --- signatures --- #

    @mute_logger(ODOO_WEBHOOK_LOGGER, ODOO_TX_LOGGER)
    def test_unsigned_or_wrongly_signed_refund_events_change_nothing(self):
        """refund.failed unsigned or signed with another secret is refused (403), and
        so is a dashboard refund's event: nothing changes, nothing is created; the
        same event signed with the webhook secret fails the refund."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        failed = self._event(
            "refund.failed", self._as(self._razorpay_refund(refund), "refund_failed")
        )
        dashboard = self._event(
            "refund.processed", self.api.made_in_dashboard(tx.provider_reference, 3000)
        )
        for event in (failed, dashboard):
            for kwargs in ({"secret": None}, {"secret": "not-the-secret"}):
                self.assertEqual(self._post(event, **kwargs).status_code, 403)
        self.assertEqual(self._post(failed, signature="0" * 64).status_code, 403)
        self.assertEqual(tx.refund_ids, refund, "no refund recorded")
        self.assertEqual(tx.child_transaction_ids, refund.transaction_ids)
        self.assertRecordValues(refund, [{"state": "done"}])
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(self._post(failed).status_code, 200)
        self.assertEqual(refund.state, "failed", "signed, it is Razorpay's word")

    @mute_logger(ODOO_WEBHOOK_LOGGER)
    def test_unsigned_or_wrongly_signed_dispute_events_change_nothing(self):
        """A dispute event unsigned or signed with another secret is refused (403)
        and logs nothing; signed with the webhook secret, it is logged."""
        tx = self._paid(100.0)
        event = self._event("payment.dispute.created", payment_id=tx.provider_reference)
        for kwargs in ({"secret": None}, {"secret": "not-the-secret"}):
            self.assertEqual(self._post(event, **kwargs).status_code, 403)
        self.assertFalse(self._invoice_messages(tx, "disp_RPTest0000001"))
        self.assertEqual(self._post(event).status_code, 200)
        self.assertEqual(len(self._invoice_messages(tx, "disp_RPTest0000001")), 1)
        self.assertFalse(tx.refund_ids)

    @mute_logger(ODOO_WEBHOOK_LOGGER, ODOO_TX_LOGGER)
    def test_previous_webhook_secret_is_accepted_until_its_end_date(self):
        """After the webhook secret is changed, events Razorpay signed with the
        previous one (retried) are accepted until the end date set for it, refused
        after it: Odoo's refund events and the bridge's dispute events alike."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        old = "rzp_whsec_the_previous_one"
        self.razorpay.write(
            {
                "razorpay_previous_webhook_secret": old,
                "razorpay_previous_webhook_secret_expiry": fields.Datetime.now()
                - timedelta(minutes=1),
            }
        )
        failed = self._event(
            "refund.failed", self._as(self._razorpay_refund(refund), "refund_failed")
        )
        dispute = self._event(
            "payment.dispute.created", payment_id=tx.provider_reference
        )
        self.assertEqual(self._post(failed, secret=old).status_code, 403)
        self.assertEqual(self._post(dispute, secret=old).status_code, 403)
        self.assertEqual(refund.state, "done")
        self.assertFalse(self._invoice_messages(tx, "disp_RPTest0000001"))

        self.razorpay.razorpay_previous_webhook_secret_expiry = (
            fields.Datetime.now() + timedelta(days=1)
        )
        self.assertEqual(self._post(failed, secret=old).status_code, 200)
        self.assertEqual(refund.state, "failed")
        self.assertEqual(self._post(dispute, secret=old).status_code, 200)
        self.assertEqual(len(self._invoice_messages(tx, "disp_RPTest0000001")), 1)

    def test_previous_webhook_secret_needs_an_end_date(self):
        """A previous webhook secret without its end date is refused."""
        with self.assertRaisesRegex(ValidationError, "previous webhook secret"):
            self.razorpay.razorpay_previous_webhook_secret = "rzp_whsec_previous"
