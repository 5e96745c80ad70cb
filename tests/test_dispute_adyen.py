"""Adyen's dispute events through refund_proof_adyen: each HMAC-signed event
creates or updates the payment's `payment.dispute` (one per dispute pspReference),
never a refund."""

from datetime import datetime

from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_adyen import WRONG_HMAC_KEY, AdyenCase


@tagged("-at_install", "post_install")
class TestDisputeAdyen(AdyenCase):
    def _disputes(self, tx):
        self.env.invalidate_all()
        return self.env["payment.dispute"].search(
            [("source_transaction_id", "=", tx.id)]
        )

    def _event(self, name, tx, **changes):
        response = self._post_dispute_event(name, tx, **changes)
        self.assertEqual(response.status_code, 200)

    def test_request_for_information_is_an_inquiry(self):
        """REQUEST_FOR_INFORMATION records an inquiry needing a response."""
        tx = self._paid()
        self._event("notification_request_for_information", tx)
        self.assertRecordValues(
            self._disputes(tx),
            [
                {
                    "provider_reference": "DISPUTE000000001",
                    "kind": "inquiry",
                    "state": "needs_response",
                    "amount": 100.0,
                    "card_network": "mastercard",
                }
            ],
        )
        self.assertFalse(tx.refund_ids)

    def test_chargeback_with_reason_and_defence_period(self):
        """NOTIFICATION_OF_CHARGEBACK then CHARGEBACK: one chargeback needing a
        response, with the scheme's reason code and the end of the defence
        period."""
        tx = self._paid()
        self._event("notification_notification_of_chargeback", tx)
        data = {
            "chargebackReasonCode": "13.1",
            "chargebackSchemeCode": "visa",
            "defendable": "true",
            "disputeStatus": "Undefended",
            "defensePeriodEndsAt": "2026-04-01T12:00:00+02:00",
        }
        self._event("notification_chargeback", tx, additionalData=data)
        dispute = self._disputes(tx)
        self.assertRecordValues(
            dispute,
            [{"kind": "chargeback", "state": "needs_response", "reason_code": "13.1"}],
        )
        self.assertEqual(
            dispute.reason_display, "Visa 13.1 — Merchandise/services not received"
        )
        self.assertEqual(dispute.evidence_due_date, datetime(2026, 4, 1, 10, 0))
        self.assertFalse(tx.refund_ids)

    def test_inquiry_escalates_to_chargeback_then_reversed_is_won(self):
        """An inquiry escalated by a chargeback is one dispute; CHARGEBACK_REVERSED
        makes it won; SECOND_CHARGEBACK makes it a lost pre-arbitration."""
        tx = self._paid()
        self._event("notification_request_for_information", tx)
        self._event("notification_chargeback", tx)
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "chargeback", "state": "needs_response"}]
        )
        self._post_event(
            "notification_chargeback",
            eventCode="CHARGEBACK_REVERSED",
            merchantReference=tx.reference,
            originalReference=tx.provider_reference,
            pspReference="DISPUTE000000001",
        )
        self.assertEqual(self._disputes(tx).state, "won")
        self._event("notification_second_chargeback", tx)
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "pre_arbitration", "state": "lost"}]
        )
        self.assertFalse(tx.refund_ids)
        # Opened when the first event says (2026-03-08T09:00:00+01:00), whatever
        # the later events' dates.
        self.assertEqual(self._disputes(tx).opened_date, datetime(2026, 3, 8, 8, 0))

    def test_refund_refused_under_an_adyen_chargeback(self):
        """Under an open Adyen chargeback a refund is refused; nothing is sent."""
        tx = self._paid()
        self._event("notification_chargeback", tx)
        with self.assertRaisesRegex(UserError, "took the money back"):
            self._refund(tx, 40.0)
        self.assertFalse(self._refund_requests())

    def test_wrongly_signed_dispute_event_records_nothing(self):
        """A dispute event signed with another key creates no dispute."""
        tx = self._paid()
        with self.assertLogs("odoo.addons.payment_adyen.controllers.main", "WARNING"):
            self._post_dispute_event(
                "notification_chargeback", tx, hmac_key=WRONG_HMAC_KEY
            )
        self.assertFalse(self._disputes(tx))
