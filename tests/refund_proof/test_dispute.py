"""Disputes (payment.dispute): recorded from a bank letter or by the providers' hook,
their one path of state changes, and the rule "never lose twice": no refund on a
payment the bank took back, a full refund only under an inquiry, which ends it.

The bridges' signed webhooks are tested in
tests/refund_proof_stripe/test_dispute_stripe.py and
tests/refund_proof_adyen/test_dispute_adyen.py.
"""

from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from ..json_rpc_client import JsonRpcMixin, RpcError
from ..refund_factories import RefundProofCommon


class DisputeCase(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Dispute = cls.env["payment.dispute"]

    def _dispute(self, tx, **values):
        """A dispute reported by the provider's hook (as a bridge reports it)."""
        return tx._refund_proof_upsert_dispute(
            {"provider_reference": "DISPUTE-1", **values}
        ).with_env(self.env)

    def _letter(self, tx, user=None, **values):
        """A dispute recorded by `user` (a refund manager) from a bank letter."""
        return (
            self.Dispute.with_user(user or self.refund_manager)
            .create(
                {
                    "source_transaction_id": tx.id,
                    "amount": 100.0,
                    "card_network": "visa",
                    "reason_code": "13.6",
                    **values,
                }
            )
            .with_env(self.env)
        )

    def _todos(self, record):
        return record.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_todo")
        )


