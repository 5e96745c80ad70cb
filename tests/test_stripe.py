"""refund_proof_stripe: Stripe refunds through Odoo's real payment_stripe module.

Only the network is replaced: Stripe's API is a local server (tests/provider_api.py)
answering with the objects recorded in tests/data/stripe/, and Stripe's webhooks are
signed with Stripe's scheme (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`) and posted to Odoo's webhook route on the test server.
"""

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe.models import payment_provider as stripe_provider

from .provider_api import ProviderAPIServer, load, redirect
from .test_refund_proof import ProofCommon

STRIPE_API = "https://api.stripe.com"
WEBHOOK_URL = "/payment/stripe/webhook"
WEBHOOK_SECRET = "whsec_refund_proof_stripe_tests"
ARN = "74987504321000123456787"  # refund_available.json
REFUND_ID = "re_3RpTestRefund0000000001"
CHARGE_ID = "ch_3RpTestCharge0000000001"
INTENT_ID = "pi_3RpTestIntent0000000001"
DESCRIPTOR = "MYSHOP* WEB ORDER"  # charge.json: calculated_statement_descriptor
# Odoo's provider module logs its failed API calls at ERROR (with the traceback).
STRIPE_PROVIDER_LOGGER = "odoo.addons.payment_stripe.models.payment_provider"
BRIDGE_LOGGER = "odoo.addons.refund_proof_stripe.controllers.main"
STRIPE_CONTROLLER_LOGGER = "odoo.addons.payment_stripe.controllers.main"


class _ConnectionDropped(Exception):
    """Raised by a route of the fake API: the connection closes unanswered."""


def drop_connection(request, match):
    raise _ConnectionDropped


