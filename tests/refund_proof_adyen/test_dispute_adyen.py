"""Adyen's dispute events through refund_proof_adyen: each HMAC-signed event
creates or updates the payment's `payment.dispute` (one per dispute pspReference),
never a refund."""

from datetime import datetime

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..provider_api_server import load
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

    def test_defense_period_ended_makes_the_dispute_lost(self):
        """DISPUTE_DEFENSE_PERIOD_ENDED (not defended in time, or liability accepted)
        makes the chargeback lost."""
        tx = self._paid()
        self._event("notification_notification_of_chargeback", tx)
        self._event("notification_chargeback", tx)
        self._event("notification_dispute_defense_period_ended", tx)
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "chargeback", "state": "lost"}]
        )
        self.assertFalse(tx.refund_ids)

    def test_issuer_response_timeframe_expired_makes_the_dispute_won(self):
        """ISSUER_RESPONSE_TIMEFRAME_EXPIRED after the defence was supplied (the
        issuer accepted it or did not answer in time) makes the chargeback won."""
        tx = self._paid()
        self._event("notification_chargeback", tx)
        self._post_event(
            "notification_chargeback",
            eventCode="INFORMATION_SUPPLIED",
            merchantReference=tx.reference,
            originalReference=tx.provider_reference,
            pspReference="DISPUTE000000001",
            additionalData={"disputeStatus": "Responded"},
        )
        self.assertEqual(self._disputes(tx).state, "under_review")
        self._event("notification_issuer_response_timeframe_expired", tx)
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "chargeback", "state": "won"}]
        )

    def test_pre_arbitration_declined_then_arbitration(self):
        """A pre-arbitration case the merchant declined (defended) is under review,
        not waiting for a response; the issuer's escalation to arbitration keeps it
        under review; the arbitration's ruling decides it."""
        tx = self._paid()
        self._event("notification_chargeback", tx)
        self._event("notification_prearbitration_open", tx)
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "pre_arbitration", "state": "needs_response"}]
        )
        self._event("notification_prearbitration_declined", tx)
        self.assertEqual(self._disputes(tx).state, "under_review")
        self._event("notification_scheme_arbitration", tx)
        self.assertEqual(self._disputes(tx).state, "under_review")
        self._post_event(
            "notification_scheme_arbitration",
            eventCode="SCHEME_ARBITRATION_WON",
            merchantReference=tx.reference,
            originalReference=tx.provider_reference,
            pspReference="DISPUTE000000001",
        )
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "pre_arbitration", "state": "won"}]
        )
        self.assertFalse(tx.refund_ids)

    def test_dispute_status_of_any_event_says_no_response_is_asked(self):
        """`disputeStatus` is read on every dispute event, not only CHARGEBACK: a
        request for information already answered (Responded) asks for nothing."""
        tx = self._paid()
        self._event(
            "notification_request_for_information",
            tx,
            additionalData={"disputeStatus": "Responded", "paymentMethodVariant": "mc"},
        )
        self.assertRecordValues(
            self._disputes(tx), [{"kind": "inquiry", "state": "under_review"}]
        )

    def test_chargeback_not_defendable_or_auto_defended_asks_no_response(self):
        """NOTIFICATION_OF_CHARGEBACK that cannot be defended (`defendable` false)
        or that Adyen defends itself (`autoDefended` true), as in Adyen's example,
        does not ask the merchant for a response."""
        for data in (
            {"defendable": "false", "autoDefended": "true"},
            {"defendable": "false"},
            {"defendable": "true", "autoDefended": "true"},
        ):
            with self.subTest(**data):
                tx = self._paid()
                self._event(
                    "notification_notification_of_chargeback",
                    tx,
                    additionalData={
                        **load("adyen", "notification_notification_of_chargeback")[
                            "additionalData"
                        ],
                        **data,
                    },
                )
                self.assertRecordValues(
                    self._disputes(tx),
                    [{"kind": "chargeback", "state": "under_review"}],
                )

    def test_reason_codes_of_every_case_are_read_without_padding(self):
        """The scheme's reason code of a chargeback (Adyen pads it: " 4853"), of a
        request for information (`rfiReasonCode`) and of a fraud notification
        (`nofReasonCode`) is read, stripped, with its scheme."""
        tx = self._paid()
        self._event(
            "notification_chargeback",
            tx,
            additionalData={
                "chargebackReasonCode": " 4853",
                "chargebackSchemeCode": "mc",
                "disputeStatus": "Undefended",
            },
        )
        self.assertRecordValues(
            self._disputes(tx),
            [{"reason_code": "4853", "card_network": "mastercard"}],
        )
        other = self._paid()
        self._event(
            "notification_request_for_information",
            other,
            additionalData={"rfiReasonCode": " 33", "rfiSchemeCode": "visa"},
        )
        self.assertRecordValues(
            self._disputes(other), [{"reason_code": "33", "card_network": "visa"}]
        )
        third = self._paid()
        self._event("notification_notification_of_fraud", third)
        self.assertFalse(self._disputes(third), "a fraud alert is not a dispute")
        self.assertIn("reason code 6", self._dispute_logs(third).body)

    def test_unsigned_dispute_status_never_decides_the_dispute(self):
        """`additionalData.disputeStatus` is outside Adyen's signature: a CHARGEBACK
        saying Lost or Won (which anyone on the path could have written) leaves
        the dispute open; only the signed event codes decide it."""
        for status in ("Lost", "Won", "Accepted", "Expired"):
            with self.subTest(disputeStatus=status):
                tx = self._paid()
                self._event(
                    "notification_chargeback",
                    tx,
                    additionalData={"disputeStatus": status, "defendable": "true"},
                )
                self.assertRecordValues(
                    self._disputes(tx),
                    [{"kind": "chargeback", "state": "under_review"}],
                )
                with self.assertRaisesRegex(UserError, "took the money back"):
                    self._refund(tx, 40.0)
