"""The Mollie bridge (refund_proof_mollie) through Odoo's real payment_mollie.

Only the network is replaced: Odoo's calls to https://api.mollie.com/ reach a local
Mollie API v2 (`MollieAPI`, on tests/provider_api_server.py's server) answering with the
objects of tests/data/mollie/, and Mollie's webhook is posted to Odoo's real route as
Mollie posts it: the payment's id only, form-encoded, unsigned, on the webhook URL Odoo
gave the payment (`?ref=<its reference>`).
"""

import time
from contextlib import contextmanager
from unittest.mock import patch

from odoo import Command
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_mollie.models import payment_provider as mollie_provider

from ..pdf_text import pdf_to_text
from ..provider_api_server import ProviderAPIServer, load, redirect
from ..refund_factories import RefundProofCommon

API_BASE = "https://api.mollie.com"
WEBHOOK_URL = "/payment/mollie/webhook"
BRIDGE_PROVIDER_LOGGER = "odoo.addons.refund_proof_mollie.models.payment_provider"
ODOO_PROVIDER_LOGGER = "odoo.addons.payment_mollie.models.payment_provider"
WEBHOOK_LOGGER = "odoo.addons.refund_proof_mollie.controllers.main"


class MollieAPI:
    """Mollie's API v2, as far as these tests need it: Get payment (GET
    /v2/payments/:id, which Odoo's webhook reads), Create Refund (POST
    /v2/payments/:id/refunds), idempotent per `Idempotency-Key` (a repeated key
    answers the refund already made), List payment refunds (GET
    /v2/payments/:id/refunds), which answers the refunds as they are now, and List
    payment chargebacks (GET /v2/payments/:id/chargebacks)."""

    def __init__(self, server):
        self.payments = {}  # tr_… -> payment object
        self.refunds = {}  # re_… -> refund object
        self.chargebacks = {}  # chb_… -> chargeback object
        self.down = False  # Answer the lists with HTTP 503.
        self.status = "pending"  # The status a new refund starts with.
        self.stall = 0  # Seconds to wait before answering a refund request.
        # The first request of each key still being processed: a request with the
        # same key is answered 409.
        self.in_progress = False
        self.refuse = None  # (status, error object) to answer refund requests with.
        self._keys = {}
        server.route("GET", r"/v2/payments/(?P<payment>tr_\w+)$", self._get_payment)
        server.route(
            "POST", r"/v2/payments/(?P<payment>tr_\w+)/refunds$", self._create_refund
        )
        server.route(
            "GET", r"/v2/payments/(?P<payment>tr_\w+)/refunds$", self._list_refunds
        )
        server.route(
            "GET",
            r"/v2/payments/(?P<payment>tr_\w+)/chargebacks$",
            self._list_chargebacks,
        )

    def add_payment(self, tx):
        self.payments[tx.provider_reference] = load(
            "mollie",
            "payment",
            id=tx.provider_reference,
            amount={"currency": tx.currency_id.name, "value": f"{tx.amount:.2f}"},
            description=tx.reference,
        )

    def _get_payment(self, request, match):
        payment = self.payments.get(match["payment"])
        if not payment:
            return 404, {"status": 404, "title": "Not Found", "detail": "No payment"}
        return payment

    def _new_refund(self, payment_id, amount, description, status):
        refund_id = f"re_Test{len(self.refunds) + 1:05d}"
        self.refunds[refund_id] = load(
            "mollie",
            "refund",
            id=refund_id,
            paymentId=payment_id,
            amount=amount,
            description=description,
            status=status,
        )
        return self.refunds[refund_id]

    def _create_refund(self, request, match):
        if self.refuse:
            return self.refuse
        key = request["headers"].get("Idempotency-Key")
        body = request["json"]
        if key in self._keys and self.in_progress:
            return 409, load("mollie", "error_idempotency_in_progress")
        if key in self._keys:
            refund = self.refunds[self._keys[key]]
        else:
            refund = self._new_refund(
                match["payment"], body["amount"], body.get("description"), self.status
            )
            if key:
                self._keys[key] = refund["id"]
        time.sleep(self.stall)
        return 201, refund

    def _list_chargebacks(self, request, match):
        if self.down:
            return 503, {"status": 503, "title": "Service Unavailable", "detail": "-"}
        chargebacks = [
            c for c in self.chargebacks.values() if c["paymentId"] == match["payment"]
        ]
        return load(
            "mollie",
            "chargeback_list",
            count=len(chargebacks),
            _embedded={"chargebacks": chargebacks},
        )

    def add_chargeback(self, payment_id, value):
        chargeback_id = f"chb_Test{len(self.chargebacks) + 1:05d}"
        self.chargebacks[chargeback_id] = load(
            "mollie",
            "chargeback",
            id=chargeback_id,
            paymentId=payment_id,
            amount={"currency": "EUR", "value": value},
        )
        return self.chargebacks[chargeback_id]

    def _list_refunds(self, request, match):
        if self.down:
            return 503, {"status": 503, "title": "Service Unavailable", "detail": "-"}
        refunds = [
            r for r in self.refunds.values() if r["paymentId"] == match["payment"]
        ]
        return load(
            "mollie", "refund_list", count=len(refunds), _embedded={"refunds": refunds}
        )

    def made_in_dashboard(self, payment_id, value, status="refunded"):
        """A refund made in Mollie's dashboard: Odoo never asked for it."""
        return self._new_refund(
            payment_id,
            {"currency": "EUR", "value": value},
            "Refunded from the dashboard",
            status,
        )


