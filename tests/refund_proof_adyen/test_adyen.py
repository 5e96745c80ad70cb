"""The Adyen bridge (refund_proof_adyen) through Odoo's real payment_adyen.

Only the network is replaced: Adyen's Checkout API (v70) is a local server
(`provider_api_server.ProviderAPIServer`, answering with the payloads of
tests/data/adyen/, and honouring the Idempotency-Key header as Adyen does), and Adyen's
webhook events are signed by Adyen's own Python library (PyPI `Adyen`) and posted to
Odoo's real route.
"""

import json
import secrets
import threading
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

import Adyen.util

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment_adyen.models import payment_provider as adyen_provider_module

from ..provider_api_server import ProviderAPIServer, load, redirect
from ..refund_proof.test_refund_mail import MailCase

HMAC_KEY = "44782def547aaa06c910c43932b1eb0c71fc68d9d0c057550c48ec2acf6ba056"
WRONG_HMAC_KEY = "0b1f6c1e1d1c7f3a9d5e2a4b6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70819"
URL_PREFIX = "1797a841fbb37ca7-RefundProofTest"
# Where payment_adyen sends Checkout API calls of a provider in test mode.
API_BASE = f"https://{URL_PREFIX}.adyen.com/checkout"
MERCHANT_ACCOUNT = "RefundProofTestMerchant"
WEBHOOK_URL = "/payment/adyen/notification"
ARN_IN_EVENT = "24612345678901234567898"  # tests/data/adyen/notification_refund_arn
DISPUTE_EVENTS = (
    "notification_request_for_information",
    "notification_notification_of_chargeback",
    "notification_chargeback",
    "notification_second_chargeback",
)


def adyen_signature(item, hmac_key):
    """Adyen's HMAC signature of a notification item, made by Adyen's own Python
    library (`Adyen.util.generate_notification_sig`, PyPI `Adyen`): the eight signed
    values joined by ':' as they are, HMAC-SHA256 with the binary form of the hex
    key, in base64."""
    unsigned = {key: value for key, value in item.items() if key != "additionalData"}
    return Adyen.util.generate_notification_sig(unsigned, hmac_key).decode()