@tagged("-at_install", "post_install")
class TestDispute(DisputeCase):
    # --- the record --- #

    def test_manager_records_a_dispute_from_a_bank_letter(self):
        """A refund manager records a dispute from a bank letter: numbered, of the
        payment's customer and company, needing a response, with its readable
        reason."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._letter(tx, evidence_due_date=datetime(2030, 1, 31, 12))
        self.assertRegex(dispute.name, r"^DP/\d{4}/\d{5}$")
        self.assertEqual(dispute.origin, "manual")
        self.assertEqual(dispute.state, "needs_response")
        self.assertEqual(dispute.kind, "chargeback")
        self.assertEqual(dispute.partner_id, tx.partner_id)
        self.assertEqual(dispute.company_id, tx.company_id)
        self.assertEqual(dispute.currency_id, tx.currency_id)
        self.assertEqual(dispute.reason_display, "Visa 13.6 — Credit not processed")
        self.assertEqual(dispute.refund_ids, tx.refund_ids)

    def test_readable_reason_of_unknown_code_keeps_network_and_code(self):
        """An unknown code reads as network and code; Mastercard's codes are
        known."""
        tx = self._create_paid_transaction(100.0)
        self.assertEqual(
            self._dispute(tx, card_network="mc", reason_code="4853").reason_display,
            "Mastercard 4853 — Cardholder dispute",
        )
        other = tx._refund_proof_upsert_dispute(
            {"provider_reference": "D2", "card_network": "visa", "reason_code": "99"}
        )
        self.assertEqual(other.reason_display, "Visa 99")

    def test_refund_user_and_billing_user_cannot_record_a_dispute(self):
        """Only refund managers record disputes."""
        tx = self._create_paid_transaction(100.0)
        for user in (self.refund_user, self.billing_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self._letter(tx, user=user)

    def test_letter_cannot_set_the_state_or_origin(self):
        """A bank letter gives its facts; the state and origin are the server's."""
        tx = self._create_paid_transaction(100.0)
        for field, value in (("state", "won"), ("origin", "provider")):
            with self.subTest(field=field), self.assertRaises(AccessError):
                self._letter(tx, **{field: value})

    def test_manager_writes_only_note_and_due_date(self):
        """A refund manager edits the note and the due date; the amount, kind and
        references are refused, and the state only changes through the actions."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._letter(tx).with_user(self.refund_manager)
        dispute.write({"note": "Letter of 2 March", "evidence_due_date": "2030-02-01"})
        for field, value in (
            ("amount", 1.0),
            ("kind", "inquiry"),
            ("provider_reference", "X"),
            ("state", "won"),
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                dispute.write({field: value})
        self.assertEqual(dispute.amount, 100.0)

    def test_refund_user_cannot_change_a_dispute(self):
        """Refund users read disputes and change nothing, actions included."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._letter(tx).with_user(self.refund_user)
        self.assertEqual(dispute.read(["state"])[0]["state"], "needs_response")
        with self.assertRaises(AccessError):
            dispute.write({"note": "x"})
        with self.assertRaises(AccessError):
            dispute.action_mark_won()
        self.assertEqual(dispute.state, "needs_response")

    def test_state_write_is_refused_even_in_sudo_mode(self):
        """The state changes through `_set_state` only."""
        dispute = self._letter(self._create_paid_transaction(100.0))
        with self.assertRaises(UserError):
            dispute.sudo().write({"state": "won"})

    def test_state_changes_follow_the_transition_table(self):
        """needs response → under review → won → lost is allowed; a closed dispute
        stays closed."""
        dispute = self._letter(self._create_paid_transaction(100.0)).with_user(
            self.refund_manager
        )
        dispute.action_mark_under_review()
        self.assertEqual(dispute.state, "under_review")
        dispute.action_mark_won()
        self.assertEqual(dispute.state, "won")
        dispute.action_mark_lost()
        self.assertEqual(dispute.state, "lost")
        other = self._letter(self._create_paid_transaction(100.0)).with_user(
            self.refund_manager
        )
        other.action_close()
        with self.assertRaises(UserError):
            other.action_mark_won()
        self.assertEqual(other.state, "closed")

    def test_new_dispute_gives_the_managers_a_todo_until_decided(self):
        """A new dispute gives each refund manager a to-do, due on the response
        date, done when the dispute is decided."""
        dispute = self._letter(
            self._create_paid_transaction(100.0),
            evidence_due_date=datetime(2030, 1, 31, 12),
        )
        todos = self._todos(dispute)
        self.assertIn(self.refund_manager, todos.user_id)
        self.assertEqual(
            set(todos.mapped("date_deadline")), {datetime(2030, 1, 31).date()}
        )
        dispute.with_user(self.refund_manager).action_mark_won()
        self.assertFalse(self._todos(dispute))

    def test_disputes_are_never_deleted_or_copied_by_users(self):
        """A manager can neither delete nor duplicate a dispute."""
        dispute = self._letter(self._create_paid_transaction(100.0)).with_user(
            self.refund_manager
        )
        with self.assertRaises(AccessError):
            dispute.unlink()
        with self.assertRaises(UserError):
            dispute.copy()

    def test_dispute_of_another_company_is_invisible(self):
        """The multi-company rule: a manager of another company sees none."""
        dispute = self._letter(self._create_paid_transaction(100.0))
        other_company = self.env["res.company"].create({"name": "Other Co"})
        outsider = new_test_user(
            self.env,
            login="outsider_manager",
            groups="base.group_user,refund_proof.group_refund_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        self.assertFalse(
            self.Dispute.with_user(outsider).search([("id", "=", dispute.id)])
        )
        with self.assertRaises(AccessError):
            dispute.with_user(outsider).read(["name"])

    def test_letter_of_another_company_or_not_a_payment_is_refused(self):
        """A manager records letters on payments they may read only: not another
        company's (even with that company in the context), not a draft or a card
        validation; nothing is created, the other company's payment stays
        refundable."""
        other_company = self.env["res.company"].create({"name": "Other Co"})
        foreign = self._create_paid_transaction(100.0)
        foreign.sudo().company_id = other_company
        for user_env in (
            self.Dispute.with_user(self.refund_manager),
            self.Dispute.with_user(self.refund_manager).with_context(
                allowed_company_ids=[other_company.id]
            ),
        ):
            with self.assertRaises(AccessError):
                user_env.create({"source_transaction_id": foreign.id, "amount": 10.0})
        self.assertFalse(foreign.sudo()._get_open_disputes())
        draft = self._create_transaction("direct", reference=self._next_reference())
        validation = self._create_paid_transaction(0.0, operation="validation")
        for tx in (draft, validation):
            with self.assertRaisesRegex(ValidationError, "not a confirmed payment"):
                self._letter(tx, amount=1.0)
        self.assertFalse(
            self.Dispute.search(
                [("source_transaction_id", "in", (draft | validation).ids)]
            )
        )

    def test_letter_facts_are_checked(self):
        """A letter in another currency, above the payment, opened in the future,
        due before it was opened, or recorded twice is refused; a due date moved
        before the opening too."""
        tx = self._create_paid_transaction(100.0)
        euro = self.env.ref("base.EUR")
        if euro == tx.currency_id:
            euro = self.env.ref("base.USD")
        now = datetime.now()
        for values, message in (
            ({"currency_id": euro.id}, "payment's currency"),
            ({"amount": 100.01}, "cannot exceed the payment"),
            ({"opened_date": now + timedelta(days=3)}, "in the future"),
            (
                {
                    "opened_date": now - timedelta(days=2),
                    "evidence_due_date": now - timedelta(days=5),
                },
                "due before",
            ),
        ):
            with self.subTest(values=values):
                with self.assertRaisesRegex(ValidationError, message):
                    self._letter(tx, **values)
        dispute = self._letter(tx, provider_reference="CB-1")
        with self.assertRaisesRegex(ValidationError, dispute.name):
            self._letter(tx, provider_reference="CB-1")
        with self.assertRaisesRegex(ValidationError, "due before"):
            dispute.with_user(self.refund_manager).evidence_due_date = (
                dispute.opened_date - timedelta(days=1)
            )
        self.assertEqual(
            self.Dispute.search_count([("source_transaction_id", "=", tx.id)]), 1
        )

    def test_refund_wizard_of_another_company_payment_shows_nothing(self):
        """The Refund wizard of a payment the user may not read is refused: no
        amount, no dispute of it."""
        other_company = self.env["res.company"].create({"name": "Other Co"})
        foreign = self._create_paid_transaction(100.0)
        foreign.sudo().company_id = other_company
        self._dispute(foreign)
        with self.assertRaises(AccessError):
            self.env["payment.refund.request"].with_user(self.refund_user).create(
                {"source_transaction_id": foreign.id}
            )

    # --- the provider hook --- #

    def test_provider_hook_creates_then_updates_one_dispute(self):
        """Events with the same provider reference update one dispute: the amount,
        the state, and the kind forward only."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._dispute(tx, kind="inquiry", amount=80.0)
        self.assertEqual(
            (dispute.kind, dispute.state, dispute.amount),
            ("inquiry", "needs_response", 80.0),
        )
        self.assertEqual(dispute.origin, "provider")
        same = self._dispute(tx, kind="chargeback", state="under_review", amount=100.0)
        self.assertEqual(same, dispute)
        self.assertEqual(
            (dispute.kind, dispute.state, dispute.amount),
            ("chargeback", "under_review", 100.0),
        )
        self._dispute(tx, kind="inquiry")
        self.assertEqual(dispute.kind, "chargeback")
        self.assertEqual(len(tx.sudo().dispute_ids), 1)

    def test_late_event_of_a_closed_dispute_changes_nothing(self):
        """A state the dispute cannot go to is logged on it and changes nothing."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._dispute(tx, kind="inquiry", state="closed")
        self._dispute(tx, state="needs_response")
        self.assertEqual(dispute.state, "closed")
        self.assertIn("it stays", dispute.message_ids[:1].body)

    # --- never lose twice --- #

    def test_refund_refused_under_an_open_chargeback(self):
        """A refund of a payment with an open chargeback is refused, naming the
        dispute; nothing is created."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._dispute(tx, kind="chargeback")
        with self.assertRaisesRegex(UserError, dispute.name + ".*took the money back"):
            self._refund(tx, 10.0)
        self.assertFalse(tx.refund_ids)

    def test_refund_wizard_links_the_dispute_and_the_server_still_refuses(self):
        """The transaction's Refund wizard names the open chargeback (a link to it)
        and hides its button; confirming anyway is refused by the server. Under an
        inquiry it names the inquiry and allows the full refund."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._dispute(tx, kind="chargeback")
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.refund_user)
            .create({"source_transaction_id": tx.id})
        )
        self.assertEqual(wizard.dispute_id, dispute)
        self.assertTrue(wizard.is_charged_back)
        with self.assertRaisesRegex(UserError, dispute.name):
            wizard.action_confirm()
        self.assertFalse(tx.refund_ids)
        other = self._create_paid_transaction(80.0)
        inquiry = self._dispute(other, kind="inquiry", provider_reference="INQ-1")
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.refund_user)
            .create({"source_transaction_id": other.id})
        )
        self.assertEqual(wizard.dispute_id, inquiry)
        self.assertFalse(wizard.is_charged_back)
        wizard.action_confirm()
        self.assertEqual(other.refund_ids.amount, 80.0)
        self.assertEqual(inquiry.state, "closed")

    def test_refund_refused_under_pre_arbitration_under_review(self):
        """Pre-arbitration under review blocks refunds as a chargeback does."""
        tx = self._create_paid_transaction(100.0)
        self._dispute(tx, kind="pre_arbitration", state="under_review")
        with self.assertRaises(UserError):
            self._refund(tx)

    def test_refund_allowed_again_once_the_chargeback_is_decided(self):
        """A won chargeback no longer blocks refunds."""
        tx = self._create_paid_transaction(100.0)
        self._dispute(tx, kind="chargeback", state="won")
        self.assertEqual(self._refund(tx, 10.0).state, "done")

    def test_retry_and_approval_are_refused_under_an_open_chargeback(self):
        """A failed refund's retry and a request's approval are re-checked."""
        tx = self._create_paid_transaction(100.0)
        self.refund_user.refund_limit = 5
        waiting = self._refund(tx, 10.0)
        self.assertEqual(waiting.state, "to_approve")
        self._dispute(tx, kind="chargeback")
        with self.assertRaises(UserError):
            waiting.with_user(self.refund_manager).action_approve()
        self.assertEqual(waiting.state, "to_approve")

    def test_inquiry_refuses_a_partial_refund(self):
        """Under an inquiry only a refund of all that remains is allowed."""
        tx = self._create_paid_transaction(100.0)
        dispute = self._dispute(tx, kind="inquiry")
        with self.assertRaisesRegex(UserError, dispute.name):
            self._refund(tx, 40.0)
        self.assertFalse(tx.refund_ids)

    def test_full_refund_under_an_inquiry_closes_it(self):
        """A full refund of what remains is allowed under an inquiry and closes it
        as refunded."""
        tx = self._create_paid_transaction(100.0)
        self._refund(tx, 30.0)
        dispute = self._dispute(tx, kind="inquiry")
        refund = self._refund(tx)
        self.assertEqual((refund.state, refund.amount), ("done", 70.0))
        self.assertEqual(dispute.state, "closed")
        self.assertTrue(
            dispute.message_ids.filtered(
                lambda m: "Closed: refunded" in m.body and refund.name in m.body
            )
        )

    def test_full_refund_under_an_inquiry_closes_it_with_another_still_pending(self):
        """The refund of all that remains closes the inquiry when it is done, even
        while an earlier refund is still pending at the provider."""
        tx = self._create_paid_transaction(100.0)
        # Reported by the provider, not confirmed yet.
        tx.sudo()._create_child_transaction(40.0, is_refund=True)
        pending = tx.refund_ids
        dispute = self._dispute(tx, kind="inquiry")
        refund = self._refund(tx, 60.0)
        self.assertEqual((refund.state, pending.state), ("done", "pending"))
        self.assertEqual(dispute.state, "closed")

    def test_refunds_in_flight_are_flagged_when_a_chargeback_arrives(self):
        """A refund awaiting approval when a chargeback arrives gets a to-do for the
        refund managers; a done one does not."""
        tx = self._create_paid_transaction(100.0)
        done = self._refund(tx, 10.0)
        self.refund_user.refund_limit = 5
        waiting = self._refund(tx, 20.0)
        self.assertEqual(waiting.state, "to_approve")
        dispute = self._dispute(tx, kind="chargeback")
        flags = self._todos(waiting).filtered(lambda a: dispute.name in a.summary)
        self.assertIn(self.refund_manager, flags.user_id)
        self.assertFalse(
            self._todos(done).filtered(lambda a: dispute.name in a.summary)
        )

    def test_inquiry_escalated_to_a_chargeback_flags_refunds_in_flight(self):
        """An inquiry becoming a chargeback flags the refunds in flight then."""
        tx = self._create_paid_transaction(100.0)
        self.refund_user.refund_limit = 5
        waiting = self._refund(tx, 100.0)
        dispute = self._dispute(tx, kind="inquiry")
        self.assertFalse(
            any(dispute.name in (a.summary or "") for a in self._todos(waiting))
        )
        self._dispute(tx, kind="chargeback")
        self.assertTrue(
            any(dispute.name in (a.summary or "") for a in self._todos(waiting))
        )