@tagged("-at_install", "post_install")
class TestMollie(RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mollie = cls._prepare_provider(
            "mollie",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "mollie_api_key": "test_refundproofmollie",
                "payment_method_ids": [
                    Command.set([cls.env.ref("payment.payment_method_card").id])
                ],
            },
        )
        cls.mollie.payment_method_ids.write({"active": True})
        cls._payments = 0

    def setUp(self):
        super().setUp()
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        self.server = server
        self.api = MollieAPI(server)
        self.enterContext(redirect(mollie_provider.requests, API_BASE, server))

    # --- helpers --- #

    @contextmanager
    def _slow_network(self, seconds=0.5):
        """Odoo waits 60 s for Mollie's answer: here the network gives up after
        `seconds`, which is what a Mollie answering late (its `stall` longer than
        `seconds`) looks like to Odoo."""
        redirected = mollie_provider.requests.post

        def post(url, *args, **kwargs):
            return redirected(url, *args, **{**kwargs, "timeout": seconds})

        with patch.object(mollie_provider.requests, "post", post):
            yield

    def _paid(self, amount=100.0):
        """A paid Mollie card payment in EUR (tr_…), known to the fake API."""
        type(self)._payments += 1
        tx = self._create_paid_transaction(
            amount,
            provider=self.mollie,
            provider_reference=f"tr_Test{self._payments:05d}",
            currency_id=self.currency_euro.id,
        )
        self.api.add_payment(tx)
        return tx

    def _mollie_refund(self, refund):
        """The refund object Mollie holds for a refund record."""
        return self.api.refunds[refund.transaction_ids.provider_reference]

    def _post_webhook(self, tx, **data):
        """POST Mollie's webhook for the payment `tx`, as Mollie does: its id only,
        form-encoded, on the URL Odoo gave (`?ref=`); `data` replaces the post."""
        self.env.flush_all()
        response = self.url_open(
            f"{WEBHOOK_URL}?ref={tx.reference}",
            data=data or {"id": tx.provider_reference},
        )
        self.env.invalidate_all()
        return response

    def _refund_requests(self):
        return self.server.requests_to("POST", r"/v2/payments/tr_\w+/refunds$")

    def _list_requests(self):
        return self.server.requests_to("GET", r"/v2/payments/tr_\w+/refunds$")

    # --- capabilities --- #

    def test_mollie_refunds_in_part(self):
        """Mollie providers declare partial refunds; a Mollie card payment is
        refundable in part."""
        self.assertEqual(self.mollie.support_refund, "partial")
        self.assertEqual(self._paid()._get_refund_support(), "partial")

    # --- refund requests --- #

    def test_partial_refund_request_carries_amount_description_and_key(self):
        """A partial refund reaches Mollie as Create Refund with its amount in EUR, a
        description naming the refund and the shop, and the refund's idempotency
        key; Mollie's pending refund keeps the refund pending with its re_ id."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        [request] = self._refund_requests()
        self.assertEqual(
            request["path"], f"/v2/payments/{tx.provider_reference}/refunds"
        )
        self.assertEqual(
            request["json"],
            {
                "amount": {"currency": "EUR", "value": "40.00"},
                "description": f"{refund.name} {refund.statement_descriptor}",
            },
        )
        self.assertTrue(refund.statement_descriptor)
        self.assertEqual(
            request["headers"].get("Idempotency-Key"), refund._get_idempotency_key()
        )
        self.assertEqual(
            request["headers"].get("Authorization"), "Bearer test_refundproofmollie"
        )
        self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        self.assertRecordValues(
            refund.transaction_ids,
            [{"state": "pending", "amount": -40.0, "operation": "refund"}],
        )
        self.assertEqual(
            refund.transaction_ids.provider_reference, next(iter(self.api.refunds))
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_full_refund_refunded_at_once_is_done(self):
        """A full refund Mollie answers refunded is done, the payment refunded in
        full."""
        tx = self._paid(100.0)
        self.api.status = "refunded"
        refund = self._refund(tx)
        [request] = self._refund_requests()
        self.assertEqual(
            request["json"]["amount"], {"currency": "EUR", "value": "100.00"}
        )
        self.assertRecordValues(refund, [{"state": "done", "amount": 100.0}])
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(tx.refund_status, "full")
        self.assertAlmostEqual(tx.refund_remaining_amount, 0.0)

    def test_proof_and_email_say_how_the_refund_appears_without_arn(self):
        """Mollie gives no ARN: the refund expects none, and its proof (the real PDF),
        e-mail and portal page say it shows as a credit from the statement descriptor
        instead of "ARN to follow"; nothing is ever fetched for it."""
        self.env["ir.config_parameter"].sudo().set_param("report.url", self.base_url())
        self.env.company.refund_statement_descriptor = "MYSHOP.EXAMPLE"
        tx = self._paid(100.0)
        self.api.status = "refunded"
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "done")
        self.assertFalse(refund.arn_expected)
        self.assertFalse(refund.reference_next_fetch)
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("refund_proof.action_report_refund_proof", refund.ids)
        )
        self.assertEqual(kind, "pdf")
        text = " ".join(pdf_to_text(pdf).split())
        self.assertIn("No ARN for this refund.", text)
        self.assertIn("credit from MYSHOP.EXAMPLE", text)
        self.assertNotIn("ARN to follow", text)
        template = self.env.ref("refund_proof.mail_template_refund_done")
        body = template._render_field("body_html", refund.ids)[refund.id]
        self.assertIn("ARN: none for this refund", body)
        self.assertIn("credit from MYSHOP.EXAMPLE", body)
        self.assertNotIn("ARN: to follow", body)
        # A card payment of another provider still waits for its ARN.
        other = self._create_paid_transaction(50.0)
        other_refund = self._refund(other)
        self.assertTrue(other_refund.arn_expected)

    def test_queued_and_processing_refunds_are_pending(self):
        """Mollie's queued (balance too low) and processing refunds are pending."""
        for status in ("queued", "processing"):
            with self.subTest(status=status):
                self.api.status = status
                refund = self._refund(self._paid(100.0), 25.0)
                self.assertEqual(refund.state, "pending")
                self.assertEqual(refund.transaction_ids.state, "pending")

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_refused_refund_request_fails_with_mollies_detail(self):
        """Mollie refusing the request (HTTP 422) fails the refund with Mollie's
        detail and frees its amount."""
        tx = self._paid(100.0)
        self.api.refuse = (422, load("mollie", "error_refund_amount"))
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn(
            "The amount is higher than the amount that can be refunded",
            refund.failure_message,
        )
        self.assertFalse(refund.outcome_unknown)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_retry_after_unknown_outcome_sends_the_same_key(self):
        """Mollie refunds but answers after the network gave up: the refund stays
        pending, held; a manager marks it not refunded and the retry carries the
        same Idempotency-Key: Mollie answers the refund it made, none is made
        twice."""
        tx = self._paid(100.0)
        self.api.stall = 1.5  # Longer than the network's 0.5 s.
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.assertEqual(refund.state, "failed")
        self.api.stall = 0
        refund.with_user(self.refund_user).action_retry()
        requests = self._refund_requests()
        self.assertEqual(len(requests), 2)
        self.assertEqual(
            {r["headers"]["Idempotency-Key"] for r in requests},
            {refund._get_idempotency_key()},
        )
        self.assertEqual(len(self.api.refunds), 1, "Mollie refunded once")
        [refund_id] = self.api.refunds
        self.assertRecordValues(
            refund, [{"state": "pending", "outcome_unknown": False}]
        )
        self.assertEqual(refund.transaction_ids.provider_reference, refund_id)

    def test_retry_after_marked_not_refunded_follows_the_same_mollie_refund(self):
        """A pending refund a manager marks not refunded, then retried: the same key
        makes Mollie answer the refund it made, whose status both attempts then
        follow: the refund is done once Mollie refunded it, refunded once."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        refund.with_user(self.refund_manager).action_mark_not_refunded()
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(len(self.api.refunds), 1, "Mollie refunded once")
        [refund_id] = self.api.refunds
        self.assertEqual(
            set(refund.transaction_ids.mapped("provider_reference")), {refund_id}
        )
        self.api.refunds[refund_id]["status"] = "refunded"
        self.assertEqual(self._post_webhook(tx).status_code, 200)
        self.assertEqual(set(refund.transaction_ids.mapped("state")), {"done"})
        self.assertRecordValues(refund, [{"state": "done"}])
        self.assertEqual(tx.refund_ids, refund)
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_409_while_the_first_request_is_in_progress_keeps_it_pending(self):
        """Mollie answering 409 to a retry (the first request with this key still
        being processed) is no refusal: the refund stays pending, held, with its
        key."""
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
        self.assertEqual(
            {r["headers"]["Idempotency-Key"] for r in self._refund_requests()},
            {refund._get_idempotency_key()},
        )

    # --- the webhook: Mollie's API is read, the post is not --- #

    def test_webhook_makes_the_pending_refund_done_from_the_api(self):
        """Mollie's webhook (the payment's id only) makes Odoo read the payment's
        refunds: the refund Mollie now says refunded is done."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "pending")
        self._mollie_refund(refund)["status"] = "refunded"
        response = self._post_webhook(tx)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self._list_requests()), 1)
        self.assertEqual(tx.refund_ids, refund)
        self.assertRecordValues(refund, [{"state": "done", "arn": False}])
        self.assertEqual(refund.transaction_ids.state, "done")
        self.assertEqual(tx.state, "done", "the payment itself is still paid")

    def test_webhook_fails_the_refund_mollie_says_failed(self):
        """A refund Mollie reports failed (or canceled) fails, its amount freed."""
        for status in ("failed", "canceled"):
            with self.subTest(status=status):
                tx = self._paid(100.0)
                refund = self._refund(tx, 40.0)
                self._mollie_refund(refund)["status"] = status
                self.assertEqual(self._post_webhook(tx).status_code, 200)
                self.assertEqual(refund.state, "failed")
                self.assertEqual(refund.transaction_ids.state, "error")
                self.assertIn(status, refund.failure_message)
                self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_refund_failed_after_refunded_fails(self):
        """Mollie's "failed after processing" of a refund already refunded fails it
        (the money is back on the merchant's balance)."""
        tx = self._paid(100.0)
        self.api.status = "refunded"
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "done")
        self._mollie_refund(refund)["status"] = "failed"
        self.assertEqual(self._post_webhook(tx).status_code, 200)
        self.assertEqual(refund.state, "failed")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_refund_made_in_the_dashboard_is_recorded_once(self):
        """A refund made in Mollie's dashboard is recorded once, however many times
        Mollie calls the webhook, and follows Mollie's status."""
        tx = self._paid(100.0)
        dashboard = self.api.made_in_dashboard(
            tx.provider_reference, "30.00", status="pending"
        )
        for _delivery in range(2):
            self.assertEqual(self._post_webhook(tx).status_code, 200)
        self.assertRecordValues(
            tx.refund_ids, [{"origin": "provider", "state": "pending", "amount": 30.0}]
        )
        self.assertEqual(
            tx.refund_ids.transaction_ids.provider_reference, dashboard["id"]
        )
        dashboard["status"] = "refunded"
        self._post_webhook(tx)
        self.assertEqual(len(tx.child_transaction_ids), 1)
        self.assertRecordValues(tx.refund_ids, [{"state": "done"}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 70.0)

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_webhook_settles_the_refund_of_unknown_outcome(self):
        """Mollie's refund of a request whose answer never came (its attempt rolled
        back) settles that same refund when the webhook reads it, not a second
        one."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertFalse(refund.transaction_ids, "the attempt was rolled back")
        [mollie_refund] = self.api.refunds.values()
        mollie_refund["status"] = "refunded"
        self.assertEqual(self._post_webhook(tx).status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "the same refund, not a second one")
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertEqual(refund.transaction_ids.provider_reference, mollie_refund["id"])

    def test_forged_webhook_changes_nothing_unless_the_api_says_so(self):
        """Posts to the webhook (unsigned by design) naming refunds, statuses or
        other ids change nothing while Mollie's API says the refund is pending."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        refund_tx = refund.transaction_ids
        forged = [
            {"id": refund_tx.provider_reference, "status": "refunded"},
            {"id": "re_Forged00001", "status": "refunded", "amount": "100.00"},
            {"id": "tr_Forged00001"},
        ]
        for data in forged:
            with self.subTest(data=data):
                self.assertEqual(self._post_webhook(tx, **data).status_code, 200)
                self.assertEqual(tx.refund_ids, refund)
                self.assertEqual(tx.child_transaction_ids, refund_tx)
                self.assertEqual(refund.state, "pending")
        # Naming the refund's own reference in the URL: handled as its payment's.
        self.env.flush_all()
        response = self.url_open(
            f"{WEBHOOK_URL}?ref={refund_tx.reference}",
            data={"id": refund_tx.provider_reference},
        )
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        self.assertFalse(
            self.server.requests_to(
                "GET", rf"/v2/payments/{refund_tx.provider_reference}"
            )
        )
        self.assertEqual(refund.state, "pending")
        self.assertEqual(tx.child_transaction_ids, refund_tx)
        # Then Mollie's API says refunded: the next call, whatever it posts, tells.
        self._mollie_refund(refund)["status"] = "refunded"
        self._post_webhook(tx, id="tr_Forged00001")
        self.assertEqual(refund.state, "done")

    def test_webhook_of_an_unknown_reference_changes_nothing(self):
        """A post naming no transaction of this database is acknowledged; Mollie's
        API is not asked for refunds."""
        self.env.flush_all()
        with mute_logger("odoo.addons.payment_mollie.controllers.main"):
            response = self.url_open(
                f"{WEBHOOK_URL}?ref=NOT-A-REFERENCE", data={"id": "tr_Unknown0001"}
            )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(self._list_requests())

    @mute_logger(ODOO_PROVIDER_LOGGER, WEBHOOK_LOGGER)
    def test_webhook_answers_503_when_mollie_cannot_be_read(self):
        """Mollie's API unreadable on the webhook: nothing changes and the webhook
        answers 503, for Mollie to call it again."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self._mollie_refund(refund)["status"] = "refunded"
        self.api.down = True
        self.assertEqual(self._post_webhook(tx).status_code, 503)
        self.assertEqual(refund.state, "pending")
        self.api.down = False
        self.assertEqual(self._post_webhook(tx).status_code, 200)
        self.assertEqual(refund.state, "done")

    # --- the webhook's safety net --- #

    def _age(self, refund, hours=2):
        """Make the refund's attempt last change `hours` ago."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE payment_transaction SET last_state_change = "
            "now() at time zone 'UTC' - make_interval(hours => %s) WHERE id IN %s",
            (hours, tuple(refund.transaction_ids.ids)),
        )
        self.env.invalidate_all()

    def test_cron_reads_refunds_pending_for_an_hour(self):
        """Without Mollie's webhook, the cron reads the refunds of payments whose
        refund is still pending an hour after its last change; a refund pending for
        less is not read yet."""
        old_tx, new_tx = self._paid(100.0), self._paid(100.0)
        old, new = self._refund(old_tx, 40.0), self._refund(new_tx, 30.0)
        self._age(old)
        for refund in (old, new):
            self._mollie_refund(refund)["status"] = "refunded"
        self.env["payment.transaction"]._refund_proof_mollie_cron_sync_refunds()
        self.assertEqual(
            [r["path"] for r in self._list_requests()],
            [f"/v2/payments/{old_tx.provider_reference}/refunds"],
        )
        self.assertEqual(old.state, "done")
        self.assertEqual(new.state, "pending")

    @mute_logger(BRIDGE_PROVIDER_LOGGER)
    def test_cron_settles_the_refund_of_unknown_outcome(self):
        """The cron reads the payment of a refund of unknown outcome at once: the
        refund Mollie made settles it."""
        tx = self._paid(100.0)
        self.api.stall = 1.5
        with self._slow_network(0.5):
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.env["payment.transaction"]._refund_proof_mollie_cron_sync_refunds()
        self.assertEqual(tx.refund_ids, refund)
        self.assertRecordValues(
            refund, [{"state": "pending", "outcome_unknown": False}]
        )
        self.assertEqual(
            refund.transaction_ids.provider_reference, next(iter(self.api.refunds))
        )

    @mute_logger(ODOO_PROVIDER_LOGGER)
    def test_cron_skips_a_payment_mollie_cannot_tell_about(self):
        """Mollie unreachable: the cron changes nothing and raises nothing."""
        tx = self._paid(100.0)
        refund = self._refund(tx, 40.0)
        self._age(refund)
        self.api.down = True
        self.env["payment.transaction"]._refund_proof_mollie_cron_sync_refunds()
        self.assertEqual(refund.state, "pending")

    # --- chargebacks --- #

    def test_chargeback_is_a_dispute_not_a_refund(self):
        """A chargeback Mollie lists is recorded once as the payment's dispute
        (needs a response, Mollie's reason and date), logged on the payment, never
        a refund."""
        tx = self._paid(100.0)
        chargeback = self.api.add_chargeback(tx.provider_reference, "100.00")
        for _delivery in range(2):
            self.assertEqual(self._post_webhook(tx).status_code, 200)
        dispute = self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )
        self.assertRecordValues(
            dispute,
            [
                {
                    "provider_reference": chargeback["id"],
                    "kind": "chargeback",
                    "state": "needs_response",
                    "amount": 100.0,
                    "reason_code": "MD06",
                    "provider_reason": "Disputed authorized transaction",
                    "origin": "provider",
                }
            ],
        )
        self.assertEqual(str(dispute.opened_date), "2026-01-10 09:13:37")
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        self.assertEqual(
            len(dispute.message_ids.filtered(lambda m: "chargeback" in (m.body or ""))),
            1,
            "the second call said nothing new",
        )
        self.assertTrue(
            tx.payment_id.message_ids.filtered(
                lambda m: chargeback["id"] in (m.body or "")
            ),
            "logged on the payment",
        )

    def test_reversed_chargeback_is_won(self):
        """A chargeback Mollie then lists reversed is won."""
        tx = self._paid(100.0)
        chargeback = self.api.add_chargeback(tx.provider_reference, "100.00")
        self._post_webhook(tx)
        chargeback["reversedAt"] = "2026-01-20T10:00:00+00:00"
        self.assertEqual(self._post_webhook(tx).status_code, 200)
        dispute = self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )
        self.assertRecordValues(
            dispute, [{"state": "won", "provider_reference": chargeback["id"]}]
        )
