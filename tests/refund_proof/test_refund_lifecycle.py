from unittest.mock import patch

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundLifecycle(RefundProofCommon):
    def setUp(self):
        super().setUp()
        # Odoo's base provider creates the refund transaction and leaves it in draft,
        # like a real provider waiting for its webhook: the test then plays the
        # provider's answer. (support_refund is a non-stored compute of the provider:
        # set per test.)
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"

    def _paid_with_dummy(self, amount=100.0):
        return self._create_paid_transaction(amount, provider=self.dummy_provider)

    def test_refund_waits_for_the_provider(self):
        """A refund whose attempt is not confirmed is pending and holds its amount."""
        tx = self._paid_with_dummy()
        refund = self._refund(tx, 40.0)
        self.assertEqual(refund.state, "pending")
        self.assertEqual(refund.transaction_ids.state, "draft")
        self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
        refund.transaction_ids._set_done()
        self.assertEqual(refund.state, "done")
        self.assertTrue(refund.refund_date)

    def test_failed_attempt_is_kept_with_the_provider_message_then_retried(self):
        """A refused attempt fails the refund and frees its amount; a retry works."""
        tx = self._paid_with_dummy()
        refund = self._refund(tx, 40.0, reason=self.reason_customer)
        first = refund.transaction_ids
        first._set_error("Insufficient balance on the merchant account")
        self.assertEqual(refund.state, "failed")
        self.assertEqual(
            refund.failure_message, "Insufficient balance on the merchant account"
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        self.assertEqual(tx.refund_status, "none")

        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "pending")
        self.assertFalse(refund.failure_message)
        self.assertEqual(len(refund.transaction_ids), 2, "the failed attempt is kept")
        second = refund.transaction_ids - first
        self.assertEqual(first.state, "error")
        second._set_done()
        self.assertEqual(refund.state, "done")
        self.assertEqual(tx.refund_status, "partial")

    def test_retry_rechecks_what_remains(self):
        """A failed refund cannot be retried once another refund took its amount."""
        tx = self._paid_with_dummy()
        refund = self._refund(tx, 70.0)
        refund.transaction_ids._set_error("Declined")
        self._refund(tx, 50.0)
        with self.assertRaisesRegex(ValidationError, "can still be refunded"):
            refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "failed")

    def test_only_failed_refunds_can_be_retried(self):
        """Retrying a done refund is refused, to the refund user who may retry (a
        user without the right is refused first, whatever the refund's state)."""
        refund = self._refund(self._create_paid_transaction(), 10.0)
        with self.assertRaisesRegex(UserError, "Only failed refunds"):
            refund.with_user(self.refund_user).action_retry()
        with self.assertRaisesRegex(AccessError, "not allowed to refund"):
            refund.with_user(self.plain_user).action_retry()

    def test_provider_exception_is_recorded_not_lost(self):
        """When the provider call raises, the refund is kept failed with the message."""
        tx = self._create_paid_transaction()
        Transaction = self.registry["payment.transaction"]
        with patch.object(
            Transaction,
            "_send_refund_request",
            side_effect=ValidationError(
                "Stripe: Could not establish the connection to the API."
            ),
        ):
            refund = self._refund(tx, 25.0)
        self.assertEqual(refund.state, "failed")
        self.assertIn("Could not establish the connection", refund.failure_message)
        self.assertFalse(
            refund.transaction_ids, "the provider's half-written attempt is undone"
        )
        self.assertIn("Could not establish", refund.message_ids[:1].body)
        refund.with_user(self.refund_user).action_retry()
        self.assertEqual(refund.state, "done")

    def test_done_then_error_reverses_the_refund(self):
        """A provider's late done→error makes the refund failed and frees the amount."""
        tx = self._create_paid_transaction()
        refund = self._refund(tx, 30.0)
        self.assertEqual(refund.state, "done")
        refund.transaction_ids._set_error(
            "The refund failed: the card was closed.", extra_allowed_states=("done",)
        )
        self.assertEqual(refund.state, "failed")
        self.assertTrue(refund.reversal_date)
        self.assertEqual(
            refund.failure_message, "The refund failed: the card was closed."
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_cancelled_attempt_fails_the_refund(self):
        """A cancelled attempt is a refund that did not happen."""
        refund = self._refund(self._paid_with_dummy(), 10.0)
        refund.transaction_ids._set_canceled("Cancelled at the provider")
        self.assertEqual(refund.state, "failed")

    def test_refund_reported_by_webhook_is_recorded(self):
        """A refund made in the provider's dashboard arrives as a child transaction."""
        tx = self._create_paid_transaction()
        # What Stripe/Adyen glue does on a refund event they did not start from Odoo.
        refund_tx = tx.sudo()._create_child_transaction(25.0, is_refund=True)
        refund = refund_tx.refund_id
        self.assertRecordValues(
            refund,
            [
                {
                    "origin": "provider",
                    "amount": 25.0,
                    "state": "pending",
                    "requested_by_id": False,
                    "source_transaction_id": tx.id,
                }
            ],
        )
        refund_tx._handle_notification_data(
            "demo", {"reference": refund_tx.reference, "simulated_state": "done"}
        )
        self.assertEqual(refund.state, "done")
        self.assertAlmostEqual(tx.refund_remaining_amount, 75.0)

    def test_webhook_refund_is_recorded_even_above_the_cap(self):
        """The provider moved the money: its refund is recorded, never refused."""
        tx = self._create_paid_transaction(50.0)
        self._refund(tx, 50.0)
        refund_tx = tx.sudo()._create_child_transaction(5.0, is_refund=True)
        self.assertEqual(refund_tx.refund_id.amount, 5.0)
        self.assertEqual(tx.refund_remaining_amount, 0.0)

    def test_refunds_older_than_the_module_are_linked(self):
        """The install hook gives refund transactions made before it their record."""
        tx = self._create_paid_transaction()
        refund_tx = tx.sudo()._create_child_transaction(10.0, is_refund=True)
        refund_tx._set_done()
        # As if the refund predated the module: no record, no link.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE payment_transaction SET refund_id = NULL WHERE id = %s; "
            "DELETE FROM payment_refund WHERE id = %s",
            [refund_tx.id, refund_tx.refund_id.id],
        )
        self.env.invalidate_all()
        self.assertFalse(tx.refund_ids)
        from odoo.addons.refund_proof.hooks import post_init_hook

        post_init_hook(self.env)
        self.assertRecordValues(
            refund_tx.refund_id,
            [
                {
                    "state": "done",
                    "amount": 10.0,
                    "origin": "provider",
                }
            ],
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 90.0)

    def test_manual_refund_recorded_then_confirmed(self):
        """A manual refund from the wizard is done at once, with how it was paid."""
        tx = self._create_paid_transaction(60.0)
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.refund_user)
            .create(
                {
                    "source_transaction_id": tx.id,
                    "amount": 60.0,
                    "manual": True,
                    "manual_method": "cash",
                    "reason_id": self.reason_customer.id,
                }
            )
        )
        action = wizard.action_confirm()
        refund = self.env["payment.refund"].browse(action["res_id"])
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "origin": "manual",
                    "manual_method": "cash",
                    "amount": 60.0,
                }
            ],
        )
        self.assertEqual(tx.refund_status, "full")

    def test_transaction_refund_button_wizard(self):
        """The transaction form's Refund wizard proposes what remains and refunds it."""
        tx = self._create_paid_transaction(100.0)
        self._refund(tx, 30.0)
        action = tx.with_user(self.refund_user).action_open_refund_wizard()
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.refund_user)
            .with_context(action["context"])
            .create({})
        )
        self.assertAlmostEqual(wizard.amount, 70.0)
        self.assertFalse(wizard.manual)
        wizard.write(
            {"amount": 20.0, "reason_id": self.reason_customer.id, "note": "Late"}
        )
        refund = self.env["payment.refund"].browse(wizard.action_confirm()["res_id"])
        self.assertRecordValues(
            refund, [{"amount": 20.0, "state": "done", "note": "Late"}]
        )

    def test_reason_requiring_a_note_refuses_an_empty_one(self):
        """A reason flagged requires_note refuses an empty note, and nothing is sent."""
        tx = self._create_paid_transaction()
        # The savepoint plays the request's rollback.
        with (
            self.assertRaisesRegex(ValidationError, "requires a note"),
            self.cr.savepoint(),
        ):
            self._refund(tx, 10.0, reason=self.reason_fraud, note="  ")
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_refunds_cannot_be_deleted(self):
        """A refund is history: deleting it is refused, even to a manager, whatever
        its state (a cancelled request keeps who cancelled it and why)."""
        done = self._refund(self._create_paid_transaction(), 10.0)
        requester = new_test_user(
            self.env,
            login="no_limit_requester",
            groups="base.group_user,refund_proof.group_refund_user",
        )
        cancelled = self._refund(self._create_paid_transaction(), 10.0, user=requester)
        cancelled.with_user(requester).action_cancel()
        self.assertEqual(cancelled.state, "cancelled")
        for refund in done | cancelled:
            with self.assertRaisesRegex(UserError, "Refunds are never deleted"):
                refund.with_user(self.refund_manager).unlink()
        self.assertTrue(done.exists() and cancelled.exists())
        with self.assertRaisesRegex(UserError, "Only draft or cancelled"):
            done.sudo().unlink()

    @mute_logger("odoo.addons.refund_proof.models.payment_transaction")
    def test_state_sync_never_raises(self):
        """A failure following an attempt never undoes the provider's state change."""
        refund = self._refund(self._paid_with_dummy(), 10.0)
        with patch.object(
            self.registry["payment.refund"],
            "_sync_state_from_attempts",
            side_effect=RuntimeError("boom"),
        ):
            refund.transaction_ids._set_done()
        self.assertEqual(refund.transaction_ids.state, "done")
