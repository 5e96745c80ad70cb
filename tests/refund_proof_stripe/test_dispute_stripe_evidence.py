"""Submitting a Stripe dispute's evidence from Odoo: the evidence pack, rendered for
real, is uploaded to Stripe's files host (multipart, purpose dispute_evidence), then
submitted to the bank with the facts of the refunds (POST /v1/disputes/<id>,
submit=true), each request under an idempotency key; Stripe's refusal is shown with
Stripe's message and records nothing."""

import time
from datetime import datetime, timedelta

import requests
from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..provider_api_server import load, redirect
from .test_dispute_stripe import DISPUTE_ID
from .test_stripe import ARN, StripeCase, drop_connection

FILES_API = "https://files.stripe.com"
FILE_ID = "file_1RpTestEvidence0000001"  # tests/data/stripe/file.json
POLICY = "Refunds within 30 days of purchase, to the card used."
BRIDGE_PROVIDER_LOGGER = "odoo.addons.refund_proof_stripe.models.payment_provider"
FILES_PATH = r"/v1/files$"
DISPUTE_PATH = rf"/v1/disputes/{DISPUTE_ID}$"


@tagged("-at_install", "post_install")
class TestDisputeStripeEvidence(StripeCase):
    def setUp(self):
        super().setUp()
        # Stripe's files host is the local server too.
        self.enterContext(redirect(requests, FILES_API, self.api))
        self.api.route("POST", FILES_PATH, self._answer_file)
        self.api.route("POST", DISPUTE_PATH, self._answer_dispute)
        self.env.company.refund_policy_text = POLICY

    # Stripe's API.

    def _answer_file(self, request, match):
        """The uploaded file (POST files.stripe.com/v1/files), named as uploaded."""
        upload = request["files"]["file"]
        return load(
            "stripe", "file", filename=upload["filename"], size=len(upload["content"])
        )

    def _answer_dispute(self, request, match):
        """The dispute under review, with the evidence posted."""
        dispute = load("stripe", "dispute_submitted")
        dispute["evidence"].update(
            {
                key[len("evidence[") : -1]: value
                for key, value in request["form"].items()
                if key.startswith("evidence[")
            }
        )
        return dispute

    # Disputes.

    def _disputed_after_a_refund(self):
        """A Stripe payment of 100.00, refunded 40.00 (done, with its ARN) days
        before its customer disputed it: Stripe's signed charge.dispute.created."""
        now = datetime.now()
        with freeze_time(now - timedelta(days=10)):
            tx = self._stripe_payment()
        with freeze_time(now - timedelta(days=8)):
            refund = self._refund_and_answer(tx, 40.0, name="refund_available")
        self.assertRecordValues(refund, [{"state": "done", "arn": ARN}])
        response = self._post_event(
            "charge.dispute.created",
            load("stripe", "dispute", created=int(time.time())),
        )
        self.assertEqual(response.status_code, 200)
        dispute = self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )
        self.assertRecordValues(
            dispute, [{"state": "needs_response", "provider_reference": DISPUTE_ID}]
        )
        return tx, refund, dispute

    def _submit(self, dispute, user=None):
        """Submit the evidence as `user` (a refund manager), the pack rendered by
        wkhtmltopdf as in production."""
        return (
            dispute.with_user(user or self.refund_manager)
            .with_context(force_report_rendering=True)
            .action_submit_evidence()
        )

    def _assert_nothing_recorded(self, dispute):
        self.env.invalidate_all()
        self.assertRecordValues(
            dispute,
            [
                {
                    "state": "needs_response",
                    "evidence_submit_date": False,
                    "evidence_submitted_by_id": False,
                    "evidence_attachment_id": False,
                    "evidence_submission": False,
                    "can_submit_evidence": True,
                }
            ],
        )

    # Tests.

    def test_manager_submits_the_pack_and_the_refund_facts_to_stripe(self):
        """A refund manager's submission uploads the rendered pack (a PDF) to
        Stripe's files, then submits it with the customer, the refund policy and the
        refund's facts (amount, date, ARN), each request under an idempotency key;
        the dispute records what was sent, waits for the bank, keeps the pack."""
        tx, refund, dispute = self._disputed_after_a_refund()
        self.assertTrue(dispute.with_user(self.refund_manager).can_submit_evidence)
        self._submit(dispute)

        [upload] = self.api.requests_to("POST", FILES_PATH)
        self.assertEqual(upload["form"], {"purpose": "dispute_evidence"})
        pdf = upload["files"]["file"]
        self.assertEqual(pdf["content_type"], "application/pdf")
        self.assertTrue(pdf["content"].startswith(b"%PDF"))
        self.assertTrue(pdf["filename"].endswith(".pdf"))
        self.assertEqual(
            upload["headers"]["Authorization"], "Bearer sk_test_refund_proof"
        )

        [submission] = self.api.requests_to("POST", DISPUTE_PATH)
        form = submission["form"]
        currency = tx.currency_id.name
        self.assertEqual(
            set(form),
            {
                "evidence[uncategorized_file]",
                "evidence[customer_name]",
                "evidence[customer_email_address]",
                "evidence[refund_policy_disclosure]",
                "evidence[uncategorized_text]",
                "submit",
            },
        )
        self.assertEqual(form["evidence[uncategorized_file]"], FILE_ID)
        self.assertEqual(form["submit"], "true")
        self.assertEqual(form["evidence[customer_name]"], "Norbert Buyer")
        self.assertEqual(
            form["evidence[customer_email_address]"], "norbert.buyer@example.com"
        )
        self.assertEqual(form["evidence[refund_policy_disclosure]"], POLICY)
        facts = form["evidence[uncategorized_text]"]
        self.assertIn(f"the payment {tx.reference} of 100.00 {currency}", facts)
        self.assertIn(
            f"Refund {refund.name} of 40.00 {currency} processed on "
            f"{refund.refund_date:%Y-%m-%d %H:%M} UTC, ARN {ARN}.",
            facts,
        )
        self.assertEqual(
            submission["headers"]["Authorization"], "Bearer sk_test_refund_proof"
        )
        keys = {
            upload["headers"].get("Idempotency-Key"),
            submission["headers"].get("Idempotency-Key"),
        }
        self.assertEqual(len(keys - {None}), 2, "a key for each request")

        self.assertRecordValues(
            dispute,
            [
                {
                    "state": "under_review",
                    "evidence_submitted_by_id": self.refund_manager.id,
                    "can_submit_evidence": False,
                }
            ],
        )
        self.assertTrue(dispute.evidence_submit_date)
        self.assertIn(
            f"evidence[uncategorized_file]: {FILE_ID}", dispute.evidence_submission
        )
        self.assertIn("submit: true", dispute.evidence_submission)
        self.assertIn(ARN, dispute.evidence_submission)
        self.assertEqual(dispute.evidence_attachment_id.raw, pdf["content"])
        self.assertEqual(dispute.evidence_attachment_id.res_id, dispute.id)

    def test_second_submission_is_refused(self):
        """Evidence goes to Stripe once: a second submission is refused in Odoo."""
        _tx, _refund, dispute = self._disputed_after_a_refund()
        self._submit(dispute)
        with self.assertRaisesRegex(UserError, "already sent"):
            self._submit(dispute)
        self.assertEqual(len(self.api.requests_to("POST", FILES_PATH)), 1)
        self.assertEqual(len(self.api.requests_to("POST", DISPUTE_PATH)), 1)

    def test_stripe_refusal_shows_its_message_and_records_nothing(self):
        """Stripe refusing the evidence (a dispute it closed) is shown with Stripe's
        message; the dispute records nothing and still needs a response."""
        _tx, _refund, dispute = self._disputed_after_a_refund()
        self.api.route(
            "POST", DISPUTE_PATH, load("stripe", "error_dispute_closed"), status=400
        )
        with (
            self.assertRaisesRegex(UserError, "This dispute is already closed"),
            self.env.cr.savepoint(),
        ):
            self._submit(dispute)
        self.assertEqual(len(self.api.requests_to("POST", DISPUTE_PATH)), 1)
        self._assert_nothing_recorded(dispute)

    def test_no_answer_from_stripe_records_nothing(self):
        """Stripe's files host not answering is reported (and logged); the evidence
        is not submitted and the dispute records nothing."""
        _tx, _refund, dispute = self._disputed_after_a_refund()
        self.api.route("POST", FILES_PATH, drop_connection)
        with (
            self.assertLogs(BRIDGE_PROVIDER_LOGGER, "WARNING"),
            self.assertRaisesRegex(UserError, "Stripe did not answer"),
            self.env.cr.savepoint(),
        ):
            self._submit(dispute)
        self.assertFalse(self.api.requests_to("POST", DISPUTE_PATH))
        self._assert_nothing_recorded(dispute)

    def test_pack_above_5_mb_is_refused_before_stripe_is_asked(self):
        """Stripe takes evidence files up to "5MB": 5,000,000 bytes, not 5 MiB. A
        larger pack is refused in Odoo and nothing reaches Stripe; one of exactly
        5,000,000 bytes is uploaded."""
        tx, _refund, dispute = self._disputed_after_a_refund()

        def pack(size):
            return self.env["ir.attachment"].create(
                {"name": "evidence.pdf", "raw": b"%PDF-1.4\n" + b"0" * (size - 9)}
            )

        with self.assertRaisesRegex(UserError, "larger than the 5 MB"):
            tx._refund_proof_submit_dispute_evidence(dispute.sudo(), pack(5_000_001))
        self.assertFalse(self.api.requests_to("POST", FILES_PATH))
        tx._refund_proof_submit_dispute_evidence(dispute.sudo(), pack(5_000_000))
        [upload] = self.api.requests_to("POST", FILES_PATH)
        self.assertEqual(len(upload["files"]["file"]["content"]), 5_000_000)

    def test_refund_user_cannot_submit_evidence(self):
        """Only refund managers submit evidence: a refund user is refused before
        anything reaches Stripe."""
        _tx, _refund, dispute = self._disputed_after_a_refund()
        with self.assertRaises(AccessError):
            self._submit(dispute, user=self.refund_user)
        self.assertFalse(self.api.requests_to("POST", FILES_PATH))
        self._assert_nothing_recorded(dispute)

    def test_long_texts_are_cut_to_stripe_limits(self):
        """A refund policy longer than Stripe's 20,000 characters is sent cut, an
        ellipsis marking the cut."""
        _tx, _refund, dispute = self._disputed_after_a_refund()
        self.env.company.refund_policy_text = "Refunds within 30 days. " * 1000
        self._submit(dispute)
        [submission] = self.api.requests_to("POST", DISPUTE_PATH)
        policy = submission["form"]["evidence[refund_policy_disclosure]"]
        self.assertEqual(len(policy), 20000)
        self.assertTrue(policy.startswith("Refunds within 30 days."))
        self.assertTrue(policy.endswith("…"))

    def test_bank_letter_and_other_providers_disputes_are_not_sent(self):
        """Disputes recorded from a bank letter, and disputes of a provider without
        a bridge that submits, cannot be submitted to a provider."""
        stripe_tx = self._stripe_payment()
        letter = (
            self.env["payment.dispute"]
            .with_user(self.refund_manager)
            .create(
                {
                    "source_transaction_id": stripe_tx.id,
                    "amount": 100.0,
                    "card_network": "visa",
                    "reason_code": "13.6",
                }
            )
        )
        demo_tx = self._create_paid_transaction(100.0)
        demo = demo_tx._refund_proof_upsert_dispute(
            {"provider_reference": "DEMO-DISPUTE-1", "kind": "chargeback"}
        ).with_user(self.refund_manager)
        self.assertTrue(self.stripe._refund_proof_can_submit_dispute_evidence())
        self.assertFalse(self.demo_provider._refund_proof_can_submit_dispute_evidence())
        for dispute in (letter, demo):
            with self.subTest(dispute=dispute.name):
                self.assertEqual(dispute.state, "needs_response")
                self.assertFalse(dispute.can_submit_evidence)
                with self.assertRaisesRegex(UserError, "cannot receive evidence"):
                    self._submit(dispute)
        self.assertFalse(self.api.requests_to("POST", FILES_PATH))