@tagged("-at_install", "post_install")
class TestDisputeRpc(JsonRpcMixin, DisputeCase, HttpCase):
    """Disputes through Odoo's real JSON-RPC: a manager records one from a letter; a
    refund user and a portal customer cannot."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_customer = new_test_user(
            cls.env, login="portal_customer", groups="base.group_portal"
        )

    def _letter_values(self, tx):
        return {
            "source_transaction_id": tx.id,
            "amount": 100.0,
            "card_network": "visa",
            "reason_code": "13.6",
            "evidence_due_date": "2030-01-31 12:00:00",
        }

    def test_manager_records_a_dispute_over_rpc(self):
        """A refund manager creates a dispute from a letter over JSON-RPC."""
        tx = self._create_paid_transaction(
            100.0, partner_id=self.portal_customer.partner_id.id
        )
        dispute_id = self._rpc(
            self.refund_manager, "payment.dispute", "create", self._letter_values(tx)
        )
        dispute = self.Dispute.browse(dispute_id)
        self.assertEqual((dispute.origin, dispute.state), ("manual", "needs_response"))

    def test_refund_user_and_portal_cannot_create_over_rpc(self):
        """Refund users and portal customers are refused over JSON-RPC."""
        tx = self._create_paid_transaction(
            100.0, partner_id=self.portal_customer.partner_id.id
        )
        for user in (self.refund_user, self.portal_customer):
            with self.subTest(user=user.login), self.assertRaises(RpcError) as caught:
                self._rpc(user, "payment.dispute", "create", self._letter_values(tx))
            self.assertIn("AccessError", caught.exception.name)
        self.assertFalse(self.Dispute.search([("source_transaction_id", "=", tx.id)]))

    def test_portal_reads_no_dispute_and_refund_user_reads_all(self):
        """A portal customer reads not even their own disputes; a refund user
        reads them."""
        tx = self._create_paid_transaction(
            100.0, partner_id=self.portal_customer.partner_id.id
        )
        dispute = self._letter(tx)
        with self.assertRaises(RpcError):
            self._rpc(
                self.portal_customer, "payment.dispute", "read", [dispute.id], ["name"]
            )
        result = self._rpc(
            self.refund_user, "payment.dispute", "read", [dispute.id], ["name"]
        )
        self.assertEqual(result[0]["name"], dispute.name)

    def test_state_over_rpc_only_through_actions(self):
        """Over JSON-RPC a manager cannot write the state; the action changes it; a
        refund user's action is refused."""
        dispute = self._letter(self._create_paid_transaction(100.0))
        with self.assertRaises(RpcError):
            self._rpc(
                self.refund_manager,
                "payment.dispute",
                "write",
                [dispute.id],
                {"state": "won"},
            )
        with self.assertRaises(RpcError):
            self._rpc(
                self.refund_user, "payment.dispute", "action_mark_won", [dispute.id]
            )
        self.assertEqual(dispute.state, "needs_response")
        self._rpc(
            self.refund_manager, "payment.dispute", "action_mark_won", [dispute.id]
        )
        dispute.invalidate_recordset()
        self.assertEqual(dispute.state, "won")

    def test_refund_over_rpc_is_refused_under_a_chargeback(self):
        """action_refund over JSON-RPC is refused under an open chargeback."""
        tx = self._create_paid_transaction(100.0)
        self._dispute(tx, kind="chargeback")
        with self.assertRaises(RpcError) as caught:
            self._rpc(self.refund_user, "payment.transaction", "action_refund", [tx.id])
        self.assertIn("took the money back", caught.exception.message)
        self.assertFalse(tx.refund_ids)

    def test_answering_over_rpc_follows_the_same_rules(self):
        """Over JSON-RPC: the evidence fields are the server's (a manager cannot
        write them); a refund user and a portal customer cannot submit; the portal
        reads no download log and cannot print the pack, a refund user prints it."""
        dispute = self._letter(self._create_paid_transaction(100.0))
        for field, value in (
            ("evidence_submit_date", "2030-01-01 00:00:00"),
            ("evidence_submission", "evidence[uncategorized_text]: forged"),
            ("deadline_alert_date", "2030-01-01 00:00:00"),
            ("opened_date", "2020-01-01 00:00:00"),
        ):
            with self.subTest(field=field), self.assertRaises(RpcError) as caught:
                self._rpc(
                    self.refund_manager,
                    "payment.dispute",
                    "write",
                    [dispute.id],
                    {field: value},
                )
            self.assertIn("AccessError", caught.exception.name)
        for user in (self.refund_user, self.portal_customer):
            with self.subTest(user=user.login), self.assertRaises(RpcError):
                self._rpc(
                    user, "payment.dispute", "action_submit_evidence", [dispute.id]
                )
        with self.assertRaises(RpcError):
            self._rpc(
                self.portal_customer,
                "payment.refund.proof.download",
                "search_read",
                [],
                ["download_date"],
            )
        with self.assertRaises(RpcError):
            self._rpc(
                self.portal_customer,
                "payment.dispute",
                "action_print_evidence",
                [dispute.id],
            )
        action = self._rpc(
            self.refund_user, "payment.dispute", "action_print_evidence", [dispute.id]
        )
        self.assertEqual(action["report_name"], "refund_proof.report_dispute_evidence")
        dispute.invalidate_recordset()
        self.assertFalse(dispute.evidence_submit_date)
        self.assertEqual(dispute.state, "needs_response")
