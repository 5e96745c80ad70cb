from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundApproval(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.limited_user = new_test_user(
            cls.env,
            login="limited_user",
            name="Lea Limited",
            tz="Europe/Paris",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=50.0,
            refund_daily_limit=120.0,
        )
        cls.second_manager = new_test_user(
            cls.env,
            login="second_manager",
            name="Sam Second",
            groups="base.group_user,refund_proof.group_refund_manager",
        )

    def _request(self, tx, amount, user=None, **kwargs):
        return self._refund(tx, amount, user=user or self.limited_user, **kwargs)

    def test_within_limit_is_sent(self):
        """A refund within the user's limits is issued at once."""
        refund = self._request(self._create_paid_transaction(), 50.0)
        self.assertEqual(refund.state, "done")
        self.assertFalse(refund.approved_by_id)

    def test_above_single_limit_waits_and_sends_nothing(self):
        """Above the single limit the refund waits for approval; no provider call."""
        tx = self._create_paid_transaction()
        refund = self._request(tx, 50.01)
        self.assertEqual(refund.state, "to_approve")
        self.assertFalse(refund.transaction_ids)
        self.assertFalse(tx.child_transaction_ids)
        self.assertIn("above your refund limit", refund.approval_reasons)

    def test_zero_limit_means_every_refund_needs_approval(self):
        """A refund user without a limit never refunds alone."""
        user = new_test_user(
            self.env,
            login="no_limit",
            groups="base.group_user,refund_proof.group_refund_user",
        )
        refund = self._request(self._create_paid_transaction(), 1.0, user=user)
        self.assertEqual(refund.state, "to_approve")

    def test_daily_cap_over_several_refunds_resets_next_day(self):
        """The daily cap counts the user's refunds of the company's day."""
        self.env.company.refund_tz = "Europe/Paris"
        # 22:30 UTC is 23:30 in Paris: the next Paris day starts 30 minutes later.
        with freeze_time("2026-03-10 22:30:00"):
            tx = self._create_paid_transaction(500.0)
            first = self._request(tx, 50.0)
            second = self._request(tx, 50.0)
            third = self._request(tx, 30.0)  # 130 > 120 today
            self.assertEqual([first.state, second.state], ["done", "done"])
            self.assertEqual(third.state, "to_approve")
            self.assertIn("daily limit", third.approval_reasons)
        with freeze_time("2026-03-10 23:10:00"):  # 00:10 in Paris, the next day
            fourth = self._request(tx, 50.0)
            self.assertEqual(fourth.state, "done")

    def test_requests_awaiting_approval_reserve_their_amount(self):
        """Two requests awaiting approval can never exceed what was paid."""
        tx = self._create_paid_transaction(100.0)
        self._request(tx, 60.0)
        self.assertAlmostEqual(tx.refund_remaining_amount, 40.0)
        with self.assertRaisesRegex(ValidationError, "can still be refunded"):
            self._request(tx, 60.0)
        self.assertEqual(len(tx.refund_ids), 1)

    def test_manager_approval_sends_and_records_who_and_when(self):
        """The approving manager is recorded and the refund is sent to the provider."""
        tx = self._create_paid_transaction()
        refund = self._request(tx, 80.0)
        self.env.flush_all()
        self.cr.flush()  # the request's transaction ends: its tracking is written
        with freeze_time("2026-04-01 09:00:00"):
            refund.with_user(self.refund_manager).action_approve()
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "done",
                    "approved_by_id": self.refund_manager.id,
                    "approval_date": datetime(2026, 4, 1, 9, 0),
                }
            ],
        )
        self.assertEqual(len(refund.transaction_ids), 1)
        self.assertFalse(refund.activity_ids, "the approval activities are closed")
        self.env.flush_all()
        self.cr.flush()  # runs the precommit hooks that write the tracking messages
        tracked = refund.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "approved_by_id"
        )
        self.assertTrue(tracked, "the approver is tracked in the chatter")

    def test_self_approval_is_refused_even_for_a_manager(self):
        """A requester later made manager still cannot approve their own request."""
        refund = self._request(self._create_paid_transaction(), 80.0)
        self._give_groups(self.limited_user, "refund_proof.group_refund_manager")
        with self.assertRaisesRegex(UserError, "cannot approve your own"):
            refund.with_user(self.limited_user).action_approve()
        self.assertEqual(refund.state, "to_approve")

    def test_user_cannot_approve(self):
        """Approval is a manager's right."""
        refund = self._request(self._create_paid_transaction(), 80.0)
        with self.assertRaises(AccessError):
            refund.with_user(self.refund_user).action_approve()

    def test_approval_rechecks_remaining_and_provider(self):
        """Approval checks again what remains and what the provider supports."""
        tx = self._create_paid_transaction(100.0)
        refund = self._request(tx, 80.0)
        self.provider.support_refund = "none"
        with self.assertRaisesRegex(
            UserError, "cannot refund this payment automatically"
        ):
            refund.with_user(self.refund_manager).action_approve()
        self.assertEqual(refund.state, "to_approve")

    def test_rejection_frees_the_amount_and_keeps_who_when_why(self):
        """Rejection cancels the request with the reason, notifies the requester."""
        tx = self._create_paid_transaction(100.0)
        refund = self._request(tx, 80.0)
        action = refund.with_user(self.refund_manager).action_reject()
        self.assertEqual(action["res_model"], "payment.refund.reject")
        wizard = (
            self.env["payment.refund.reject"]
            .with_user(self.refund_manager)
            .with_context(action["context"])
            .create({"reason": "Outside our returns policy"})
        )
        wizard.action_reject()
        self.assertRecordValues(
            refund,
            [
                {
                    "state": "cancelled",
                    "is_rejected": True,
                    "cancelled_by_id": self.refund_manager.id,
                    "cancel_reason": "Outside our returns policy",
                }
            ],
        )
        self.assertTrue(refund.cancel_date)
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
        notified = refund.message_ids.filtered(
            lambda m: self.limited_user.partner_id in m.partner_ids
        )
        self.assertIn("rejected", notified[:1].body)

    def test_requester_cancels_own_request(self):
        """The requester can cancel their own request; it frees the amount."""
        tx = self._create_paid_transaction(100.0)
        refund = self._request(tx, 80.0)
        refund.with_user(self.limited_user).action_cancel()
        self.assertEqual(
            (refund.state, refund.cancelled_by_id), ("cancelled", self.limited_user)
        )
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_other_user_cannot_cancel_a_request(self):
        """Another refund user may not cancel someone else's request."""
        refund = self._request(self._create_paid_transaction(), 80.0)
        with self.assertRaises(AccessError):
            refund.with_user(self.refund_user).action_cancel()

    def test_issued_refund_cannot_be_cancelled(self):
        """A refund already sent cannot be cancelled."""
        refund = self._request(self._create_paid_transaction(), 10.0)
        with self.assertRaisesRegex(UserError, "cannot be cancelled"):
            refund.with_user(self.refund_manager).action_cancel()

    def test_manager_own_refund_needs_no_approval(self):
        """Managers issue refunds without limits."""
        refund = self._refund(
            self._create_paid_transaction(5000.0), 5000.0, user=self.refund_manager
        )
        self.assertEqual(refund.state, "done")

    def test_managers_are_notified_of_a_request(self):
        """Each other manager gets an approval activity; the chatter says why."""
        refund = self._request(self._create_paid_transaction(), 80.0)
        self.assertEqual(
            set(refund.activity_ids.user_id.ids),
            {self.refund_manager.id, self.second_manager.id}
            | set(
                self.env.ref("refund_proof.group_refund_manager")
                .users.filtered(
                    lambda u: (
                        u.active and not u.share and refund.company_id in u.company_ids
                    )
                )
                .ids
            ),
        )
        self.assertIn("awaiting approval", refund.message_ids[:1].body)

    def test_requester_is_notified_of_approval(self):
        """The requester is mentioned when a manager approves."""
        refund = self._request(self._create_paid_transaction(), 80.0)
        refund.with_user(self.refund_manager).action_approve()
        notified = refund.message_ids.filtered(
            lambda m: self.limited_user.partner_id in m.partner_ids
        )
        self.assertIn("approved", notified[:1].body)

    def test_users_see_all_refunds_but_edit_only_their_drafts(self):
        """Support sees every refund of the company; edits only its own drafts."""
        other = self._refund(
            self._create_paid_transaction(), 10.0, user=self.refund_manager
        )
        Refund = self.env["payment.refund"].with_user(self.limited_user)
        self.assertIn(other, Refund.search([]))
        with self.assertRaisesRegex(UserError, "can no longer be changed"):
            other.with_user(self.limited_user).note = "changed"  # done
        colleague = new_test_user(
            self.env,
            login="colleague",
            groups="base.group_user,refund_proof.group_refund_user",
        )
        others_request = self._refund(
            self._create_paid_transaction(), 10.0, user=colleague
        )
        self.assertEqual(others_request.state, "to_approve")
        with self.assertRaises(AccessError):
            others_request.with_user(self.limited_user).note = "changed"
        own = self._request(self._create_paid_transaction(), 80.0)
        own.with_user(self.limited_user).note = "More details"
        self.assertEqual(own.note, "More details")

    def test_managers_set_limits_without_admin_rights(self):
        """Refund managers set users' refund limits, nothing else of the user."""
        self.limited_user.with_user(self.refund_manager).refund_limit = 75.0
        self.assertEqual(self.limited_user.refund_limit, 75.0)
        with self.assertRaises(AccessError):
            self.limited_user.with_user(self.refund_manager).write(
                {"refund_limit": 80.0, "login": "hijack"}
            )

    def test_refund_made_outside_cancels_the_requests_it_outran(self):
        """A refund the provider reports (made in its dashboard, or whose request Odoo
        rolled back after the provider made it) is recorded whatever the cap; the
        newest requests awaiting approval that no longer fit are cancelled, their
        requester told why, and no approver is left asked for them."""
        tx = self._create_paid_transaction(200.0)
        older = self._request(tx, 110.0)
        newer = self._request(tx, 60.0)
        self.assertEqual((older + newer).mapped("state"), ["to_approve", "to_approve"])
        self.assertTrue(newer.activity_ids)
        # What a provider's webhook does for a refund it did not get from Odoo.
        refund_tx = tx.sudo()._create_child_transaction(40.0, is_refund=True)
        outside = refund_tx.refund_id
        self.assertRecordValues(
            outside, [{"origin": "provider", "amount": 40.0, "state": "pending"}]
        )
        self.assertEqual(older.state, "to_approve", "110 + 40 still fit in 200")
        self.assertRecordValues(
            newer, [{"state": "cancelled", "cancelled_by_id": False}]
        )
        self.assertIn(outside.name, newer.cancel_reason)
        self.assertIn("more than was paid", newer.cancel_reason)
        self.assertFalse(newer.activity_ids, "no approver asked for it any more")
        told = newer.message_ids.filtered(
            lambda m: self.limited_user.partner_id in m.partner_ids
        )
        self.assertTrue(told, "the requester is told")
        self.assertAlmostEqual(tx.refund_remaining_amount, 50.0)
        # A second outside refund outruns the older request too.
        tx.sudo()._create_child_transaction(60.0, is_refund=True)
        self.assertEqual(older.state, "cancelled")
        self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)

    def test_refund_made_outside_within_what_remains_cancels_nothing(self):
        tx = self._create_paid_transaction(100.0)
        request = self._request(tx, 60.0)
        tx.sudo()._create_child_transaction(40.0, is_refund=True)
        self.assertEqual(request.state, "to_approve")
        self.assertAlmostEqual(tx.refund_remaining_amount, 0.0)


