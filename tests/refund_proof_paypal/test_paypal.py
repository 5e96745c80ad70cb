"""The PayPal bridge (refund_proof_paypal) through Odoo's real payment_paypal.

Only the network is replaced: Odoo's calls to PayPal's sandbox API
(https://api-m.sandbox.paypal.com, a provider in test mode) reach a local PayPal
(`PaypalAPI`, on tests/provider_api_server.py's server) answering with the objects of
tests/data/paypal/: Odoo's own OAuth token request, Orders v2 "Show order details",
Payments v2 "Refund captured payment" (idempotent per `PayPal-Request-Id`, capped by
what remains of the capture), "Show refund details" and "Show captured payment
details", and Webhooks v1 "Verify webhook signature", which Odoo's webhook route asks
for every event (PayPal answers SUCCESS only for the events it sent to that webhook).
"""

import json
import time
from contextlib import contextmanager
from copy import deepcopy
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment_paypal.models import payment_provider as paypal_provider
from odoo.addons.refund_proof.utils import is_unreached

from ..provider_api_server import DATA, ProviderAPIServer, load, redirect
from ..refund_proof.test_refund_mail import MailCase
from ..refund_proof.test_refund_proof import VALID_ARN

API_BASE = "https://api-m.sandbox.paypal.com"
WEBHOOK_URL = "/payment/paypal/webhook/"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
BRIDGE_PROVIDER_LOGGER = "odoo.addons.refund_proof_paypal.models.payment_provider"
BRIDGE_WEBHOOK_LOGGER = "odoo.addons.refund_proof_paypal.controllers.main"
ODOO_WEBHOOK_LOGGER = "odoo.addons.payment_paypal.controllers.main"


