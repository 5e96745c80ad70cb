"""One request check for every way money leaves.

`payment.transaction._check_refund_request` is the one home of the rules every refund
meets before it is decided. These tests add a rule there, as a merchant's module would
("refuse refunds to a blocked customer"), and drive every entry point as its users do:
each must meet the rule before anything is written or sent. An entry point added later
belongs in `ENTRY_POINTS`.
"""

from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .test_credit_note import CreditNoteCase

BLOCKED = "refunds to a blocked customer are refused"


@tagged("-at_install", "post_install")
class TestOneRequestCheck(CreditNoteCase):
    def _blocked_customer_rule(self, blocked_tx):
        """A rule added to the one check: refunds of `blocked_tx` are refused."""
        check = self.registry["payment.transaction"]._check_refund_request
        seen = []

        def rule(tx, *args, **kwargs):
            seen.append(tx.id)
            if tx == blocked_tx:
                raise UserError(BLOCKED)
            return check(tx, *args, **kwargs)

        return (
            patch.object(
                self.registry["payment.transaction"],
                "_check_refund_request",
                autospec=True,
                side_effect=rule,
            ),
            seen,
        )

    # === THE ENTRY POINTS, AS THEIR USERS DRIVE THEM === #
    # Each prepares what its users start from (before the rule exists) and returns
    # the user's action.

    def _via_request_wizard(self, tx):
        def act():
            with Form(
                self.env["payment.refund.request"]
                .with_user(self.accountant)
                .with_context(default_source_transaction_id=tx.id)
            ) as form:
                form.amount = 10.0
            form.record.action_confirm()

        return act

    def _via_action_refund(self, tx):
        return lambda: tx.with_user(self.accountant).action_refund(
            amount_to_refund=10.0
        )

    def _via_payment_wizard(self, tx):
        return lambda: self._open_payment_wizard(
            tx, 10.0, user=self.accountant
        ).action_refund()

    def _via_retry(self, tx):
        with patch.object(
            self.registry["payment.transaction"],
            "_send_refund_request",
            side_effect=ValidationError("The provider is down."),
        ):
            refund = self._refund(tx, 10.0, user=self.accountant)
        self.assertEqual(refund.state, "failed")
        return refund.with_user(self.accountant).action_retry

    def _via_approval(self, tx):
        refund = self._refund(tx, 60.0, user=self.limited_accountant)
        self.assertEqual(refund.state, "to_approve")
        return refund.with_user(self.refund_manager).action_approve

    def _via_credit_note_wizard(self, tx):
        credit_note = self._credit_note(tx.invoice_ids, 10.0)
        return lambda: self._refund_credit_note(credit_note)

    ENTRY_POINTS = (
        "_via_request_wizard",
        "_via_action_refund",
        "_via_payment_wizard",
        "_via_retry",
        "_via_approval",
        "_via_credit_note_wizard",
    )

    def _snapshot(self, tx):
        tx.invalidate_recordset()
        return (
            [(r.id, r.state) for r in tx.refund_ids.sorted("id")],
            tx.child_transaction_ids.ids,
        )

    def test_every_entry_point_meets_the_one_check(self):
        """A rule added to `_check_refund_request` refuses the refund from every entry
        point before anything is written or sent (a retried or approved refund stays
        as it was, no refund transaction); without the rule, each refunds."""
        for entry_point in self.ENTRY_POINTS:
            with self.subTest(entry_point=entry_point):
                _invoice, tx = self._paid_invoice(100.0)
                act = getattr(self, entry_point)(tx)
                before = self._snapshot(tx)
                rule, seen = self._blocked_customer_rule(tx)
                with rule, self.assertRaisesRegex(UserError, BLOCKED):
                    act()
                self.assertIn(tx.id, seen, f"{entry_point} skipped the one check")
                self.assertEqual(self._snapshot(tx), before, entry_point)
                act()  # The same action, without the rule: refunded.
                self.assertEqual(
                    tx.refund_ids.sorted("id")[-1:].state, "done", entry_point
                )