@tagged("-at_install", "post_install")
class TestRefundPolicy(RefundProofCommon):
    def _paid_days_ago(self, days, amount=100.0):
        tx = self._create_paid_transaction(amount)
        tx.last_state_change = datetime.now() - timedelta(days=days)
        return tx

    def test_inside_window_is_issued(self):
        """A refund 12 days after the payment, with a 30-day window, is issued."""
        tx = self._paid_days_ago(12)
        within, verdict = self.env["payment.refund"]._get_policy_verdict(tx)
        self.assertTrue(within)
        self.assertEqual(verdict, "Within policy: 12 of 30 days.")
        self.assertEqual(self._refund(tx, 10.0).state, "done")

    def test_outside_window_needs_approval_whatever_the_limit(self):
        """45 days after the payment, even a user with a high limit needs approval."""
        tx = self._paid_days_ago(45)
        refund = self._refund(tx, 10.0)  # refund_user's limit is 1,000,000
        self.assertEqual(refund.state, "to_approve")
        self.assertIn("Outside policy: 45 days", refund.approval_reasons)

    def test_reason_overrides_the_window(self):
        """'Defective' allows 365 days; 'duplicate charge' is always allowed."""
        tx = self._paid_days_ago(200, amount=300.0)
        defective = self.env.ref("refund_proof.reason_defective")
        duplicate = self.env.ref("refund_proof.reason_duplicate_charge")
        self.assertEqual(self._refund(tx, 10.0, reason=defective).state, "done")
        self.assertEqual(self._refund(tx, 10.0, reason=duplicate).state, "done")
        self.assertEqual(
            self._refund(tx, 10.0, reason=self.reason_customer).state, "to_approve"
        )
        late = self._paid_days_ago(400)
        self.assertEqual(self._refund(late, 10.0, reason=defective).state, "to_approve")

    def test_no_window(self):
        """A company window of 0 days means no window."""
        self.env.company.refund_window_days = 0
        self.assertEqual(self._refund(self._paid_days_ago(1000), 10.0).state, "done")

    def test_wizard_shows_the_verdict_before_confirmation(self):
        """The refund wizard shows the policy verdict and the approval to come."""
        tx = self._paid_days_ago(45)
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.refund_user)
            .create({"source_transaction_id": tx.id, "amount": 10.0})
        )
        self.assertFalse(wizard.within_policy)
        self.assertIn("Outside policy: 45 days", wizard.policy_verdict)
        self.assertIn("Outside policy", wizard.approval_reasons)