class StripeCase(ProofCommon, HttpCase):
    """A Stripe provider in test mode whose API is the local fake server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stripe = cls._prepare_provider(
            "stripe",
            update_values={
                "stripe_secret_key": "sk_test_refund_proof",
                "stripe_publishable_key": "pk_test_refund_proof",
                "stripe_webhook_secret": WEBHOOK_SECRET,
                "journal_id": cls.company_data["default_journal_bank"].id,
            },
        )
        cls.card = cls.env.ref("payment.payment_method_card")
        cls.card.active = True
        cls.stripe.payment_method_ids = cls.card

    def setUp(self):
        super().setUp()
        self.api = ProviderAPIServer().start()
        self.addCleanup(self.api.stop)
        # A dropped connection is what the test wants: no traceback on stderr.
        self.api._httpd.handle_error = lambda request, client_address: None
        self.enterContext(redirect(stripe_provider.requests, STRIPE_API, self.api))
        self.refund_count = 0
        self.api.route("POST", r"/v1/refunds$", self._answer_refund)

    # Stripe's API.

    def _answer_refund(self, request, match, name="refund_pending", **changes):
        """Make the refund asked (POST /v1/refunds): the recorded refund object for
        the amount asked, a new refund id for each refund made."""
        self.refund_count += 1
        refund = load("stripe", name, amount=int(request["form"]["amount"]))
        if self.refund_count > 1:
            refund["id"] = f"{REFUND_ID[:-2]}{self.refund_count:02d}"
        refund.update(changes)
        return refund

    def _form(self, request):
        """The form-encoded body of a request, every value of repeated keys kept."""
        return parse_qs(request["body"].decode())

    # Payments and events.

    def _stripe_payment(self, amount=100.0, intent_id=INTENT_ID, **intent_changes):
        """A card payment confirmed as Odoo does with Stripe's answer (the payment
        intent, its charge embedded), post-processed so that its account.payment
        exists."""
        tx = self._create_transaction(
            "direct",
            amount=amount,
            reference=self._next_reference(),
            provider_id=self.stripe.id,
            payment_method_id=self.card.id,
        )
        payment_intent = self._payment_intent(tx, intent_id, **intent_changes)
        tx._handle_notification_data(
            "stripe",
            {
                "reference": tx.reference,
                "payment_intent": payment_intent,
                "payment_method": payment_intent["payment_method"],
            },
        )
        tx._post_process()
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.provider_reference, intent_id)
        return tx

    def _payment_intent(self, tx, intent_id=INTENT_ID, **changes):
        charge = load(
            "stripe",
            "charge",
            description=tx.reference,
            payment_intent=intent_id,
            amount=int(tx.amount * 100),
        )
        payment_intent = load(
            "stripe",
            "payment_intent",
            id=intent_id,
            description=tx.reference,
            amount=int(tx.amount * 100),
        )
        payment_intent["charges"]["data"] = [charge]
        payment_intent.update(changes)
        return payment_intent

    def _post_event(self, event_type, stripe_object, secret=WEBHOOK_SECRET, **headers):
        """Post a Stripe event to Odoo's webhook route, signed with `secret` as
        Stripe signs (None: unsigned), and return the response."""
        event = load("stripe", "event", type=event_type)
        event["data"] = {"object": stripe_object, "previous_attributes": {}}
        raw = json.dumps(event).encode()
        request_headers = {"Content-Type": "application/json"}
        if secret is not None:
            timestamp = headers.pop("timestamp", int(time.time()))
            signature = hmac.new(
                secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256
            ).hexdigest()
            request_headers["Stripe-Signature"] = f"t={timestamp},v1={signature}"
        request_headers.update(headers)
        response = self.opener.post(
            self.base_url() + WEBHOOK_URL, data=raw, headers=request_headers, timeout=30
        )
        self.env.invalidate_all()
        return response

    def _refund_and_answer(self, tx, amount=40.0, name="refund_pending", **changes):
        """Refund through Odoo as the refund user, Stripe answering `name`."""
        self.api.route(
            "POST",
            r"/v1/refunds$",
            lambda request, match: self._answer_refund(request, match, name, **changes),
        )
        return self._refund(tx, amount)


@tagged("-at_install", "post_install")
class TestStripeRefundLifecycle(StripeCase):
    def test_pending_refund_done_by_signed_webhook_with_arn(self):
        """A refund Stripe accepts as pending becomes done with its ARN when the
        signed refund.updated event that brings the ARN arrives."""
        tx = self._stripe_payment()
        refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        self.assertEqual(refund.transaction_ids.provider_reference, REFUND_ID)
        [sent] = self.api.requests_to("POST", r"/v1/refunds$")
        self.assertEqual(sent["form"]["payment_intent"], INTENT_ID)
        self.assertEqual(sent["form"]["amount"], "4000")
        self.assertEqual(sent["headers"]["Stripe-Version"], stripe_const.API_VERSION)

        response = self._post_event(
            "refund.updated", load("stripe", "refund_available")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund,
            [{"state": "done", "arn": ARN, "customer_mail_pending": "done"}],
        )
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")

    def test_charge_refund_updated_brings_the_arn_through_odoo(self):
        """Odoo's own charge.refund.updated event, signed, makes the refund done and
        its ARN is read from destination_details."""
        tx = self._stripe_payment()
        refund = self._refund(tx, 40.0)
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_available")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN}])

    def test_unavailable_reference_says_no_arn_will_come(self):
        """Stripe saying the reference is unavailable (a reversal) records that no
        ARN will come, and the proof says so."""
        tx = self._stripe_payment()
        refund = self._refund_and_answer(tx, status="succeeded")
        self.assertRecordValues(refund, [{"state": "done", "arn_unavailable": False}])
        self.assertIn("ARN to follow", self._html(refund))
        response = self._post_event(
            "refund.updated", load("stripe", "refund_unavailable")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund, [{"state": "done", "arn": False, "arn_unavailable": True}]
        )
        self.assertIn("No ARN for this refund.", self._html(refund))

    def test_refund_failed_later_fails_the_refund(self):
        """A done refund that Stripe reports failed (refund.failed) fails and frees
        its amount; no reference is recorded for it, even by a late event."""
        tx = self._stripe_payment()
        refund = self._refund_and_answer(tx, status="succeeded")
        self.assertEqual(refund.state, "done")
        response = self._post_event("refund.failed", load("stripe", "refund_failed"))
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund, [{"state": "failed", "arn": False, "arn_unavailable": False}]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        # An earlier event delivered late (Stripe does not keep their order).
        late = self._post_event("refund.updated", load("stripe", "refund_available"))
        self.assertEqual(late.status_code, 200)
        self.assertRecordValues(refund, [{"state": "failed", "arn": False}])

    def test_charge_refunded_without_refunds_list_records_the_refunds(self):
        """charge.refunded from an endpoint on a recent API version (no refunds
        list in the charge) is answered 200 and records the refunds made in Stripe's
        dashboard, every page of them fetched from Stripe."""
        tx = self._stripe_payment()
        first = load("stripe", "refund_available", id=f"{REFUND_ID[:-2]}11")
        second = load("stripe", "refund_pending", id=f"{REFUND_ID[:-2]}12", amount=1000)

        def refunds_of_the_charge(request, match):
            form = self._form(request)
            page = load("stripe", "refund_list")
            if "starting_after" in form:
                page["data"] = [second]
            else:
                page.update(data=[first], has_more=True)
            return page

        self.api.route("GET", r"/v1/refunds$", refunds_of_the_charge)
        charge = load("stripe", "charge_without_refunds", description=tx.reference)
        response = self._post_event("charge.refunded", charge)
        self.assertEqual(response.status_code, 200)
        pages = self.api.requests_to("GET", r"/v1/refunds$")
        self.assertEqual(len(pages), 2)
        self.assertEqual(self._form(pages[0])["charge"], [CHARGE_ID])
        self.assertEqual(self._form(pages[1])["starting_after"], [first["id"]])
        refunds = tx.refund_ids.sorted("amount")
        self.assertRecordValues(
            refunds,
            [
                {
                    "amount": 10.0,
                    "state": "pending",
                    "origin": "provider",
                    "arn": False,
                },
                {"amount": 40.0, "state": "done", "origin": "provider", "arn": ARN},
            ],
        )
        self.assertEqual(
            set(refunds.transaction_ids.mapped("provider_reference")),
            {first["id"], second["id"]},
        )
        # The same refunds told again (refund.updated) are not recorded twice.
        self.assertEqual(self._post_event("refund.updated", second).status_code, 200)
        self.assertEqual(len(tx.refund_ids), 2)

    def test_refund_created_in_the_dashboard_is_recorded_once(self):
        """refund.created for a refund made in Stripe's dashboard records it, and
        Odoo's charge.refunded (with its refunds list) that follows adds nothing."""
        tx = self._stripe_payment()
        refund_object = load("stripe", "refund_available", amount=2500)
        response = self._post_event("refund.created", refund_object)
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            tx.refund_ids,
            [{"amount": 25.0, "state": "done", "origin": "provider", "arn": ARN}],
        )
        charge = load("stripe", "charge", description=tx.reference)
        charge["refunds"]["data"] = [refund_object]
        self.assertEqual(self._post_event("charge.refunded", charge).status_code, 200)
        self.assertEqual(len(tx.refund_ids), 1)
        self.assertEqual(len(tx.child_transaction_ids), 1)

    def test_charge_refund_updated_of_an_unknown_refund_records_it(self):
        """charge.refund.updated of a refund made in Stripe's dashboard that Odoo
        does not know yet records it (Odoo finds no transaction and drops it)."""
        tx = self._stripe_payment()
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_available", amount=2500)
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            tx.refund_ids,
            [{"amount": 25.0, "state": "done", "origin": "provider", "arn": ARN}],
        )

    def test_late_event_of_an_earlier_state_changes_nothing(self):
        """An event that arrives late with a state the refund has left (pending,
        after Stripe answered succeeded) leaves the refund done, without Odoo's
        warning about an illegal state change."""
        tx = self._stripe_payment()
        refund = self._refund_and_answer(tx, status="succeeded")
        self.assertEqual(refund.state, "done")
        with self.assertNoLogs(
            "odoo.addons.payment.models.payment_transaction", "WARNING"
        ):
            response = self._post_event(
                "refund.created", load("stripe", "refund_pending")
            )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done"}])
        self.assertEqual(refund.transaction_ids.state, "done")

    def test_dispute_events_are_logged_and_create_no_refund(self):
        """No charge.dispute.* event becomes a refund: each is logged on the
        payment's invoice with the dispute's reference."""
        tx = self._stripe_payment()
        invoice = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[100.0], post=True
        )
        tx.invoice_ids = invoice
        for event_type in (
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.closed",
            "charge.dispute.funds_reinstated",
        ):
            with self.subTest(event_type=event_type):
                response = self._post_event(event_type, load("stripe", "dispute"))
                self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        messages = invoice.message_ids.filtered(
            lambda m: "Dispute event from" in (m.body or "")
        )
        self.assertEqual(len(messages), 5)
        self.assertIn("du_3RpTestDispute000000001", messages[0].body)
        self.assertIn("credit_not_processed", messages[0].body)
        self.assertIn("the customer disputed the payment", messages[-1].body)