class AdyenCase(MailCase):
    """An Adyen provider in test mode whose Checkout API is the local fake server,
    and Adyen's signed events (shared with test_dispute_adyen.py)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.adyen = cls._prepare_provider(
            "adyen",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "adyen_merchant_account": MERCHANT_ACCOUNT,
                "adyen_api_key": "test_api_key",
                "adyen_client_key": "test_client_key",
                "adyen_hmac_key": HMAC_KEY,
                "adyen_api_url_prefix": URL_PREFIX,
            },
        )
        cls.adyen.payment_method_ids.write({"active": True})

    def setUp(self):
        super().setUp()
        self.api = ProviderAPIServer().start()
        self.addCleanup(self.api.stop)
        self.api.route(
            "POST", r"/V70/payments/(?P<psp>\w+)/refunds$", self._answer_refund
        )
        self.enterContext(redirect(adyen_provider_module.requests, API_BASE, self.api))
        # Adyen's side: the refunds it made (its Customer Area), the answers it keeps
        # per idempotency key, and how it answers the next new requests.
        self.adyen_refunds = []
        self.answers_by_key = {}
        self.script = []
        self.release = threading.Event()
        self.addCleanup(self.release.set)

    # Adyen's refunds endpoint (Checkout v70).

    def _answer_refund(self, request, match):
        """Make the refund and answer `received` (201), or refuse it (422) or make it
        and answer too late ("stall"), as scripted; a request whose Idempotency-Key
        Adyen has seen gets the first answer again, and nothing is made twice."""
        key = self._idempotency_key(request)
        if key in self.answers_by_key:
            return self.answers_by_key[key]
        outcome = self.script.pop(0) if self.script else "received"
        if outcome == "refuse":
            return 422, load("adyen", "refund_refused")
        body = request["json"]
        answer = load(
            "adyen",
            "refund_received",
            merchantAccount=body["merchantAccount"],
            paymentPspReference=match["psp"],
            pspReference=f"REFUND{len(self.adyen_refunds) + 1:010d}",
            reference=body["reference"],
            amount=body["amount"],
        )
        self.adyen_refunds.append(answer)
        if key:
            self.answers_by_key[key] = (201, answer)
        if outcome == "stall":
            self.release.wait(5)  # Made, but the answer comes after Odoo gave up.
        return 201, answer

    @staticmethod
    def _idempotency_key(request):
        headers = {name.lower(): value for name, value in request["headers"].items()}
        return headers.get("idempotency-key")

    def _refund_requests(self):
        return self.api.requests_to("POST", r"/V70/payments/\w+/refunds$")

    @contextmanager
    def _slow_network(self, seconds=0.5):
        """Odoo waits 60 s for Adyen's answer: here the network gives up after
        `seconds`, which is what an Adyen answering late looks like to Odoo."""
        redirected = adyen_provider_module.requests.request

        def request(method, url, *args, **kwargs):
            return redirected(method, url, *args, **{**kwargs, "timeout": seconds})

        with patch.object(adyen_provider_module.requests, "request", request):
            yield

    # Payments, refunds and Adyen's events.

    def _paid(self, amount=100.0):
        """An Adyen card payment (its pspReference in provider_reference), invoiced."""
        tx = self._create_paid_transaction(
            amount,
            provider=self.adyen,
            provider_reference=secrets.token_hex(8).upper(),
        )
        tx.invoice_ids = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[amount], post=True
        )
        return tx

    def _post_event(self, name, hmac_key=HMAC_KEY, **changes):
        """Post Adyen's notification of the event `tests/data/adyen/<name>.json`
        (with `changes`), signed with `hmac_key` (None: unsigned), to Odoo's route."""
        item = load("adyen", name, merchantAccountCode=MERCHANT_ACCOUNT, **changes)
        item.setdefault("additionalData", {})
        if hmac_key:
            item["additionalData"]["hmacSignature"] = adyen_signature(item, hmac_key)
        return self._post_item(item)

    def _dispute_item(self, tx, name="notification_chargeback", **changes):
        """Adyen's NotificationRequestItem `name` about a dispute of `tx`, signed by
        Adyen's library with the provider's key."""
        values = {
            "merchantAccountCode": MERCHANT_ACCOUNT,
            "merchantReference": tx.reference,
            "originalReference": tx.provider_reference,
            "pspReference": "DISPUTE000000001",
            **changes,
        }
        item = load("adyen", name, **values)
        item.setdefault("additionalData", {})
        item["additionalData"]["hmacSignature"] = adyen_signature(item, HMAC_KEY)
        return item

    def _post_item(self, item):
        """Post one NotificationRequestItem as Adyen's notification, as it is."""
        body = {
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": item}],
        }
        response = self.url_open(
            WEBHOOK_URL,
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        self.env.invalidate_all()
        return response

    def _post_refund_event(self, name, refund, hmac_key=HMAC_KEY, **changes):
        """Post Adyen's event `name` about the refund of `refund` that Adyen made."""
        attempt = refund.transaction_ids.sorted("id")[-1:]
        values = {
            "pspReference": attempt.provider_reference,
            "originalReference": refund.source_transaction_id.provider_reference,
            "merchantReference": attempt.reference,
            "amount": {"currency": refund.currency_id.name, "value": 4000},
            **changes,
        }
        return self._post_event(name, hmac_key=hmac_key, **values)

    def _post_dispute_event(self, name, tx, hmac_key=HMAC_KEY, **changes):
        values = {"merchantReference": tx.reference, "pspReference": "DISPUTE000000001"}
        if name != "notification_second_chargeback":  # Adyen's has none.
            values["originalReference"] = tx.provider_reference
        return self._post_event(name, hmac_key=hmac_key, **{**values, **changes})

    def _done_adyen_refund(self, tx, event="notification_refund"):
        """A refund of 40.00 requested in Odoo, made by Adyen (its signed REFUND
        event received)."""
        refund = self._refund(tx, 40.0)
        self.assertEqual(self._post_refund_event(event, refund).status_code, 200)
        self.assertEqual(refund.state, "done")
        return refund

    def _dispute_logs(self, tx):
        return tx.invoice_ids.message_ids.filtered(
            lambda m: "Dispute event from" in (m.body or "")
        )


@tagged("-at_install", "post_install")
class TestAdyen(AdyenCase):
    # Tests.

    def test_refund_is_sent_to_adyen_and_made_done_by_its_signed_event(self):
        """A refund in Odoo is POSTed to Adyen's Checkout v70 refunds endpoint with its
        Idempotency-Key, pending while Adyen answers `received`; Adyen's signed REFUND
        event makes it done."""
        tx = self._paid()
        refund = self._refund(tx, 40.0)
        [request] = self._refund_requests()
        self.assertEqual(
            request["path"], f"/V70/payments/{tx.provider_reference}/refunds"
        )
        attempt = refund.transaction_ids
        self.assertEqual(
            request["json"],
            {
                "merchantAccount": MERCHANT_ACCOUNT,
                "amount": {"value": 4000, "currency": tx.currency_id.name},
                "reference": attempt.reference,
            },
        )
        self.assertEqual(self._idempotency_key(request), refund._get_idempotency_key())
        self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        self.assertEqual(attempt.provider_reference, "REFUND0000000001")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0, msg="held")

        response = self._post_refund_event("notification_refund", refund)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.refund_ids, refund, "completed, nothing new recorded")
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": False, "customer_mail_pending": "done"}],
        )
        self.assertEqual(attempt.state, "done")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_refund_event_with_an_arn_records_it(self):
        """An ARN in the REFUND event (additionalData.arn) is the refund's ARN."""
        refund = self._done_adyen_refund(self._paid(), event="notification_refund_arn")
        self.assertRecordValues(
            refund.with_user(self.refund_user),
            [{"state": "done", "arn": ARN_IN_EVENT, "customer_mail_pending": "done"}],
        )

    def test_acquirer_reference_is_recorded_only_when_it_is_an_arn(self):
        """additionalData.acquirerReference is recorded when it has the form of an
        ARN; another acquirer reference (reconciliation) is not taken for one."""
        for reference, expected in (
            ("7461 2345 6789 0987 6543 213", "74612345678909876543213"),
            ("ACQ7CA4HN3XD2TY", False),
        ):
            with self.subTest(reference=reference):
                refund = self._refund(self._paid(), 40.0)
                self._post_refund_event(
                    "notification_refund",
                    refund,
                    additionalData={"acquirerReference": reference},
                )
                self.assertRecordValues(refund, [{"state": "done", "arn": expected}])

    def _assert_failure_after_done(self, event):
        """Adyen's `event` after the refund was done (and its proof e-mailed)."""
        tx = self._paid()
        refund = self._done_adyen_refund(tx, event="notification_refund_arn")
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1, "proof e-mailed")
        self.assertIn("Genuine", self.url_open(refund.verification_url).text)

        self.assertEqual(self._post_refund_event(event, refund).status_code, 200)
        self.assertRecordValues(refund.transaction_ids, [{"state": "error"}])
        self.assertRecordValues(
            refund.with_user(self.refund_user), [{"state": "failed"}]
        )
        self.assertIn("Adyen", refund.failure_message)
        self.assertTrue(refund.reversal_date)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")
        page = self.url_open(refund.verification_url).text
        self.assertIn("Revoked", page)
        self.assertNotIn("Genuine", page)
        activities = refund.sudo().activity_ids.filtered(
            lambda a: f"Refund {refund.name} failed" == a.summary
        )
        self.assertEqual(activities.user_id, self.refund_user | self.refund_manager)
        self._run_mail_cron()
        self.assertEqual(len(self._customer_mails(refund)), 1, "the customer not told")
        return refund

    def test_refund_failed_after_done_fails_the_refund_and_revokes_its_proof(self):
        """REFUND_FAILED (rejected by the card scheme) after the refund was done fails
        it: amount freed, proof revoked, back office told, customer not."""
        refund = self._assert_failure_after_done("notification_refund_failed")
        self.assertIn("card scheme rejected it", refund.failure_message)

    def test_refunded_reversed_after_done_fails_the_refund_and_revokes_its_proof(self):
        """REFUNDED_REVERSED (the refunded amount returned to the merchant) after the
        refund was done fails it the same way."""
        refund = self._assert_failure_after_done("notification_refunded_reversed")
        self.assertIn("refund was reversed", refund.failure_message)

    def test_refund_event_after_its_failure_leaves_the_refund_failed(self):
        """Adyen's REFUND event delivered again after REFUND_FAILED does not make the
        refund done again: its proof stays revoked."""
        refund = self._done_adyen_refund(self._paid())
        self._post_refund_event("notification_refund_failed", refund)
        self.assertEqual(refund.state, "failed")
        self.assertEqual(
            self._post_refund_event("notification_refund", refund).status_code, 200
        )
        self.assertRecordValues(refund.transaction_ids, [{"state": "error"}])
        self.assertEqual(refund.with_user(self.refund_user).state, "failed")
        self.assertAlmostEqual(
            refund.source_transaction_id.refund_remaining_amount, 100.0
        )
        self.assertIn("Revoked", self.url_open(refund.verification_url).text)

    def test_refund_failure_of_a_refund_unknown_to_odoo_is_only_logged(self):
        """REFUND_FAILED for a refund Odoo never recorded (made in Adyen's Customer
        Area) creates no refund: it is logged on the payment's documents."""
        tx = self._paid()
        response = self._post_event(
            "notification_refund_failed",
            pspReference="REFUNDUNKNOWN001",
            originalReference=tx.provider_reference,
            merchantReference="CUSTOMER-AREA-1",
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(tx.refund_ids)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        self.assertIn("REFUNDUNKNOWN001", tx.invoice_ids.message_ids[:1].body, "logged")

    def test_dispute_events_never_become_refunds(self):
        """Requests for information, chargebacks and second chargebacks create no
        refund and no refund transaction; what remains refundable is unchanged."""
        tx = self._paid()
        refund = self._done_adyen_refund(tx)
        for name in DISPUTE_EVENTS:
            with self.subTest(event=name):
                response = self._post_dispute_event(name, tx)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(tx.child_transaction_ids, refund.transaction_ids)
                self.assertEqual(tx.refund_ids, refund)
                self.assertEqual(refund.state, "done")
                self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_dispute_events_are_logged_on_the_payment(self):
        """Each dispute event is logged on the payment's invoice, with what happened,
        the dispute's reference and the disputed amount."""
        tx = self._paid()
        for name, text in (
            ("notification_request_for_information", "request for information"),
            ("notification_notification_of_chargeback", "a chargeback is announced"),
            ("notification_chargeback", "the disputed amount was deducted"),
            ("notification_second_chargeback", "declined the defence"),
        ):
            with self.subTest(event=name):
                self._post_dispute_event(name, tx)
                body = self._dispute_logs(tx)[:1].body
                self.assertIn(text, body)
                self.assertIn(load("adyen", name)["eventCode"], body)
                self.assertIn("DISPUTE000000001", body)
                self.assertIn("100.00", body)
                self.assertIn("not a refund", body)
        self.assertEqual(len(self._dispute_logs(tx)), len(DISPUTE_EVENTS))

    def test_dispute_amount_in_another_currency_is_logged_as_adyen_sent_it(self):
        """A disputed amount in another currency than the payment's is logged as Adyen
        sent it (minor units), not converted."""
        tx = self._paid()
        self._post_dispute_event(
            "notification_chargeback", tx, amount={"currency": "EUR", "value": 9150}
        )
        body = self._dispute_logs(tx).body
        self.assertIn("9150 EUR in minor units", body)
        self.assertNotIn("91.50", body)

    def test_events_odoo_does_not_process_create_no_transaction(self):
        """An event that is neither a refund nor a dispute and that Odoo does not
        process (a technical cancel) creates no refund transaction."""
        tx = self._paid()
        response = self._post_event(
            "notification_technical_cancel",
            originalReference=tx.provider_reference,
            merchantReference=tx.reference,
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(tx.refund_ids)

    @mute_logger("odoo.addons.payment_adyen.controllers.main")
    def test_only_signed_events_change_anything(self):
        """An unsigned or wrongly signed event is refused and changes nothing (no
        state, no ARN, no dispute log); the same event signed by Adyen does."""
        tx = self._paid()
        refund = self._refund(tx, 40.0)

        def post_unsigned_then_wrongly_signed(post, *args):
            for hmac_key in (None, WRONG_HMAC_KEY):
                with self.subTest(event=args[0], signed=bool(hmac_key)):
                    response = post(*args, hmac_key=hmac_key)
                    self.assertEqual(response.status_code, 403)

        post_unsigned_then_wrongly_signed(
            self._post_refund_event, "notification_refund_arn", refund
        )
        self.assertRecordValues(refund, [{"state": "pending", "arn": False}])
        self._post_refund_event("notification_refund_arn", refund)
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN_IN_EVENT}])

        post_unsigned_then_wrongly_signed(
            self._post_refund_event, "notification_refund_failed", refund
        )
        self.assertEqual(refund.state, "done")
        self._post_refund_event("notification_refund_failed", refund)
        self.assertEqual(refund.state, "failed")

        post_unsigned_then_wrongly_signed(
            self._post_dispute_event, "notification_chargeback", tx
        )
        self.assertFalse(self._dispute_logs(tx))
        self._post_dispute_event("notification_chargeback", tx)
        self.assertEqual(len(self._dispute_logs(tx)), 1)
        self.assertEqual(tx.child_transaction_ids, refund.transaction_ids)

    def test_sdk_signed_event_with_a_colon_in_its_reference_is_accepted(self):
        """An event signed by Adyen's library whose merchantReference holds ':' and
        '\\' (a reference typed in the Customer Area) is accepted and recorded; the
        same event tampered with after signing (its amount) is refused."""
        tx = self._paid()
        reference = "SHOP:ORDER\\42"
        item = self._dispute_item(tx, merchantReference=reference)
        self.assertTrue(
            Adyen.util.is_valid_hmac_notification(item, HMAC_KEY), "Adyen's own check"
        )
        tampered = json.loads(json.dumps(item))
        tampered["amount"]["value"] = 1
        self.assertFalse(Adyen.util.is_valid_hmac_notification(tampered, HMAC_KEY))
        with self.assertLogs("odoo.addons.payment_adyen.controllers.main", "WARNING"):
            self.assertEqual(self._post_item(tampered).status_code, 403)
        self.assertFalse(self._dispute_logs(tx))

        self.assertEqual(self._post_item(item).status_code, 200)
        self.assertEqual(len(self._dispute_logs(tx)), 1)
        self.assertFalse(tx.child_transaction_ids)

    def test_previous_hmac_key_is_accepted_until_its_end_date(self):
        """After a rotation of the HMAC key, events signed with the previous key are
        accepted until the end date set for it, refused after it; a key that is
        neither is refused."""
        tx = self._paid()
        previous_key = WRONG_HMAC_KEY
        self.adyen.write(
            {
                "adyen_previous_hmac_key": previous_key,
                "adyen_previous_hmac_key_expiry": fields.Datetime.now()
                + timedelta(days=3),
            }
        )
        response = self._post_dispute_event(
            "notification_chargeback", tx, hmac_key=previous_key
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self._dispute_logs(tx)), 1)

        self.adyen.adyen_previous_hmac_key_expiry = fields.Datetime.now() - timedelta(
            minutes=1
        )
        with self.assertLogs("odoo.addons.payment_adyen.controllers.main", "WARNING"):
            response = self._post_dispute_event(
                "notification_chargeback", tx, hmac_key=previous_key
            )
        self.assertEqual(response.status_code, 403)
        with self.assertLogs("odoo.addons.payment_adyen.controllers.main", "WARNING"):
            response = self._post_dispute_event(
                "notification_chargeback", tx, hmac_key="ab" * 32
            )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(len(self._dispute_logs(tx)), 1)
        self.assertEqual(
            self._post_dispute_event("notification_chargeback", tx).status_code, 200
        )

    def test_previous_hmac_key_needs_an_end_date(self):
        """A previous HMAC key without its end date is refused."""
        with self.assertRaisesRegex(ValidationError, "previous HMAC key"):
            self.adyen.adyen_previous_hmac_key = WRONG_HMAC_KEY

    def test_void_pending_refund_fails_the_refund_still_pending(self):
        """VOID_PENDING_REFUND for a refund Adyen had not made yet: the refund is
        failed, its amount freed; Odoo ignores the event."""
        tx = self._paid()
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "pending")
        response = self._post_refund_event("notification_void_pending_refund", refund)
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(refund, [{"state": "failed"}])
        self.assertIn("voided", refund.failure_message)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0, msg="amount freed")

    def test_cancel_or_refund_is_told_on_the_payment_and_records_no_refund(self):
        """CANCEL_OR_REFUND (a reversal made outside Odoo; whether it cancelled or
        refunded is not signed) records no refund and no transaction: the payment's
        invoice is told, to record the refund by hand."""
        tx = self._paid()
        response = self._post_event(
            "notification_cancel_or_refund",
            originalReference=tx.provider_reference,
            merchantReference=tx.reference,
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(tx.refund_ids)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        body = tx.invoice_ids.message_ids[:1].body
        self.assertIn("cancel-or-refund", body)
        self.assertIn("CANCELORREFUND01", body)

    def test_refund_with_data_of_no_payment_here_is_acknowledged(self):
        """REFUND_WITH_DATA (an unreferenced refund, linked to no payment) is
        acknowledged as Odoo does for events of no transaction: nothing recorded."""
        tx = self._paid()
        with self.assertLogs("odoo.addons.payment_adyen.controllers.main", "WARNING"):
            response = self._post_event("notification_refund_with_data")
        self.assertEqual(response.status_code, 200)
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(
            self.env["payment.refund"].search([("origin", "=", "provider")])
        )

    @mute_logger(
        "odoo.addons.payment.models.payment_transaction",
        "odoo.addons.payment_adyen.models.payment_transaction",
    )
    def test_capture_events_beside_a_refund_change_no_refund(self):
        """CAPTURE and CAPTURE_FAILED of a payment that has a refund done (Odoo
        processes them) neither create a refund nor change the refund."""
        tx = self._paid()
        refund = self._done_adyen_refund(tx)
        for name in ("notification_capture", "notification_capture_failed"):
            with self.subTest(event=name):
                response = self._post_event(
                    name,
                    originalReference=tx.provider_reference,
                    merchantReference=tx.reference,
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(tx.child_transaction_ids, refund.transaction_ids)
                self.assertEqual(tx.refund_ids, refund)
                self.assertRecordValues(refund, [{"state": "done"}])
                self.assertEqual(tx.state, "done")
                self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    def test_retry_after_an_unknown_outcome_sends_the_same_idempotency_key(self):
        """Adyen answering too late leaves the refund pending (outcome unknown); once a
        manager found it not made, the retry carries the same Idempotency-Key, so
        Adyen answers with the refund it had made instead of making a second one."""
        tx = self._paid()
        self.script.append("stall")
        with self._slow_network():
            refund = self._refund(tx, 40.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertIn("timed out", refund.failure_message)
        [first] = self._refund_requests()
        key = self._idempotency_key(first)
        self.assertTrue(key)
        self.assertEqual(key, refund._get_idempotency_key())

        refund.with_user(self.refund_manager).action_mark_not_refunded()
        self.assertEqual(refund.state, "failed")
        refund.with_user(self.refund_user).action_retry()
        _first, second = self._refund_requests()
        self.assertEqual(self._idempotency_key(second), key, "the same request")
        self.assertEqual(len(self.adyen_refunds), 1, "Adyen made one refund")
        self.assertEqual(
            refund.transaction_ids.provider_reference,
            self.adyen_refunds[0]["pspReference"],
        )
        self._post_refund_event("notification_refund", refund)
        self.assertRecordValues(refund, [{"state": "done", "outcome_unknown": False}])
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)

    @mute_logger("odoo.addons.payment_adyen.models.payment_provider")
    def test_retry_after_a_refusal_sends_a_new_idempotency_key(self):
        """A refund Adyen refused is a request of its own: its retry is a new request,
        with a new Idempotency-Key."""
        tx = self._paid()
        self.script.append("refuse")
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("Original pspReference required", refund.failure_message)
        [first] = self._refund_requests()
        refused_key = self._idempotency_key(first)
        self.assertTrue(refused_key)

        refund.with_user(self.refund_user).action_retry()
        _first, second = self._refund_requests()
        key = self._idempotency_key(second)
        self.assertTrue(key)
        self.assertNotEqual(key, refused_key)
        self.assertEqual(key, refund._get_idempotency_key())
        self.assertEqual(refund.state, "pending")
        self.assertEqual(len(self.adyen_refunds), 1)
