from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundAmounts(RefundProofCommon):
    def test_full_refund_through_action_refund(self):
        """Odoo's action_refund with no amount refunds everything and records it."""
        tx = self._create_paid_transaction(100.0)
        tx.with_user(self.refund_user).action_refund()
        refund = tx.refund_ids
        self.assertEqual(len(refund), 1)
        self.assertEqual(refund.amount, 100.0)
        self.assertEqual(refund.state, "done")
        self.assertTrue(refund.refund_date)
        self.assertRegex(refund.name, r"^RF/\d{4}/\d{5}$")
        self.assertEqual(refund.transaction_ids.operation, "refund")
        self.assertEqual(refund.transaction_ids.amount, -100.0)
        self.assertEqual(refund.requested_by_id, self.refund_user)
        self.assertEqual(tx.refund_status, "full")
        self.assertEqual(tx.refund_remaining_amount, 0.0)

    def test_partial_refund_through_payment_wizard(self):
        """account_payment's Refund wizard records a partial refund with its reason."""
        tx = self._create_paid_transaction(100.0)
        self._give_groups(self.billing_user, "refund_proof.group_refund_user")
        wizard = self._open_payment_wizard(
            tx, 40.0, reason_id=self.reason_customer.id, note="Changed size"
        )
        wizard.action_refund()
        refund = tx.refund_ids
        self.assertRecordValues(
            refund,
            [
                {
                    "amount": 40.0,
                    "state": "done",
                    "reason_id": self.reason_customer.id,
                    "note": "Changed size",
                    "is_partial": True,
                }
            ],
        )
        self.assertEqual(tx.refund_status, "partial")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
        # Odoo's field has no dependencies: a new request recomputes it, a test
        # invalidates.
        tx.payment_id.invalidate_recordset(["amount_available_for_refund"])
        self.assertAlmostEqual(tx.payment_id.amount_available_for_refund, 60.0)

    def test_several_partial_refunds_up_to_the_total(self):
        """Several partials add up to the amount paid, then nothing is left."""
        tx = self._create_paid_transaction(100.0)
        for amount in (30.0, 50.0, 20.0):
            self._refund(tx, amount)
        self.assertEqual(tx.refund_ids.mapped("state"), ["done"] * 3)
        self.assertEqual(tx.refunded_amount, 100.0)
        self.assertEqual(tx.refund_status, "full")
        with self.assertRaisesRegex(ValidationError, "already been fully refunded"):
            self._refund(tx, 0.01)

    def test_cap_counts_refunds_not_yet_post_processed(self):
        """30 then 100 on a payment of 100 is refused: Odoo alone would accept both."""
        tx = self._create_paid_transaction(100.0)
        self._refund(tx, 30.0)  # done, but never post-processed: no refund payment yet
        self.assertFalse(tx.refund_ids.transaction_ids.payment_id)
        with self.assertRaisesRegex(
            ValidationError, "only .*70.00.* can still be refunded"
        ):
            self._refund(tx, 100.0)
        self.assertEqual(
            len(tx.refund_ids), 1, "nothing written by the refused request"
        )

    def test_cap_enforced_in_payment_wizard(self):
        """The standard wizard's bound is the same remaining amount."""
        tx = self._create_paid_transaction(100.0)
        self._refund(tx, 30.0)
        self._give_groups(self.billing_user, "refund_proof.group_refund_user")
        with self.assertRaises(ValidationError):
            self._open_payment_wizard(tx, 100.0)

    def test_bad_amounts_are_refused(self):
        """Zero, negative and excessive amounts: a clear error, nothing written."""
        tx = self._create_paid_transaction(100.0)
        for amount, message in (
            (0.0, "must be positive"),
            (-5.0, "must be positive"),
            (0.001, "must be positive"),  # rounds to 0.00 in the currency
            (100.01, "can still be refunded"),
        ):
            with (
                self.subTest(amount=amount),
                self.assertRaisesRegex(ValidationError, message),
            ):
                self._refund(tx, amount)
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_amount_rounded_to_currency(self):
        """An amount within rounding of what remains is accepted as what remains."""
        tx = self._create_paid_transaction(100.0)
        refund = self._refund(tx, 100.004)
        self.assertEqual(refund.amount, 100.0)

    def test_source_not_done_is_refused(self):
        """Only confirmed payments can be refunded."""
        tx = self._create_transaction(
            "direct", reference=self._next_reference(), amount=50.0
        )
        with self.assertRaisesRegex(ValidationError, "Only confirmed transactions"):
            tx.with_user(self.refund_user).action_refund(amount_to_refund=10.0)
        self.assertFalse(tx.refund_ids)

    def test_refund_of_a_refund_is_refused(self):
        """A refund transaction is not a source of refunds."""
        tx = self._create_paid_transaction(100.0)
        refund_tx = self._refund(tx, 10.0).transaction_ids
        with self.assertRaisesRegex(ValidationError, "is itself a refund"):
            refund_tx.with_user(self.refund_user).action_refund(amount_to_refund=1.0)

    def test_full_only_provider_accepts_only_what_remains(self):
        """A full_only provider refuses a partial amount and accepts the full one."""
        tx = self._create_paid_transaction(100.0)
        self.provider.support_refund = "full_only"
        with self.assertRaisesRegex(
            UserError, "only refunds the full remaining amount"
        ):
            self._refund(tx, 40.0)
        refund = self._refund(tx)
        self.assertEqual((refund.amount, refund.state), (100.0, "done"))

    def test_provider_without_refunds_needs_a_manual_refund(self):
        """A provider that cannot refund refuses an API refund; a manual one passes."""
        tx = self._create_paid_transaction(80.0)
        self.provider.support_refund = "none"
        with self.assertRaisesRegex(UserError, "record it as a manual refund"):
            self._refund(tx, 20.0)
        self.assertFalse(tx.refund_ids)
        refund = self._refund(
            tx, 20.0, manual=True, manual_method="bank_transfer", arn="BANKREF2026X1"
        )
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "origin": "manual",
                    "manual_method": "bank_transfer",
                    "arn": "BANKREF2026X1",
                    "arn_type": "bank_reference",
                }
            ],
        )
        self.assertFalse(refund.transaction_ids, "a manual refund sends nothing")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