@tagged("-at_install", "post_install")
class TestStripeSignatures(StripeCase):
    def _paid_and_refunding(self):
        """A payment with its invoice, and a refund of it pending at Stripe."""
        tx = self._stripe_payment()
        tx.invoice_ids = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[100.0], post=True
        )
        return tx, self._refund(tx, 40.0)

    def _assert_nothing_changed(self, tx, refund):
        self.assertRecordValues(
            refund, [{"state": "pending", "arn": False, "arn_unavailable": False}]
        )
        self.assertEqual(tx.refund_ids, refund)
        self.assertEqual(len(tx.child_transaction_ids), 1)
        self.assertFalse(
            tx.invoice_ids.message_ids.filtered(
                lambda m: "Dispute event" in (m.body or "")
            )
        )

    def _events(self, tx):
        charge = load("stripe", "charge_without_refunds", description=tx.reference)
        charge_with_list = load("stripe", "charge", description=tx.reference)
        charge_with_list["refunds"]["data"] = [
            load("stripe", "refund_available", id=f"{REFUND_ID[:-2]}21")
        ]
        return [
            ("refund.updated", load("stripe", "refund_available")),
            ("charge.refund.updated", load("stripe", "refund_available")),
            ("refund.created", load("stripe", "refund_available", id="re_other")),
            ("charge.refunded", charge),
            ("charge.refunded", charge_with_list),
            ("charge.dispute.created", load("stripe", "dispute")),
        ]

    def test_events_without_a_webhook_secret_are_refused(self):
        """With no webhook secret set (Odoo would process events whatever their
        signature), refund and dispute events are refused with HTTP 403 and a
        warning, and change nothing: Stripe sends them again once the secret is
        set."""
        tx, refund = self._paid_and_refunding()
        self.stripe.stripe_webhook_secret = False
        for event_type, stripe_object in self._events(tx):
            with self.subTest(event_type=event_type):
                with self.assertLogs(BRIDGE_LOGGER, "WARNING") as logs:
                    response = self._post_event(
                        event_type, stripe_object, secret="whsec_forged"
                    )
                self.assertEqual(response.status_code, 403)
                self.assertIn("has no webhook secret", logs.output[0])
        self._assert_nothing_changed(tx, refund)
        self.assertFalse(self.api.requests_to("GET", r"/v1/refunds"))

    def test_payment_event_without_secret_does_not_set_the_descriptor(self):
        """A payment event Odoo processes unsigned (no webhook secret) does not
        decide the descriptor printed on the proofs."""
        tx = self._create_transaction(
            "direct",
            reference=self._next_reference(),
            provider_id=self.stripe.id,
            payment_method_id=self.card.id,
        )
        self.stripe.stripe_webhook_secret = False
        payment_intent = self._payment_intent(tx, payment_method="pm_forged")
        payment_intent["charges"]["data"][0]["calculated_statement_descriptor"] = (
            "FORGED"
        )
        with self.assertLogs(STRIPE_CONTROLLER_LOGGER, "WARNING"):
            # Odoo's own warning: "ignored webhook event due to undefined webhook
            # secret" (the event is processed all the same).
            response = self._post_event(
                "payment_intent.succeeded", payment_intent, secret=None
            )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.refund_charge_descriptor)

    def test_wrongly_signed_events_are_refused(self):
        """Events signed with another secret, too old, or not signed at all are
        refused with HTTP 403 and change nothing."""
        tx, refund = self._paid_and_refunding()
        for event_type, stripe_object in self._events(tx):
            for case, kwargs in (
                ("other secret", {"secret": "whsec_not_the_one"}),
                ("too old", {"timestamp": int(time.time()) - 3600}),
                ("unsigned", {"secret": None}),
            ):
                with self.subTest(event_type=event_type, case=case):
                    with mute_logger(BRIDGE_LOGGER, STRIPE_CONTROLLER_LOGGER):
                        response = self._post_event(event_type, stripe_object, **kwargs)
                    self.assertEqual(response.status_code, 403)
        self._assert_nothing_changed(tx, refund)


