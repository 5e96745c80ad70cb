import threading
from functools import partial

from odoo import Command
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from odoo.addons.refund_proof.const import PAYOUT_REFUSAL_LIMIT

from refund_proof_testkit.demo_payments import demo_setup, paid_transaction

from ..scratch_db import committed_env, scratch_registry

GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"
BAD_IBAN = "FR76 3000 6000 0112 3456 7890 188"


@tagged("-at_install", "post_install")
class TestLoyaltyPayoutConcurrency(BaseCase):
    """Real threads, real cursors, committed data in a scratch database: customers'
    posts of the choice page at the same moment, each as the page makes it (the public
    user, in sudo mode after the token check, retried by the request handler)."""

    @staticmethod
    def _failed_offered_refund(env, reference):
        """A 100.00 demo payment whose 40.00 refund failed after done, offered to its
        customer, with an eWallet program in the company; committed by the caller."""
        provider, user = demo_setup(env)
        if not env["loyalty.program"].search([("program_type", "=", "ewallet")]):
            env["loyalty.program"].create(
                {
                    "name": "Shop eWallet",
                    "program_type": "ewallet",
                    "trigger": "auto",
                    "applies_on": "future",
                    "currency_id": provider.company_id.currency_id.id,
                    "reward_ids": [
                        Command.create({"discount_mode": "per_point", "discount": 1})
                    ],
                    "rule_ids": [Command.create({"reward_point_mode": "money"})],
                }
            )
        tx = paid_transaction(env, provider, 100.0, reference)
        refund = tx.with_user(user)._request_refund(amount_to_refund=40.0)
        refund.transaction_ids._set_error(
            "expired_or_canceled_card", extra_allowed_states=("done",)
        )
        assert refund.state == "failed", refund.state
        refund.sudo().action_offer_payout()
        return tx, refund

    def _post_in_thread(self, registry, refund_id, post, barrier, results):
        with committed_env(registry) as env:
            public = env.ref("base.public_user")
            refund = env["payment.refund"].with_user(public).sudo().browse(refund_id)
            barrier.wait()
            try:
                answer = retrying(
                    partial(refund._post_payout_choice, *post[:1], **post[1]), env
                )
                results.append((answer["status"], answer["error"]))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                results.append(("crashed", repr(error)))

    def _post_at_once(self, registry, refund_id, posts):
        barrier = threading.Barrier(len(posts))
        results = []
        threads = [
            threading.Thread(
                target=self._post_in_thread,
                args=(registry, refund_id, post, barrier, results),
            )
            for post in posts
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        self.assertFalse([t for t in threads if t.is_alive()], "a request hung")
        return results

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_concurrent_choices_make_one_replacement(self):
        """Six posts of the choice at once, store credit and bank transfer: exactly
        one replacement refund, the others refused as already chosen (409); the
        payment's cap counts the one replacement, the eWallet was credited once."""
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                tx, failed = self._failed_offered_refund(env, "PAYOUT-CONCURRENT-1")
                tx_id, failed_id = tx.id, failed.id
            bank = {"holder": "Norbert Buyer", "iban": GOOD_IBAN}
            posts = [("store_credit", {})] * 3 + [("bank_transfer", bank)] * 3
            results = self._post_at_once(registry, failed_id, posts)
            statuses = sorted(status for status, _error in results)
            self.assertEqual(statuses, [200] + [409] * 5, results)
            with committed_env(registry) as env:
                failed = env["payment.refund"].browse(failed_id)
                tx = env["payment.transaction"].browse(tx_id)
                new = failed.replacement_refund_ids
                self.assertEqual(len(new), 1)
                self.assertEqual(failed.state, "failed")
                self.assertAlmostEqual(tx.refund_remaining_amount, 60.0)
                history = env["loyalty.history"].search(
                    [("order_model", "=", "payment.refund")]
                )
                if new.manual_method == "store_credit":
                    self.assertEqual(new.state, "done")
                    self.assertEqual(history.order_id, new.id)
                    self.assertAlmostEqual(new.payout_loyalty_card_id.points, 40.0)
                else:
                    self.assertEqual(new.state, "to_approve")
                    self.assertFalse(history)

    @mute_logger("odoo.service.model")
    def test_concurrent_refused_posts_hold_the_rate_limit(self):
        """Eight refused posts at once: PAYOUT_REFUSAL_LIMIT are refused (400), the
        others answered 429; the count holds across the cursors; nothing created."""
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                tx, failed = self._failed_offered_refund(env, "PAYOUT-CONCURRENT-2")
                tx_id, failed_id = tx.id, failed.id
            bad = {"holder": "Norbert Buyer", "iban": BAD_IBAN}
            results = self._post_at_once(
                registry, failed_id, [("bank_transfer", bad)] * 8
            )
            statuses = sorted(status for status, _error in results)
            self.assertEqual(
                statuses,
                [400] * PAYOUT_REFUSAL_LIMIT + [429] * (8 - PAYOUT_REFUSAL_LIMIT),
                results,
            )
            with committed_env(registry) as env:
                failed = env["payment.refund"].browse(failed_id)
                self.assertEqual(failed.payout_refused_count, PAYOUT_REFUSAL_LIMIT)
                self.assertFalse(failed.replacement_refund_ids)
                tx = env["payment.transaction"].browse(tx_id)
                self.assertAlmostEqual(tx.refund_remaining_amount, 100.0)
