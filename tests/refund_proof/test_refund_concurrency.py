import os
import random
import threading
from functools import partial

import pytest

from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from refund_proof_testkit.demo_payments import demo_setup, paid_transaction

from ..scratch_db import committed_env, scratch_registry


@tagged("-at_install", "post_install")
class TestRefundConcurrency(BaseCase):
    """Real threads, real cursors, committed data in a scratch database."""

    def _refund_in_thread(self, registry, uid, tx_id, amount, barrier, results):
        with committed_env(registry, uid) as env:
            barrier.wait()
            tx = env["payment.transaction"].browse(tx_id)
            try:
                # What an RPC or HTTP request does: retry on lock timeouts and
                # serialization failures with a fresh snapshot.
                refund = retrying(
                    partial(tx._request_refund, amount_to_refund=amount), env
                )
                results.append(("refunded", refund.id))
            except UserError as error:  # ValidationError included: refused, clearly
                env.cr.rollback()
                results.append(("refused", str(error)))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                results.append(("crashed", repr(error)))

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_concurrent_refunds_never_exceed_the_payment(self):
        """Six users refund 30.00 of a 100.00 payment at once: three succeed."""
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                provider, user = demo_setup(env)
                tx_id = paid_transaction(env, provider, 100.0, "CONCURRENT-1").id
                uid = user.id
            barrier = threading.Barrier(6)
            results = []
            threads = [
                threading.Thread(
                    target=self._refund_in_thread,
                    args=(registry, uid, tx_id, 30.0, barrier, results),
                )
                for _ in range(6)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            self.assertFalse([t for t in threads if t.is_alive()], "a request hung")

            outcomes = sorted(kind for kind, _ in results)
            self.assertEqual(outcomes, ["refunded"] * 3 + ["refused"] * 3, results)
            for kind, detail in results:
                if kind == "refused":
                    self.assertRegex(detail, "can still be refunded|fully refunded")
            with committed_env(registry) as env:
                tx = env["payment.transaction"].browse(tx_id)
                self.assertEqual(tx.refund_ids.mapped("state"), ["done"] * 3)
                self.assertAlmostEqual(tx.refunded_amount, 90.0)
                children = tx.child_transaction_ids.filtered(
                    lambda t: t.operation == "refund"
                )
                self.assertAlmostEqual(-sum(children.mapped("amount")), 90.0)


@tagged("-at_install", "post_install")
class TestRefundConcurrencyLoop(BaseCase):
    """make test-slow: 20 concurrent refund requests of random amounts on one
    transaction, repeated over many transactions (REFUND_PROOF_SLOW_TX, default 50)."""

    @pytest.mark.slow
    @mute_logger("odoo.service.model")
    def test_twenty_concurrent_requests_over_many_transactions(self):
        rounds = int(os.environ.get("REFUND_PROOF_SLOW_TX", "50"))
        rng = random.Random(20261122)
        outcomes = {"refunded": 0, "refused": 0}
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                provider, user = demo_setup(env)
                uid = user.id
                txs = [
                    (paid_transaction(env, provider, amount, f"LOOP-{i}").id, amount)
                    for i, amount in enumerate(
                        round(rng.uniform(50, 300), 2) for _ in range(rounds)
                    )
                ]
            for tx_id, paid in txs:
                amounts = [round(rng.uniform(1, paid / 4), 2) for _ in range(20)]
                barrier = threading.Barrier(20)
                results = []
                threads = [
                    threading.Thread(
                        target=TestRefundConcurrency._refund_in_thread,
                        args=(self, registry, uid, tx_id, amount, barrier, results),
                    )
                    for amount in amounts
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=300)
                self.assertFalse([t for t in threads if t.is_alive()], "a request hung")
                kinds = [kind for kind, _detail in results]
                self.assertEqual(len(kinds), 20)
                self.assertNotIn("crashed", kinds, results)
                for kind in kinds:
                    outcomes[kind] += 1
                with committed_env(registry) as env:
                    tx = env["payment.transaction"].browse(tx_id)
                    self.assertLessEqual(
                        tx.currency_id.compare_amounts(tx.refunded_amount, paid), 0
                    )
                    refunds = tx.refund_ids
                    self.assertEqual(len(refunds), kinds.count("refunded"))
                    self.assertEqual(
                        set(refunds.mapped("state")) - {"done"},
                        set(),
                        "every refund has a final state",
                    )
        print(f"\n{rounds} transactions x 20 concurrent requests: {outcomes}")


@tagged("-at_install", "post_install")
class TestDecisionConcurrency(BaseCase):
    """Approving, rejecting and cancelling one request at the same moment, on real
    cursors: every decision locks the refund before its payment, so the three wait
    for each other instead of deadlocking, and one decision wins."""

    def _decide_in_thread(self, registry, uid, refund_id, decision, barrier, results):
        with committed_env(registry, uid) as env:
            refund = env["payment.refund"].browse(refund_id)
            barrier.wait()
            try:
                # Not through `retrying`: a deadlock would be retried there unseen.
                getattr(refund, decision)(
                    *(("Too late",) if decision != "action_approve" else ())
                )
                env.cr.commit()
                results.append((decision, "decided"))
            except UserError as error:
                env.cr.rollback()
                results.append((decision, f"refused: {error}"))
            except Exception as error:  # noqa: BLE001 - asserted below
                env.cr.rollback()
                results.append((decision, type(error).__name__))

    @mute_logger("odoo.sql_db")
    def test_approve_reject_cancel_at_once_never_deadlock(self):
        """Six requests, each approved, rejected and cancelled at once by three
        people: no deadlock (PostgreSQL's DeadlockDetected), the losers refused or
        told to retry on a stale snapshot (what a request handler retries), and the
        refund ends as the one decision that won."""
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                provider, requester = demo_setup(env)
                requester.refund_limit = 1.0  # Every request waits for approval.
                group = env.ref("refund_proof.group_refund_manager")
                approver, rejecter = (
                    env["res.users"].create(
                        {
                            "name": f"Decider {name}",
                            "login": f"decider_{name}_{requester.id}",
                            "groups_id": [(6, 0, [group.id])],
                        }
                    )
                    for name in ("a", "b")
                )
                refund_ids = []
                for n in range(6):
                    tx = paid_transaction(
                        env, provider, 50.0, f"DECIDE-{requester.id}-{n}"
                    )
                    refund = tx.with_user(requester)._request_refund(
                        amount_to_refund=20.0
                    )
                    self.assertEqual(refund.state, "to_approve")
                    refund_ids.append(refund.id)
                deciders = (
                    (approver.id, "action_approve"),
                    (rejecter.id, "action_reject"),
                    (requester.id, "action_cancel"),
                )
            for refund_id in refund_ids:
                barrier = threading.Barrier(3)
                results = []
                threads = [
                    threading.Thread(
                        target=self._decide_in_thread,
                        args=(registry, uid, refund_id, decision, barrier, results),
                    )
                    for uid, decision in deciders
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=120)
                self.assertFalse([t for t in threads if t.is_alive()], "hung")
                outcomes = dict(results)
                self.assertNotIn("DeadlockDetected", outcomes.values(), results)
                winners = [d for d, outcome in results if outcome == "decided"]
                self.assertLessEqual(len(winners), 1, results)
                for _decision, outcome in results:
                    if outcome != "decided":
                        self.assertRegex(
                            outcome,
                            "SerializationFailure|LockNotAvailable|refused: .*(not "
                            "awaiting approval|cannot be cancelled)",
                            results,
                        )
                with committed_env(registry) as env:
                    refund = env["payment.refund"].browse(refund_id)
                    expected = {
                        "action_approve": "done",
                        "action_reject": "cancelled",
                        "action_cancel": "cancelled",
                    }
                    self.assertEqual(
                        refund.state,
                        expected[winners[0]] if winners else "to_approve",
                        results,
                    )