@tagged("-at_install", "post_install")
class TestStripeIdempotency(StripeCase):
    def _keys(self):
        return [
            request["headers"].get("Idempotency-Key")
            for request in self.api.requests_to("POST", r"/v1/refunds$")
        ]

    def test_key_is_kept_across_a_retry_after_an_unknown_outcome(self):
        """The refund request carries its idempotency key; after the connection was
        lost (outcome unknown) and a manager found it not made, the retry sends the
        same key, so that Stripe answers with the refund it may have made."""
        tx = self._stripe_payment()
        self.api.route("POST", r"/v1/refunds$", drop_connection)
        with mute_logger(STRIPE_PROVIDER_LOGGER):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.api.route("POST", r"/v1/refunds$", self._answer_refund)
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "pending")
        first, retry = self._keys()
        self.assertTrue(first)
        self.assertEqual(first, refund._get_idempotency_key())
        self.assertEqual(retry, first, "the same request, sent again")
        [sent] = self.api.requests_to("POST", r"/v1/refunds$")[1:]
        self.assertEqual(self._form(sent)["expand[]"], ["charge"])

    def test_retry_after_a_refusal_gets_a_new_key(self):
        """Stripe refusing the refund (charge disputed) fails it; its retry is a new
        request, under a new idempotency key."""
        tx = self._stripe_payment()
        self.api.route(
            "POST",
            r"/v1/refunds$",
            load("stripe", "error_charge_disputed"),
            status=400,
        )
        with mute_logger(STRIPE_PROVIDER_LOGGER):
            refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("charged back", refund.failure_message)
        self.api.route("POST", r"/v1/refunds$", self._answer_refund)
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "pending")
        first, retry = self._keys()
        self.assertTrue(first and retry)
        self.assertNotEqual(retry, first)
        self.assertEqual(retry, refund._get_idempotency_key())