class PaypalAPI:
    """PayPal's REST API, as far as these tests need it. Captures are made by
    `pay`; a refund request is refused (422 REFUND_AMOUNT_EXCEEDED) above what remains
    of the capture, and answered, for a `PayPal-Request-Id` already seen, with the
    refund that request made ("The server stores keys for 45 days")."""

    def __init__(self, server):
        self.orders = {}
        self.captures = {}
        self.refunds = {}
        self.answer = "refund_completed"  # The refund a new request makes.
        self.stall = 0  # Seconds to wait before answering a refund request.
        self.in_progress = False  # A key seen again is answered 409.
        self.sent_events = {}  # transmission_sig -> the event PayPal sent.
        self.order_of = {}  # capture id -> order id
        self._keys = {}
        server.route("POST", r"/v1/oauth2/token$", load("paypal", "oauth2_token"))
        server.route("GET", r"/v2/checkout/orders/(?P<id>[^/]+)$", self._get_order)
        server.route("GET", r"/v2/payments/captures/(?P<id>[^/]+)$", self._get_capture)
        server.route(
            "POST", r"/v2/payments/captures/(?P<id>[^/]+)/refund$", self._refund
        )
        server.route("GET", r"/v2/payments/refunds/(?P<id>[^/]+)$", self._get_refund)
        server.route(
            "POST", r"/v1/notifications/verify-webhook-signature$", self._verify
        )

    # --- PayPal's objects --- #

    def pay(self, amount, currency):
        """A PayPal order captured: (order id, capture id)."""
        number = len(self.orders) + 1
        order_id, capture_id = f"5O19PPTEST{number:07d}", f"3C67PPTEST{number:07d}"
        money = {"currency_code": currency, "value": f"{amount:.2f}"}
        order = load("paypal", "order_completed", id=order_id)
        [unit] = order["purchase_units"]
        unit["amount"] = dict(money)
        [capture] = unit["payments"]["captures"]
        capture.update(id=capture_id, amount=dict(money))
        capture["links"] = load("paypal", "capture_completed")["links"]
        for link in capture["links"]:
            link["href"] = (
                link["href"]
                .replace("3C679366HH908993F", capture_id)
                .replace("5O190127TN364715T", order_id)
            )
        self.orders[order_id] = order
        self.captures[capture_id] = capture  # The same object: the order shows it.
        self.order_of[capture_id] = order_id
        return order_id, capture_id

    def make_refund(self, capture_id, value, answer=None):
        """A refund of the capture, as PayPal makes it (from a request, or from the
        merchant's PayPal account)."""
        capture = self.captures[capture_id]
        currency = capture["amount"]["currency_code"]
        refund_id = f"1JU0PPTEST{len(self.refunds) + 1:07d}"
        refund = load("paypal", answer or self.answer, id=refund_id)
        refund["amount"] = {"currency_code": currency, "value": value}
        refund["links"] = [
            {
                "href": f"{API_BASE}/v2/payments/refunds/{refund_id}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{API_BASE}/v2/payments/captures/{capture_id}",
                "rel": "up",
                "method": "GET",
            },
        ]
        self.refunds[refund_id] = refund
        if refund["status"] in ("COMPLETED", "PENDING"):
            capture["refunded"] = round(capture.get("refunded", 0.0) + float(value), 2)
            capture["status"] = (
                "REFUNDED"
                if capture["refunded"] >= float(capture["amount"]["value"])
                else "PARTIALLY_REFUNDED"
            )
        return refund

    # --- routes --- #

    def _get_order(self, request, match):
        if match["id"] not in self.orders:
            return 404, load("paypal", "error_not_found")
        return self.orders[match["id"]]

    def _get_capture(self, request, match):
        capture = self.captures.get(match["id"])
        if not capture:
            return 404, load("paypal", "error_not_found")
        answer = load("paypal", "capture_completed")
        answer.update(
            {key: capture[key] for key in ("id", "status", "amount", "links")}
        )
        answer["supplementary_data"]["related_ids"]["order_id"] = self.order_of[
            match["id"]
        ]
        return answer

    def _refund(self, request, match):
        key = request["headers"].get("PayPal-Request-Id")
        capture = self.captures.get(match["id"])
        if not capture:
            return 404, load("paypal", "error_not_found")
        if key in self._keys:
            if self.in_progress:
                return 409, load("paypal", "error_request_in_progress")
            refund = self.refunds[self._keys[key]]
        else:
            amount = request["json"]["amount"]
            remaining = float(capture["amount"]["value"]) - capture.get("refunded", 0)
            if amount["currency_code"] != capture["amount"]["currency_code"] or float(
                amount["value"]
            ) > round(remaining, 2):
                return 422, load("paypal", "error_refund_amount_exceeded")
            refund = self.make_refund(match["id"], amount["value"])
            if key:
                self._keys[key] = refund["id"]
        time.sleep(self.stall)
        return 201, refund

    def _get_refund(self, request, match):
        if match["id"] not in self.refunds:
            return 404, load("paypal", "error_not_found")
        return self.refunds[match["id"]]

    def _verify(self, request, match):
        body = request["json"]
        sent = self.sent_events.get(body.get("transmission_sig"))
        verified = (
            sent is not None
            and body.get("webhook_id") == WEBHOOK_ID
            and body.get("webhook_event") == sent
        )
        answer = load("paypal", "verify_webhook_signature_success")
        if not verified:
            answer["verification_status"] = "FAILURE"
        return answer