@tagged("-at_install", "post_install")
class TestRefundApprovalMultiCompany(RefundProofCommon):
    def test_manager_of_a_cannot_see_or_approve_refund_of_b(self):
        """A manager of company A neither sees nor approves company B's requests."""
        company_b = self.setup_other_company(name="Company B2")["company"]
        provider_b = self._prepare_provider(
            "demo",
            company=company_b,
            update_values={
                "journal_id": self.env["account.journal"]
                .search(
                    [
                        ("company_id", "=", company_b.id),
                        ("type", "=", "bank"),
                    ],
                    limit=1,
                )
                .id,
            },
        )
        requester_b = new_test_user(
            self.env,
            login="requester_b",
            company_id=company_b.id,
            company_ids=[company_b.id],
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=1.0,
        )
        manager_a = new_test_user(
            self.env,
            login="manager_a",
            company_id=self.env.company.id,
            company_ids=[self.env.company.id],
            groups="base.group_user,refund_proof.group_refund_manager",
        )
        tx_b = self._create_paid_transaction(
            provider=provider_b, currency_id=company_b.currency_id.id
        )
        refund_b = (
            tx_b.with_user(requester_b).with_company(company_b)._request_refund(10.0)
        )
        self.assertEqual(refund_b.state, "to_approve")
        self.assertNotIn(manager_a, refund_b.sudo().activity_ids.user_id)
        self.assertFalse(
            self.env["payment.refund"]
            .with_user(manager_a)
            .search([("id", "=", refund_b.id)])
        )
        with self.assertRaises(AccessError):
            refund_b.with_user(manager_a).action_approve()
        self.assertEqual(refund_b.sudo().state, "to_approve")
