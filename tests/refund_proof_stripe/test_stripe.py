"""refund_proof_stripe: Stripe refunds through Odoo's real payment_stripe module.

Only the network is replaced: Stripe's API is a local server
(tests/provider_api_server.py) answering with the objects recorded in
tests/data/stripe/, and Stripe's webhooks are signed by Stripe's own library (PyPI
`stripe`, `stripe.WebhookSignature`: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`) and posted to Odoo's webhook route on the test server.
"""

import json
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import stripe

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger
from odoo.tools.misc import file_open

from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe.models import payment_provider as stripe_provider
from odoo.addons.refund_proof_stripe.const import REFUND_EVENTS as REFUND_EVENT_TYPES

from ..provider_api_server import ProviderAPIServer, load, redirect
from ..refund_proof.test_refund_proof import ProofCommon

STRIPE_API = "https://api.stripe.com"
# Stripe's changelog, 2024-10-28.acacia "refund-webhook-update": since this version
# refund.created / refund.updated / refund.failed are sent for all refunds; before it,
# only for refunds without a charge.
REFUND_EVENTS_API_VERSION = "2024-10-28.acacia"
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

    def _post_event(
        self, event_type, stripe_object, secret=WEBHOOK_SECRET, also=(), **headers
    ):
        """Post a Stripe event to Odoo's webhook route, signed with `secret` by
        Stripe's own library (`stripe.WebhookSignature`; None: unsigned), and with
        the secrets of `also` too, as Stripe signs while a secret is rolled
        (`t=…,v1=…,v1=…`); return the response."""
        event = load("stripe", "event", type=event_type)
        if event_type.startswith("refund."):
            # Stripe sends refund.* events for card refunds only to endpoints at
            # 2024-10-28.acacia or later (the one Odoo creates is at 2019-05-16).
            event["api_version"] = REFUND_EVENTS_API_VERSION
        event["data"] = {"object": stripe_object, "previous_attributes": {}}
        raw = json.dumps(event).encode()
        request_headers = {"Content-Type": "application/json"}
        if secret is not None:
            timestamp = headers.pop("timestamp", int(time.time()))
            header = stripe.WebhookSignature.generate_signature_header(
                raw.decode(), secret, timestamp=timestamp
            )
            for other in also:
                other_header = stripe.WebhookSignature.generate_signature_header(
                    raw.decode(), other, timestamp=timestamp
                )
                header += "," + other_header.split(",", 1)[1]
            request_headers["Stripe-Signature"] = header
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
class TestStripeEndpointVersion(StripeCase):
    """What an endpoint at Odoo's API version (2019-05-16) receives for a card
    refund: `charge.refund.updated` only, never `refund.*` (Stripe's changelog
    2024-10-28.acacia); the ARN comes by it or by asking Stripe."""

    def test_card_refund_lifecycle_through_charge_refund_updated_only(self):
        """A card refund followed through charge.refund.updated alone: pending,
        then succeeded without its ARN (done, the ARN to follow, Stripe to be
        asked), then the ARN arriving on a later charge.refund.updated."""
        tx = self._stripe_payment()
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "pending")
        response = self._post_event(
            "charge.refund.updated",
            load("stripe", "refund_pending", status="succeeded"),
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done", "arn": False}])
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_available")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN}])
        self.assertEqual(tx.refund_ids, refund)

    def test_events_of_the_endpoint_version_say_so(self):
        """The recorded event envelope is at Odoo's API version; the tests post
        refund.* events at 2024-10-28.acacia, the first version Stripe sends them
        at for card refunds."""
        self.assertEqual(load("stripe", "event")["api_version"], "2019-05-16")
        self.assertEqual(stripe_const.API_VERSION, "2019-05-16")
        self.assertGreater(REFUND_EVENTS_API_VERSION, stripe_const.API_VERSION)

    def test_refund_requiring_an_action_stays_pending(self):
        """A refund Stripe reports `requires_action` (no money moved yet) stays
        pending with its amount held; no reference is read."""
        tx = self._stripe_payment()
        refund = self._refund(tx, 40.0)
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_requires_action")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund, [{"state": "pending", "arn": False, "arn_unavailable": False}]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")

    def test_canceled_refund_fails_and_frees_its_amount(self):
        """A refund Stripe reports `canceled` (it required an action that never
        came) fails and frees its amount; its `unavailable` reference means nothing
        and is not recorded."""
        tx = self._stripe_payment()
        refund = self._refund(tx, 40.0)
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_canceled")
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(
            refund, [{"state": "failed", "arn": False, "arn_unavailable": False}]
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="freed")

    def test_reference_of_a_type_without_reference_status_is_read(self):
        """Stripe's `crypto` destination has a `reference` and no `reference_status`:
        asked for the refund, the bridge reads that reference (refund_proof then
        records it if it is an ARN or a bank reference, which a transaction hash is
        not)."""
        tx = self._stripe_payment()
        refund = self._refund_and_answer(tx, status="succeeded")
        crypto = load("stripe", "refund_crypto")
        self.api.route("GET", rf"/v1/refunds/{REFUND_ID}$", crypto)
        answer = refund.transaction_ids._refund_proof_fetch_reference()
        self.assertEqual(
            answer,
            {
                "reference": crypto["destination_details"]["crypto"]["reference"],
                "unavailable": False,
            },
        )
        self.assertEqual(len(self.api.requests_to("GET", r"/v1/refunds/")), 1)


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

    def test_every_v1_signature_of_a_rolled_secret_is_checked(self):
        """While a secret is rolled Stripe signs with each secret of the endpoint
        (`t=…,v1=<current>,v1=<old>`): the event is accepted whichever `v1` is
        Odoo's secret, as Stripe's library accepts it."""
        _tx, refund = self._paid_and_refunding()
        response = self._post_event(
            "charge.refund.updated",
            load("stripe", "refund_available"),
            also=["whsec_the_rolled_one"],
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN}])

    def test_previous_secret_is_accepted_until_its_end_date(self):
        """After a roll, events signed with the previous secret only (retried ones)
        are accepted until the end date set for it, refused after it."""
        tx, refund = self._paid_and_refunding()
        old = "whsec_the_rolled_one"
        self.stripe.write(
            {
                "stripe_previous_webhook_secret": old,
                "stripe_previous_webhook_secret_expiry": fields.Datetime.now()
                - timedelta(minutes=1),
            }
        )
        with self.assertLogs(STRIPE_CONTROLLER_LOGGER, "WARNING"):
            response = self._post_event(
                "charge.refund.updated", load("stripe", "refund_available"), old
            )
        self.assertEqual(response.status_code, 403)
        self._assert_nothing_changed(tx, refund)

        self.stripe.stripe_previous_webhook_secret_expiry = (
            fields.Datetime.now() + timedelta(hours=24)
        )
        response = self._post_event(
            "charge.refund.updated", load("stripe", "refund_available"), old
        )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN}])

    def test_previous_secret_needs_an_end_date(self):
        """A previous webhook secret without its end date is refused."""
        with self.assertRaisesRegex(ValidationError, "previous webhook signing"):
            self.stripe.stripe_previous_webhook_secret = "whsec_the_rolled_one"


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

    def test_demo_replays_only_events_of_odoos_endpoint_version(self):
        """The demo's events are those an endpoint at Odoo's API version
        (2019-05-16) receives for a card refund: no refund.* event, which Stripe
        sends for card refunds only from 2024-10-28.acacia."""
        with file_open("refund_proof_stripe/demo/stripe_demo_objects.json") as file:
            recorded = json.load(file)
        for event in recorded["events"]:
            with self.subTest(event=event["id"]):
                self.assertEqual(event["api_version"], stripe_const.API_VERSION)
                self.assertNotIn(event["type"], REFUND_EVENT_TYPES)
                self.assertIn(event["type"], stripe_const.HANDLED_WEBHOOK_EVENTS)


