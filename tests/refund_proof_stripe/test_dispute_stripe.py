"""Stripe's charge.dispute.* events through refund_proof_stripe: each signed event
creates or updates the payment's `payment.dispute`, never a refund; a refund of a
charged-back payment is refused before Stripe is asked."""

from datetime import datetime, timezone

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..provider_api_server import load
from .test_stripe import StripeCase

DISPUTE_ID = "du_3RpTestDispute000000001"  # tests/data/stripe/dispute.json


@tagged("-at_install", "post_install")
class TestDisputeStripe(StripeCase):
    def _dispute_event(self, event_type, **changes):
        response = self._post_event(event_type, load("stripe", "dispute", **changes))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()

    def _disputes(self, tx):
        return self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )

    def test_created_event_records_the_dispute(self):
        """charge.dispute.created records a chargeback needing a response with
        Stripe's amount, network reason, due date and reference; no refund."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created")
        dispute = self._disputes(tx)
        self.assertRecordValues(
            dispute,
            [
                {
                    "provider_reference": DISPUTE_ID,
                    "origin": "provider",
                    "kind": "chargeback",
                    "state": "needs_response",
                    "amount": 100.0,
                    "card_network": "visa",
                    "reason_code": "13.6",
                    "provider_reason": "credit_not_processed",
                }
            ],
        )
        self.assertEqual(dispute.reason_display, "Visa 13.6 — Credit not processed")
        due = datetime.fromtimestamp(1782201600, tz=timezone.utc).replace(tzinfo=None)
        self.assertEqual(dispute.evidence_due_date, due)
        opened = datetime.fromtimestamp(1780473600, tz=timezone.utc)
        self.assertEqual(dispute.opened_date, opened.replace(tzinfo=None))
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_later_events_update_the_same_dispute(self):
        """updated → under review, closed → won: one dispute follows Stripe's
        status."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created")
        self._dispute_event("charge.dispute.updated", status="under_review")
        self.assertEqual(self._disputes(tx).state, "under_review")
        self._dispute_event("charge.dispute.closed", status="won")
        self.assertEqual(len(self._disputes(tx)), 1)
        self.assertEqual(self._disputes(tx).state, "won")
        self._dispute_event("charge.dispute.funds_reinstated", status="won")
        self.assertEqual(self._disputes(tx).state, "won")
        self.assertFalse(tx.refund_ids)

    def test_lost_dispute(self):
        """charge.dispute.closed with status lost makes the dispute lost."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created")
        self._dispute_event("charge.dispute.funds_withdrawn")
        self._dispute_event("charge.dispute.closed", status="lost")
        self.assertEqual(self._disputes(tx).state, "lost")

    def test_inquiry_statuses_are_an_inquiry(self):
        """warning_needs_response is an inquiry; warning_closed closes it."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created", status="warning_needs_response")
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "inquiry", "state": "needs_response"}]
        )
        self._dispute_event("charge.dispute.closed", status="warning_closed")
        self.assertEqual(self._disputes(tx).state, "closed")

    def test_refund_refused_under_a_stripe_chargeback_before_stripe_is_asked(self):
        """Under an open chargeback a refund is refused in Odoo: no request reaches
        Stripe, no refund is recorded."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created")
        with self.assertRaisesRegex(UserError, "took the money back"):
            self._refund(tx, 10.0)
        self.assertFalse(self.api.requests_to("POST", r"/v1/refunds$"))
        self.assertFalse(tx.refund_ids)

    def test_unsigned_dispute_event_records_nothing(self):
        """An unsigned dispute event creates no dispute."""
        tx = self._stripe_payment()
        with self.assertLogs(
            "odoo.addons.refund_proof_stripe.controllers.main", "WARNING"
        ):
            response = self._post_event(
                "charge.dispute.created", load("stripe", "dispute"), secret=None
            )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self._disputes(tx))

    def test_prevented_case_is_a_closed_inquiry_and_refunds_stay_open(self):
        """A case a prevention tool settled (`prevented`, case type `resolution` or
        `block`) is recorded as a closed inquiry, not as an open chargeback: the
        payment's refunds are not refused."""
        for case_type in ("resolution", "block"):
            with self.subTest(case_type=case_type):
                tx = self._stripe_payment(intent_id=f"pi_3RpTestPrevented{case_type}")
                prevented = load(
                    "stripe", "dispute_prevented", payment_intent=tx.provider_reference
                )
                prevented["payment_method_details"]["card"]["case_type"] = case_type
                response = self._post_event("charge.dispute.created", prevented)
                self.assertEqual(response.status_code, 200)
                self.assertRecordValues(
                    self._disputes(tx),
                    [
                        {
                            "provider_reference": prevented["id"],
                            "kind": "inquiry",
                            "state": "closed",
                        }
                    ],
                )
                refund = self._refund(tx, 10.0)
                self.assertEqual(refund.state, "pending", "sent to Stripe")

    def test_appeal_statuses_are_a_pre_arbitration(self):
        """After a lost chargeback the issuer's appeal (`appeal_needs_response`,
        then `appeal_under_review`) reopens the dispute as a pre-arbitration."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created")
        self._dispute_event("charge.dispute.closed", status="lost")
        self._dispute_event("charge.dispute.updated", status="appeal_needs_response")
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "pre_arbitration", "state": "needs_response"}]
        )
        self._dispute_event("charge.dispute.updated", status="appeal_under_review")
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "pre_arbitration", "state": "under_review"}]
        )
        self._dispute_event("charge.dispute.closed", status="won")
        self.assertEqual(self._disputes(tx).state, "won")

    def test_charge_refunded_status_closes_the_dispute(self):
        """`charge_refunded` (API versions of 2019-2020: the charge was refunded
        while the inquiry was open) closes the dispute."""
        tx = self._stripe_payment()
        self._dispute_event("charge.dispute.created", status="warning_needs_response")
        self._dispute_event("charge.dispute.closed", status="charge_refunded")
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "inquiry", "state": "closed"}]
        )

    def test_unknown_status_is_never_an_open_chargeback(self):
        """A new dispute whose status this module does not know is recorded as an
        inquiry under review (a warning says to check it), not as a chargeback
        asking for a response; on a recorded dispute it changes neither its kind
        nor its state."""
        tx = self._stripe_payment()
        with self.assertLogs(
            "odoo.addons.refund_proof_stripe.models.payment_transaction", "WARNING"
        ) as logs:
            self._dispute_event("charge.dispute.created", status="a_future_status")
        self.assertIn("a_future_status", logs.output[0])
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "inquiry", "state": "under_review"}]
        )
        other = self._stripe_payment(intent_id="pi_3RpTestIntent0000000002")
        self._dispute_event(
            "charge.dispute.created", payment_intent=other.provider_reference
        )
        self._dispute_event(
            "charge.dispute.updated",
            payment_intent=other.provider_reference,
            status="a_future_status",
        )
        self.assertRecordValues(
            self._disputes(other), [{"kind": "chargeback", "state": "needs_response"}]
        )