@tagged("-at_install", "post_install")
class TestPaypal(MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.paypal_method = cls.env.ref("payment.payment_method_paypal")
        cls.paypal = cls._prepare_provider(
            "paypal",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "paypal_email_account": "merchant@example.com",
                "paypal_client_id": "paypal-client-refund-proof",
                "paypal_client_secret": "paypal-secret-refund-proof",
                "paypal_webhook_id": WEBHOOK_ID,
                "payment_method_ids": [Command.set(cls.paypal_method.ids)],
            },
        )
        cls.paypal_method.active = True

    def setUp(self):
        super().setUp()
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        self.server = server
        self.api = PaypalAPI(server)
        self.enterContext(redirect(paypal_provider.requests, API_BASE, server))
        self.capture_ids = {}  # payment id -> its PayPal capture id

    # --- helpers --- #

    def _paid(self, amount=100.0, stored="capture"):
        """A PayPal payment of `amount`, captured, whose provider reference is, as
        Odoo keeps it, the capture id (the answer of Odoo's capture request came
        last) or the order id (PayPal's CHECKOUT.ORDER.COMPLETED event came last)."""
        order_id, capture_id = self.api.pay(amount, self.currency.name)
        tx = self._create_paid_transaction(
            amount,
            provider=self.paypal,
            provider_reference=capture_id if stored == "capture" else order_id,
        )
        self.capture_ids[tx.id] = capture_id
        return tx

    def _refund_requests(self):
        return self.server.requests_to("POST", r"/v2/payments/captures/[^/]+/refund$")

    @contextmanager
    def _slow_network(self, seconds=0.5):
        """The network gives up after `seconds` (Odoo waits 10 s), which is what a
        PayPal answering later (its `stall`) looks like to Odoo."""
        redirected = paypal_provider.requests.request

        def request(method, url, *args, **kwargs):
            return redirected(method, url, *args, **{**kwargs, "timeout": seconds})

        with patch.object(paypal_provider.requests, "request", request):
            yield

    def _make_reference_due(self, refund):
        refund.sudo().reference_next_fetch = fields.Datetime.now() - timedelta(
            minutes=1
        )

    def _run_reference_cron(self):
        self.env["payment.refund"]._cron_fetch_refund_references()

    def _event(self, refund):
        """PayPal's PAYMENT.CAPTURE.REFUNDED event of `refund` (a PayPal refund)."""
        event = load("paypal", "event_payment_capture_refunded")
        event["resource"] = deepcopy(refund)
        return event

    def _post(self, event, sent_by_paypal=True):
        """POST `event` to Odoo's PayPal webhook with PayPal's transmission headers;
        PayPal's verification says SUCCESS only for an event it sent."""
        signature = f"sig-{len(self.api.sent_events) + 1}-{event['id']}"
        if sent_by_paypal:
            self.api.sent_events[signature] = json.loads(json.dumps(event))
        headers = {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
            "PAYPAL-TRANSMISSION-TIME": "2026-01-02T10:00:05Z",
            "PAYPAL-CERT-URL": f"{API_BASE}/v1/notifications/certs/CERT-360caa42",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-TRANSMISSION-SIG": signature,
        }
        self.env.flush_all()
        response = self.url_open(WEBHOOK_URL, data=json.dumps(event), headers=headers)
        self.env.invalidate_all()
        return response

    # --- capability --- #

    def test_paypal_refunds_in_part_and_is_asked_for_references(self):
        """PayPal providers and their PayPal payment method refund in full and in
        part, and are asked for the ARN of their refunds."""
        self.assertEqual(self.paypal.support_refund, "partial")
        self.assertEqual(self.paypal_method.support_refund, "partial")
        self.assertTrue(self.paypal._refund_proof_can_fetch_reference())
        self.assertFalse(self.provider._refund_proof_can_fetch_reference())
        tx = self._paid(100.0)
        self.assertEqual(tx._get_refund_support(), "partial")

    def test_recorded_objects_name_their_reference_and_version(self):
        """Each recorded PayPal object says where it comes from: PayPal's API
        reference page and the API's version."""
        files = sorted((DATA / "paypal").glob("*.json"))
        self.assertGreaterEqual(len(files), 10)
        for path in files:
            with self.subTest(file=path.name):
                doc = json.loads(path.read_text())["_doc"]
                self.assertIn("https://developer.paypal.com/", doc)
                self.assertRegex(doc, r"\b(v1|v2)\b")

    # --- refund requests --- #

    def test_partial_refund_is_sent_to_the_capture_with_its_request_id(self):
        """A partial refund of a payment kept by its capture id is PayPal's Refund
        captured payment of that capture, with the amount, Odoo's access token and
        the refund's idempotency key (PayPal-Request-Id); COMPLETED makes it done,
        with PayPal's refund id on its attempt."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        [request] = self._refund_requests()
        self.assertEqual(
            request["path"], f"/v2/payments/captures/{self.capture_ids[tx.id]}/refund"
        )
        self.assertEqual(
            request["json"],
            {"amount": {"value": "40.00", "currency_code": self.currency.name}},
        )
        self.assertEqual(
            request["headers"].get("PayPal-Request-Id"), refund._get_idempotency_key()
        )
        self.assertEqual(
            request["headers"].get("Authorization"),
            "Bearer " + load("paypal", "oauth2_token")["access_token"],
        )
        self.assertEqual(request["headers"].get("Prefer"), "return=representation")
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": False, "amount": 40.0}],
        )
        [refund_id] = self.api.refunds
        self.assertRecordValues(
            refund.transaction_ids,
            [{"state": "done", "provider_reference": refund_id, "amount": -40.0}],
        )
        self.assertEqual(
            self.api.captures[self.capture_ids[tx.id]]["status"], "PARTIALLY_REFUNDED"
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_full_refund_refunds_the_whole_capture(self):
        """A full refund sends the whole amount; the payment is refunded."""
        tx = self._paid(100.0)
        refund = self._refund(tx)
        [request] = self._refund_requests()
        self.assertEqual(request["json"]["amount"]["value"], "100.00")
        self.assertEqual(refund.state, "done")
        self.assertEqual(tx.refund_status, "full")
        self.assertEqual(
            self.api.captures[self.capture_ids[tx.id]]["status"], "REFUNDED"
        )

    def test_order_id_is_refunded_through_its_capture(self):
        """A payment kept by its order id is refunded through the order's capture
        (Show order details); a second partial refund finds the capture refunded in
        part already."""
        tx = self._paid(100.0, stored="order")
        first = self._refund(tx, 30.0)
        second = self._refund(tx, 20.0)
        self.assertEqual(
            len(
                self.server.requests_to(
                    "GET", rf"/v2/checkout/orders/{tx.provider_reference}$"
                )
            ),
            2,
        )
        self.assertEqual(
            [r["path"] for r in self._refund_requests()],
            [f"/v2/payments/captures/{self.capture_ids[tx.id]}/refund"] * 2,
        )
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        self.assertAlmostEqual(tx.refund_remaining_amount, 50.0)

    def test_amounts_are_written_as_paypal_takes_them(self):
        """Two decimals for most currencies, none for PayPal's zero-decimal ones
        (HUF, JPY, TWD) when the amount is whole."""
        Tx = self.env["payment.transaction"]
        usd, huf = self.env.ref("base.USD"), self.env.ref("base.HUF")
        self.assertEqual(Tx._refund_proof_paypal_format_amount(40.0, usd), "40.00")
        self.assertEqual(Tx._refund_proof_paypal_format_amount(12.345, usd), "12.35")
        self.assertEqual(Tx._refund_proof_paypal_format_amount(1500.0, huf), "1500")
        self.assertEqual(Tx._refund_proof_paypal_format_amount(1500.5, huf), "1500.50")

    def test_capture_id_is_not_taken_for_an_order(self):
        """A stored capture id is no order (PayPal answers 404): it is refunded as
        the capture."""
        tx = self._paid(100.0)
        self._refund(tx, 10.0)
        [order_request] = self.server.requests_to("GET", r"/v2/checkout/orders/")
        self.assertEqual(
            order_request["path"], f"/v2/checkout/orders/{self.capture_ids[tx.id]}"
        )
        [request] = self._refund_requests()
        self.assertIn(self.capture_ids[tx.id], request["path"])

    def test_pending_refund_becomes_done_when_paypal_completes_it(self):
        """A PENDING refund (an eCheck not cleared) keeps its amount held; the
        reference cron asking PayPal finds it COMPLETED and makes it done."""
        tx = self._paid(100.0)
        self.api.answer = "refund_pending"
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending"}])
        self.assertIn("ECHECK", refund.transaction_ids.state_message)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")
        [paypal_refund] = self.api.refunds.values()
        paypal_refund["status"] = "COMPLETED"
        paypal_refund.pop("status_details")
        self._make_reference_due(refund)
        self._run_reference_cron()
        self.assertEqual(
            len(self.server.requests_to("GET", r"/v2/payments/refunds/")), 1
        )
        self.assertRecordValues(refund, [{"state": "done"}])
        self.assertEqual(refund.transaction_ids.state, "done")

    def test_failed_and_cancelled_refunds_fail_and_free_their_amount(self):
        """FAILED and CANCELLED refunds fail the refund, which frees its amount."""
        for answer, status in (
            ("refund_failed", "FAILED"),
            ("refund_cancelled", "CANCELLED"),
        ):
            with self.subTest(status=status):
                tx = self._paid(100.0)
                self.api.answer = answer
                refund = self._refund(tx, 40.0)
                self.assertEqual(refund.state, "failed")
                self.assertIn(status, refund.failure_message)
                self.assertEqual(refund.transaction_ids.state, "error")
                self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_refund_above_what_remains_is_refused_before_paypal(self):
        """A second refund above what remains is refused by refund_proof's cap:
        nothing more is sent to PayPal."""
        tx = self._paid(100.0)
        self._refund(tx, 60.0)
        with self.assertRaisesRegex(ValidationError, "can still be refunded"):
            self._refund(tx, 60.0)
        self.assertEqual(len(self._refund_requests()), 1)
        self.assertAlmostEqual(tx.refund_remaining_amount, 40.0)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_paypal_refusal_fails_the_refund_with_paypals_reason(self):
        """PayPal refusing a refund (the capture was refunded in PayPal meanwhile,
        unknown to Odoo) fails it with PayPal's reason; its amount is freed."""
        tx = self._paid(100.0)
        self.api.make_refund(
            self.capture_ids[tx.id], "80.00"
        )  # In PayPal, not in Odoo.
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("REFUND_AMOUNT_EXCEEDED", refund.failure_message)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    # --- idempotency --- #

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_retry_after_unknown_outcome_sends_the_same_request_id(self):
        """PayPal refunds but answers after Odoo's timeout: the refund stays pending
        (outcome unknown), its amount held. A manager who finds nothing marks it not
        refunded; the retry sends the same PayPal-Request-Id, and PayPal answers with
        the refund it made: refunded once."""
        tx = self._paid(100.0)
        self.api.stall = 1.5  # Longer than the network's 0.5 s.
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.api.stall = 0
        refund.with_user(self.refund_user).action_retry()
        first, retry = self._refund_requests()
        self.assertTrue(first["headers"].get("PayPal-Request-Id"))
        self.assertEqual(
            retry["headers"]["PayPal-Request-Id"], first["headers"]["PayPal-Request-Id"]
        )
        self.assertEqual(
            first["headers"]["PayPal-Request-Id"], refund._get_idempotency_key()
        )
        self.assertEqual(len(self.api.refunds), 1, "PayPal refunded once")
        [refund_id] = self.api.refunds
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertEqual(refund.transaction_ids.provider_reference, refund_id)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_request_in_progress_keeps_the_refund_pending(self):
        """PayPal answering 409 (the first request with this key still in
        progress) to a retry is no refusal: pending, amount held, same key."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.api.stall = 0
        self.api.in_progress = True
        refund.with_user(self.refund_user).action_retry()
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")
        keys = {r["headers"]["PayPal-Request-Id"] for r in self._refund_requests()}
        self.assertEqual(keys, {refund._get_idempotency_key()})

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_retry_after_a_refusal_sends_a_new_request_id(self):
        """A refund PayPal refused is retried as a new request, under a new key."""
        tx = self._paid(100.0)
        self.server.route(
            "POST",
            r"/v2/payments/captures/[^/]+/refund$",
            load("paypal", "error_refund_amount_exceeded"),
            status=422,
        )
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.server.route(
            "POST", r"/v2/payments/captures/(?P<id>[^/]+)/refund$", self.api._refund
        )
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "done")
        first, retry = (
            r["headers"]["PayPal-Request-Id"] for r in self._refund_requests()
        )
        self.assertNotEqual(retry, first)
        self.assertEqual(retry, refund._get_idempotency_key())

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_rate_limit_is_a_request_not_processed(self):
        """PayPal's 429 (its rate limit) did nothing: the error says so
        (`is_unreached`), so that a bulk refund's job asks again later; another
        refusal is a definite failure."""
        tx = self._paid(100.0)
        capture_id = self.capture_ids[tx.id]
        endpoint = f"/v2/payments/captures/{capture_id}/refund"
        self.server.route(
            "POST",
            r"/v2/payments/captures/[^/]+/refund$",
            {
                "name": "RATE_LIMIT_REACHED",
                "message": "Too many requests. Blocked due to rate limiting.",
                "debug_id": "f4b2c1a9e0d35",
            },
            status=429,
        )
        with self.assertRaises(ValidationError) as caught:
            self.paypal._refund_proof_paypal_request(
                "POST", endpoint, {}, request_id="rp-429"
            )
        self.assertTrue(is_unreached(caught.exception))
        self.server.route(
            "POST",
            r"/v2/payments/captures/[^/]+/refund$",
            load("paypal", "error_refund_amount_exceeded"),
            status=422,
        )
        with self.assertRaises(ValidationError) as caught:
            self.paypal._refund_proof_paypal_request(
                "POST", endpoint, {}, request_id="rp-422"
            )
        self.assertFalse(is_unreached(caught.exception))
        self.assertFalse(self.api.refunds)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_order_lookup_failure_is_a_definite_failure(self):
        """PayPal unreachable while the order's capture is looked up: nothing was
        sent, so the refund fails (its amount freed), not an unknown outcome."""
        tx = self._paid(100.0, stored="order")
        self.api.stall = 0
        self.server.route(
            "GET",
            r"/v2/checkout/orders/",
            lambda request, match: time.sleep(1.5) or {},
        )
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "failed", "outcome_unknown": False}])
        self.assertFalse(self._refund_requests())
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    # --- the ARN --- #

    def test_arn_comes_by_polling(self):
        """A refund done without ARN gets it from the reference cron asking PayPal
        (Show refund details, `acquirer_reference_number`): recorded as an ARN, a
        new proof version and the customer's ARN e-mail."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "done", "arn": False}])
        self._run_mail_cron()
        first = self._customer_mails(refund)
        self._run_reference_cron()  # The first pass plans the question only.
        self.assertFalse(self.server.requests_to("GET", r"/v2/payments/refunds/"))
        refund_id = refund.transaction_ids.provider_reference
        self.api.refunds[refund_id]["acquirer_reference_number"] = VALID_ARN
        self._make_reference_due(refund)
        self._run_reference_cron()
        self.assertEqual(
            len(self.server.requests_to("GET", rf"/v2/payments/refunds/{refund_id}$")),
            1,
        )
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"arn": VALID_ARN, "arn_type": "arn", "customer_mail_pending": "arn"}],
        )
        self.assertFalse(refund.reference_next_fetch, "nothing more to ask")
        self._run_mail_cron()
        second = self._customer_mails(refund) - first
        self.assertEqual(len(second), 1)
        self.assertEqual(len(refund.proof_ids), 2, "a new proof version")

    def test_polling_before_the_arn_asks_again_later(self):
        """PayPal without an ARN yet (or never: wallet-funded refunds have none):
        nothing recorded, asked again later."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self._make_reference_due(refund)
        before = fields.Datetime.now()
        self._run_reference_cron()
        self.assertEqual(
            len(self.server.requests_to("GET", r"/v2/payments/refunds/")), 1
        )
        self.assertRecordValues(
            refund,
            [{"arn": False, "arn_unavailable": False, "reference_fetch_count": 1}],
        )
        self.assertGreater(refund.reference_next_fetch, before)

    def test_arn_in_paypals_answer_is_recorded_at_once(self):
        """An ARN already in PayPal's answer to the refund request is recorded."""
        tx = self._paid(100.0)
        self.api.answer = "refund_completed_arn"
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "done", "arn": VALID_ARN}])

    # --- webhooks --- #

    def test_refund_made_in_paypal_is_recorded_once(self):
        """PAYMENT.CAPTURE.REFUNDED of a refund made in PayPal, delivered twice, is
        one refund of the payment, from the provider, done; its amount counts."""
        tx = self._paid(100.0)
        paypal_refund = self.api.make_refund(self.capture_ids[tx.id], "30.00")
        for _delivery in range(2):
            self.assertEqual(self._post(self._event(paypal_refund)).status_code, 200)
        self.assertRecordValues(
            tx.refund_ids, [{"origin": "provider", "state": "done", "amount": 30.0}]
        )
        self.assertEqual(
            tx.refund_ids.transaction_ids.provider_reference, paypal_refund["id"]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)
        with self.assertRaisesRegex(ValidationError, "can still be refunded"):
            self._refund(tx, 80.0)
        self.assertFalse(self._refund_requests())

    def test_refund_event_of_a_payment_kept_by_its_order_id(self):
        """The refund of a payment kept by its order id is matched through its
        capture's order (Show captured payment details)."""
        tx = self._paid(100.0, stored="order")
        paypal_refund = self.api.make_refund(self.capture_ids[tx.id], "25.00")
        self.assertEqual(self._post(self._event(paypal_refund)).status_code, 200)
        self.assertRecordValues(tx.refund_ids, [{"state": "done", "amount": 25.0}])
        self.assertEqual(
            len(
                self.server.requests_to(
                    "GET", rf"/v2/payments/captures/{self.capture_ids[tx.id]}$"
                )
            ),
            1,
        )

    def test_event_completes_the_pending_refund_sent_by_odoo(self):
        """PAYMENT.CAPTURE.REFUNDED of a refund Odoo sent (pending) makes that same
        refund done, with its ARN when PayPal gives it."""
        tx = self._paid(100.0)
        self.api.answer = "refund_pending"
        refund = self._refund(tx, 40.0)
        [paypal_refund] = self.api.refunds.values()
        completed = dict(
            paypal_refund, status="COMPLETED", acquirer_reference_number=VALID_ARN
        )
        completed.pop("status_details")
        self.assertEqual(self._post(self._event(completed)).status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")
        self.assertRecordValues(refund, [{"state": "done", "arn": VALID_ARN}])

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_event_settles_the_refund_of_unknown_outcome(self):
        """PAYMENT.CAPTURE.REFUNDED of a request whose answer never came (its
        attempt was rolled back) settles that same refund, not a second one."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertFalse(refund.transaction_ids, "the attempt was rolled back")
        [paypal_refund] = self.api.refunds.values()
        self.assertEqual(self._post(self._event(paypal_refund)).status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertEqual(refund.transaction_ids.provider_reference, paypal_refund["id"])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_late_event_of_an_earlier_status_changes_nothing(self):
        """An event carrying the refund as it was earlier (PENDING) after PayPal
        completed it changes nothing: states move forward only."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        [paypal_refund] = self.api.refunds.values()
        pending = dict(
            load("paypal", "refund_pending"),
            id=paypal_refund["id"],
            amount=paypal_refund["amount"],
            links=paypal_refund["links"],
        )
        self.assertEqual(self._post(self._event(pending)).status_code, 200)
        self.assertRecordValues(refund, [{"state": "done"}])
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(tx.refund_ids, refund)

    @mute_logger(ODOO_WEBHOOK_LOGGER)
    def test_event_paypal_did_not_send_changes_nothing(self):
        """A refund event PayPal does not verify (forged, or for another webhook) is
        refused (403) and records nothing."""
        tx = self._paid(100.0)
        paypal_refund = self.api.make_refund(self.capture_ids[tx.id], "30.00")
        response = self._post(self._event(paypal_refund), sent_by_paypal=False)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        self.assertEqual(
            len(
                self.server.requests_to(
                    "POST", r"/v1/notifications/verify-webhook-signature$"
                )
            ),
            1,
        )

    def test_event_of_a_payment_unknown_here_is_acknowledged(self):
        """A refund event of a capture that is no payment here is acknowledged and
        records nothing."""
        self.api.pay(10.0, self.currency.name)
        [capture_id] = self.api.captures
        paypal_refund = self.api.make_refund(capture_id, "5.00")
        self.assertEqual(self._post(self._event(paypal_refund)).status_code, 200)
        self.assertFalse(
            self.env["payment.transaction"].search(
                [("provider_reference", "=", paypal_refund["id"])]
            )
        )

    # --- disputes --- #

    def _dispute_event(self, tx, event_type="CUSTOMER.DISPUTE.CREATED", **changes):
        """PayPal's dispute event about the payment `tx`, its dispute updated with
        `changes`."""
        event = load("paypal", "event_customer_dispute_created")
        event["event_type"] = event_type
        dispute = event["resource"]
        [disputed] = dispute["disputed_transactions"]
        disputed["seller_transaction_id"] = self.capture_ids[tx.id]
        for money in (disputed["gross_amount"], dispute["dispute_amount"]):
            money.update(currency_code=self.currency.name, value=f"{tx.amount:.2f}")
        dispute.update(changes)
        return event

    def _disputes(self, tx):
        return self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )

    def test_dispute_events_record_the_payment_dispute_and_no_refund(self):
        """A verified CUSTOMER.DISPUTE.CREATED records one chargeback needing a
        response, with PayPal's reason, due date and opening date, logged on the
        payment; UPDATED and RESOLVED follow its status and outcome; no refund."""
        tx = self._paid(100.0, stored="order")
        self.assertEqual(self._post(self._dispute_event(tx)).status_code, 200)
        dispute = self._disputes(tx)
        self.assertRecordValues(
            dispute,
            [
                {
                    "provider_reference": "PP-D-27803",
                    "origin": "provider",
                    "kind": "chargeback",
                    "state": "needs_response",
                    "amount": 100.0,
                    "provider_reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                    "evidence_due_date": datetime(2026, 1, 15, 8, 59),
                    "opened_date": datetime(2026, 1, 5, 8, 59),
                }
            ],
        )
        messages = tx.payment_id.message_ids.filtered(
            lambda m: "PP-D-27803" in (m.body or "")
        )
        self.assertEqual(len(messages), 1)
        self.assertIn("not a refund", messages.body)
        review = self._dispute_event(
            tx, "CUSTOMER.DISPUTE.UPDATED", status="UNDER_REVIEW"
        )
        self.assertEqual(self._post(review).status_code, 200)
        self.assertEqual(dispute.state, "under_review")
        resolved = self._dispute_event(
            tx,
            "CUSTOMER.DISPUTE.RESOLVED",
            status="RESOLVED",
            dispute_outcome={"outcome_code": "RESOLVED_BUYER_FAVOUR"},
        )
        self.assertEqual(self._post(resolved).status_code, 200)
        self.assertEqual(dispute.state, "lost")
        self.assertEqual(self._disputes(tx), dispute, "one dispute")
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_inquiry_cancelled_by_the_customer_is_won(self):
        """A dispute at its inquiry stage is an inquiry; cancelled by the customer,
        it is won."""
        tx = self._paid(50.0)
        self._post(self._dispute_event(tx, dispute_life_cycle_stage="INQUIRY"))
        dispute = self._disputes(tx)
        self.assertRecordValues(
            dispute, [{"kind": "inquiry", "state": "needs_response", "amount": 50.0}]
        )
        self._post(
            self._dispute_event(
                tx,
                "CUSTOMER.DISPUTE.RESOLVED",
                dispute_life_cycle_stage="INQUIRY",
                status="RESOLVED",
                dispute_outcome={"outcome_code": "CANCELED_BY_BUYER"},
            )
        )
        self.assertEqual(dispute.state, "won")

    @mute_logger(ODOO_WEBHOOK_LOGGER)
    def test_dispute_event_paypal_did_not_send_changes_nothing(self):
        """A dispute event PayPal does not verify is refused (403): no dispute, no
        message."""
        tx = self._paid(100.0)
        response = self._post(self._dispute_event(tx), sent_by_paypal=False)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self._disputes(tx))
        self.assertFalse(
            tx.payment_id.message_ids.filtered(lambda m: "PP-D-27803" in (m.body or ""))
        )

    def _reversal_event(self, tx):
        event = load("paypal", "event_payment_capture_reversed")
        resource = event["resource"]
        resource["amount"] = {
            "currency_code": self.currency.name,
            "value": f"{tx.amount:.2f}",
        }
        up = resource["links"][1]
        up["href"] = up["href"].replace("3C679366HH908993F", self.capture_ids[tx.id])
        return event

    def test_reversal_is_logged_on_the_payment_and_is_no_refund(self):
        """PAYMENT.CAPTURE.REVERSED (the money taken back by a dispute) is logged
        on the payment as a dispute event: no refund, the cap untouched."""
        tx = self._paid(100.0, stored="order")
        self.assertEqual(self._post(self._reversal_event(tx)).status_code, 200)
        [message] = tx.payment_id.message_ids.filtered(
            lambda m: "09E71677NS257044M" in (m.body or "")
        )
        self.assertIn("reversed by PayPal", message.body)
        self.assertIn("not a refund", message.body)
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    @mute_logger(ODOO_WEBHOOK_LOGGER)
    def test_reversal_paypal_did_not_send_changes_nothing(self):
        """A reversal event PayPal does not verify is refused (403), logged
        nowhere."""
        tx = self._paid(100.0)
        response = self._post(self._reversal_event(tx), sent_by_paypal=False)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(
            tx.payment_id.message_ids.filtered(
                lambda m: "09E71677NS257044M" in (m.body or "")
            )
        )

    def test_generated_webhook_subscribes_the_refund_events(self):
        """The webhook Odoo creates in PayPal (Generate your webhook) is subscribed
        to PAYMENT.CAPTURE.REFUNDED beside Odoo's own events."""
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", "https://shop.example.com"
        )
        self.server.route(
            "POST", r"/v1/notifications/webhooks$", {"id": "WH-NEW-REFUND-PROOF"}
        )
        self.paypal.paypal_webhook_id = False
        self.paypal.action_paypal_create_webhook()
        [request] = self.server.requests_to("POST", r"/v1/notifications/webhooks$")
        names = [event["name"] for event in request["json"]["event_types"]]
        self.assertIn("CHECKOUT.ORDER.COMPLETED", names)
        self.assertIn("PAYMENT.CAPTURE.REFUNDED", names)
        self.assertIn("CUSTOMER.DISPUTE.CREATED", names)
        self.assertIn("PAYMENT.CAPTURE.REVERSED", names)
        self.assertEqual(self.paypal.paypal_webhook_id, "WH-NEW-REFUND-PROOF")