@tagged("-at_install", "post_install")
class TestStripePayloads(TransactionCase):
    """The recorded Stripe objects of tests/data/stripe/ are objects of Stripe's own
    library (PyPI `stripe`): each is built with `construct_from` and has no field
    that the library's model of it does not know."""

    # Fields of API version 2019-05-16 that Stripe removed since (changelog
    # 2022-11-15: PaymentIntent.charges), absent from today's library.
    REMOVED_FIELDS = {"payment_intent.json": {"charges"}}

    def _unknown_fields(self, cls, payload, path=""):
        known = set()
        for klass in cls.__mro__:
            known |= set(getattr(klass, "__annotations__", {}))
        unknown = [f"{path}{key}" for key in payload if key not in known]
        for key, value in payload.items():
            inner = cls._inner_class_types.get(key)
            for item in value if isinstance(value, list) else [value]:
                if inner and isinstance(item, dict):
                    unknown += self._unknown_fields(inner, item, f"{path}{key}.")
        return unknown

    def test_recorded_objects_are_stripe_objects_without_unknown_fields(self):
        """Each recorded object is the `stripe` library's object of its kind."""
        classes = {
            "refund": stripe.Refund,
            "dispute": stripe.Dispute,
            "charge": stripe.Charge,
            "payment_intent": stripe.PaymentIntent,
            "file": stripe.File,
            "event": stripe.Event,
            "webhook_endpoint": stripe.WebhookEndpoint,
        }
        paths = sorted((Path(__file__).parents[1] / "data" / "stripe").glob("*.json"))
        checked = 0
        for path in paths:
            payload = json.loads(path.read_text())
            self.assertIn("API version", payload.get("_doc", ""), path.name)
            payload.pop("_doc", None)
            if "error" in payload:
                continue  # An error answer, not an object.
            # A list answer (GET refunds?charge=) holds objects in `data`.
            objects = payload["data"] if payload["object"] == "list" else [payload]
            for stripe_dict in objects:
                kind = stripe_dict["object"]
                with self.subTest(payload=path.name, object=stripe_dict["id"]):
                    stripe_object = classes[kind].construct_from(
                        stripe_dict, "sk_test_x"
                    )
                    self.assertIsInstance(stripe_object, classes[kind])
                    self.assertEqual(stripe_object.id, stripe_dict["id"])
                    unknown = set(self._unknown_fields(classes[kind], stripe_dict))
                    self.assertEqual(
                        unknown - self.REMOVED_FIELDS.get(path.name, set()), set()
                    )
                    checked += 1
        self.assertGreaterEqual(checked, 14)