@tagged("-at_install", "post_install")
class TestStripeDescriptor(StripeCase):
    def test_proof_prints_the_descriptor_of_the_charge(self):
        """The payment confirmed through Odoo's return route keeps the descriptor
        Stripe computed for its charge, and the proof prints it instead of the
        configured one."""
        tx = self._create_transaction(
            "redirect",
            reference=self._next_reference(),
            provider_id=self.stripe.id,
            payment_method_id=self.card.id,
        )
        self.api.route(
            "GET",
            rf"/v1/payment_intents/{INTENT_ID}$",
            self._payment_intent(tx),
        )
        response = self.url_open(
            f"/payment/stripe/return?reference={tx.reference}"
            f"&payment_intent={INTENT_ID}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        self.env.invalidate_all()
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.refund_charge_descriptor, DESCRIPTOR)
        refund = self._refund_and_answer(tx, status="succeeded")
        html = self._html(refund)
        self.assertIn(DESCRIPTOR, html)
        self.assertNotIn("MYSHOP.EXAMPLE", html, "not the configured descriptor")

    def test_descriptor_of_an_older_payment_comes_with_its_refund(self):
        """A payment without a known descriptor gets it from the refund's charge,
        which the refund request asks Stripe to include."""
        tx = self._stripe_payment(charges={"object": "list", "data": []})
        self.assertFalse(tx.refund_charge_descriptor)
        charge = load("stripe", "charge", description=tx.reference)
        refund = self._refund_and_answer(tx, status="succeeded", charge=charge)
        self.assertEqual(tx.refund_charge_descriptor, DESCRIPTOR)
        self.assertIn(DESCRIPTOR, self._html(refund))


@tagged("-at_install", "post_install")
class TestStripeWebhookSetup(StripeCase):
    def test_created_webhook_subscribes_the_refund_and_dispute_events(self):
        """The "Generate your webhook" button creates an endpoint listening to
        Odoo's events and to the refund and dispute events of refund_proof."""
        self.stripe.stripe_webhook_secret = False
        self.api.route(
            "POST", r"/v1/webhook_endpoints$", load("stripe", "webhook_endpoint")
        )
        self.stripe.action_stripe_create_webhook()
        [sent] = self.api.requests_to("POST", r"/v1/webhook_endpoints$")
        form = self._form(sent)
        events = form["enabled_events[]"]
        expected = [
            *stripe_const.HANDLED_WEBHOOK_EVENTS,
            "refund.created",
            "refund.updated",
            "refund.failed",
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.funds_reinstated",
        ]
        self.assertEqual(sorted(events), sorted(expected))
        self.assertEqual(form["api_version"], [stripe_const.API_VERSION])
        self.assertEqual(
            self.stripe.stripe_webhook_secret, "whsec_created_by_the_fake_stripe"
        )
        self.assertNotIn(
            "refund.updated",
            stripe_const.HANDLED_WEBHOOK_EVENTS,
            "Odoo's own list is left as it is",
        )


@tagged("-at_install", "post_install")
class TestStripeDemo(StripeCase):
    def test_demo_refund_gets_its_arn_by_itself_without_network(self):
        """The demo of `make run` replays recorded Stripe objects: a payment and its
        refund, done, whose ARN arrived by Stripe's event; no request is sent."""
        refund = self.stripe._refund_proof_stripe_demo_replay(
            self.partner.id, "refund_proof_stripe/demo/stripe_demo_objects.json"
        )
        self.assertEqual(len(refund), 1)
        self.assertRecordValues(
            refund, [{"state": "done", "origin": "provider", "arn_type": "arn"}]
        )
        self.assertTrue(refund.arn)
        self.assertTrue(refund.source_transaction_id.refund_charge_descriptor)
        self.assertFalse(self.api.received, "no network")
