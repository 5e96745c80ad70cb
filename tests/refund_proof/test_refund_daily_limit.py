"""The daily refund limit: one decision per user at a time, one day per company.

A refund user may issue alone, per day, at most their daily limit (company currency).
The day's total counts the refunds they issued alone today (draft, pending, done), not
those awaiting approval, failed or cancelled; "today" is the company's day. A refund
that would bring the total above the limit is created awaiting a manager's approval.
"""

import os
import random
import threading
from collections import defaultdict
from datetime import datetime
from functools import partial

import pytest
import pytz
from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import BaseCase, new_test_user, tagged
from odoo.tools import mute_logger

from refund_proof_testkit.demo_payments import demo_setup, paid_transaction

from ..refund_factories import RefundProofCommon
from ..scratch_db import committed_env, scratch_registry

ISSUED_STATES = ("draft", "pending", "done")


def _request_in_thread(registry, uid, tx_id, amount, barrier, results):
    """One refund request as an RPC call makes it: own cursor, retried on
    serialization failures and lock timeouts, committed on success."""
    with committed_env(registry, uid) as env:
        barrier.wait()
        tx = env["payment.transaction"].browse(tx_id)
        try:
            refund = retrying(partial(tx._request_refund, amount_to_refund=amount), env)
            results.append(("created", refund.id))
        except UserError as error:  # ValidationError included: a clear refusal
            env.cr.rollback()
            results.append(("refused", str(error)))
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            env.cr.rollback()
            results.append(("crashed", repr(error)))


@tagged("-at_install", "post_install")
class TestRefundDailyLimitConcurrency(BaseCase):
    """Real threads, real cursors, committed data in a scratch database: requests of
    one user on different payments, each payment locked by its own request."""

    DAILY_LIMIT = 300.0
    SINGLE_LIMIT = 100.0

    def _run_round(self, registry, label, amounts):
        """Create a refund user and one paid payment of 100.00 per amount, then let
        them request every refund at once (one thread each, behind a barrier).

        :return: (uid, results of the threads)
        """
        with committed_env(registry) as env:
            provider, user = demo_setup(env)
            user.write(
                {
                    "refund_limit": self.SINGLE_LIMIT,
                    "refund_daily_limit": self.DAILY_LIMIT,
                }
            )
            uid = user.id
            tx_ids = [
                paid_transaction(env, provider, 100.0, f"{label}-{i}").id
                for i in range(len(amounts))
            ]
        barrier = threading.Barrier(len(amounts))
        results = []
        threads = [
            threading.Thread(
                target=_request_in_thread,
                args=(registry, uid, tx_id, amount, barrier, results),
            )
            for tx_id, amount in zip(tx_ids, amounts, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse([t for t in threads if t.is_alive()], "a request hung")
        return uid, results

    def _user_refunds(self, env, uid):
        """(issued alone, awaiting approval, all) refunds requested by `uid`."""
        refunds = env["payment.refund"].search([("requested_by_id", "=", uid)])
        issued = refunds.filtered(
            lambda r: r.state in ISSUED_STATES and not r.approved_by_id
        )
        waiting = refunds.filtered(lambda r: r.state == "to_approve")
        return issued, waiting, refunds

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_parallel_requests_of_one_user_never_exceed_the_daily_limit(self):
        """Five requests of 90.00 at once by a user with a 300.00 daily limit, each on
        its own payment: the daily decision is serialised per user, so exactly three
        are issued (270.00) and two await approval for the daily limit. Without a
        per-user lock, each request reads the day's total before the others commit
        and all five are issued (450.00)."""
        rounds, threads = 3, 5
        figures = []
        with scratch_registry() as registry:
            for round_no in range(rounds):
                uid, results = self._run_round(
                    registry, f"DAILY-{round_no}", [90.0] * threads
                )
                with committed_env(registry) as env:
                    issued, waiting, refunds = self._user_refunds(env, uid)
                    currency = env.company.currency_id
                    figures.append(
                        {
                            "round": round_no,
                            "outcomes": sorted(kind for kind, _detail in results),
                            "results": results,
                            "issued": len(issued),
                            "issued_total": sum(issued.mapped("amount")),
                            # compare_amounts(total, limit), compare_amounts(total, 270)
                            "vs_limit": currency.compare_amounts(
                                sum(issued.mapped("amount")), self.DAILY_LIMIT
                            ),
                            "vs_270": currency.compare_amounts(
                                sum(issued.mapped("amount")), 270.0
                            ),
                            "waiting": len(waiting),
                            "states": sorted(refunds.mapped("state")),
                            "waiting_reasons": waiting.mapped("approval_reasons"),
                        }
                    )
        print(
            f"\n{rounds} rounds x {threads} parallel requests of 90.00, daily limit "
            f"300.00: "
            + "; ".join(
                f"round {f['round']}: {f['issued']} issued = {f['issued_total']:.2f}, "
                f"{f['waiting']} to approve"
                for f in figures
            )
        )
        for f in figures:
            self.assertEqual(f["outcomes"], ["created"] * threads, f["results"])
            self.assertLessEqual(
                f["vs_limit"],
                0,
                f"round {f['round']}: {f['issued_total']:.2f} issued alone today, "
                f"above the daily limit of {self.DAILY_LIMIT:.2f} ({f['states']})",
            )
            self.assertEqual(
                (f["issued"], f["waiting"]), (3, 2), f"round {f['round']}: {f}"
            )
            self.assertEqual(f["vs_270"], 0, f"round {f['round']}: {f}")
            self.assertEqual(f["states"], ["done"] * 3 + ["to_approve"] * 2)
            for reasons in f["waiting_reasons"]:
                self.assertIn("daily limit", reasons)
                self.assertNotIn("above your refund limit", reasons)

    @pytest.mark.slow
    @mute_logger("odoo.service.model")
    def test_parallel_random_requests_never_exceed_the_daily_limit(self):
        """make test-slow: ten requests of random amounts (20.00 to 100.00) at once by
        one user on ten payments, over many rounds (REFUND_PROOF_SLOW_DAILY_ROUNDS,
        default 10). Per user and company day, what was issued alone never exceeds
        the daily limit, and a request was held back only if issuing it would have
        exceeded it."""
        rounds = int(os.environ.get("REFUND_PROOF_SLOW_DAILY_ROUNDS", "10"))
        threads = 10
        rng = random.Random(20260115)
        summary = []
        with scratch_registry() as registry:
            for round_no in range(rounds):
                amounts = [round(rng.uniform(20, 100), 2) for _ in range(threads)]
                uid, results = self._run_round(
                    registry, f"DAILY-SLOW-{round_no}", amounts
                )
                kinds = [kind for kind, _detail in results]
                self.assertEqual(kinds, ["created"] * threads, results)
                with committed_env(registry) as env:
                    issued, waiting, refunds = self._user_refunds(env, uid)
                    self.assertEqual(len(refunds), threads)
                    self.assertEqual(len(issued) + len(waiting), threads)
                    currency = env.company.currency_id
                    company_tz = pytz.timezone(env.company._get_refund_timezone())
                    per_day = defaultdict(float)
                    for refund in issued:
                        day = (
                            pytz.utc.localize(refund.request_date)
                            .astimezone(company_tz)
                            .date()
                        )
                        per_day[day] += refund.amount
                    for day, total in per_day.items():
                        self.assertLessEqual(
                            currency.compare_amounts(total, self.DAILY_LIMIT),
                            0,
                            f"round {round_no}: {total:.2f} issued alone on {day}, "
                            f"amounts {amounts}",
                        )
                    issued_total = sum(per_day.values())
                    for refund in waiting:
                        self.assertIn("daily limit", refund.approval_reasons)
                        if len(per_day) == 1:  # not across a company midnight
                            self.assertGreater(
                                currency.compare_amounts(
                                    issued_total + refund.amount, self.DAILY_LIMIT
                                ),
                                0,
                                f"round {round_no}: {refund.amount:.2f} held back "
                                f"with only {issued_total:.2f} issued",
                            )
                    summary.append((len(issued), round(issued_total, 2)))
        print(
            f"\n{rounds} rounds x {threads} parallel requests, daily limit 300.00 "
            f"(issued, total): {summary}"
        )


@tagged("-at_install", "post_install")
class TestRefundDailyLimit(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daily_user = new_test_user(
            cls.env,
            login="daily_user",
            name="Dana Daily",
            tz="UTC",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=1000.0,
            refund_daily_limit=300.0,
        )

    def _request(self, amount, tx=None):
        return self._refund(
            tx or self._create_paid_transaction(amount), amount, user=self.daily_user
        )

    @staticmethod
    def _local_date(instant, tz):
        """The calendar date of the UTC `instant` ("YYYY-MM-DD HH:MM") in `tz`."""
        utc = pytz.utc.localize(datetime.strptime(instant, "%Y-%m-%d %H:%M"))
        return utc.astimezone(pytz.timezone(tz)).date()

    def test_own_time_zone_changes_no_daily_verdict(self):
        """The day of the daily limit is the company's (its refund time zone), never
        the user's own time zone, which any user may change on themselves: moving
        one's midnight neither starts a new day early nor extends the current one."""
        self.env.company.refund_tz = "Europe/Bucharest"  # UTC+2 in January
        first, second, next_day = (
            "2026-01-15 14:30",  # 16:30 in Bucharest, 23:30 in Tokyo
            "2026-01-15 15:30",  # 17:30 in Bucharest, 00:30 on the 16th in Tokyo
            "2026-01-15 22:05",  # 00:05 on the 16th in Bucharest, 17:05 in New York
        )
        # The premises: a Tokyo midnight between the first two requests, none in
        # Bucharest; a Bucharest midnight before the third, none in New York.
        self.assertEqual(
            self._local_date(first, "Europe/Bucharest"),
            self._local_date(second, "Europe/Bucharest"),
        )
        self.assertNotEqual(
            self._local_date(first, "Asia/Tokyo"),
            self._local_date(second, "Asia/Tokyo"),
        )
        self.assertNotEqual(
            self._local_date(first, "Europe/Bucharest"),
            self._local_date(next_day, "Europe/Bucharest"),
        )
        self.assertEqual(
            self._local_date(first, "America/New_York"),
            self._local_date(next_day, "America/New_York"),
        )

        with freeze_time(first):
            self.assertEqual(self._request(250.0).state, "done")

        # res.users.tz is self-writeable: the user moves their midnight before the
        # second request.
        self.daily_user.with_user(self.daily_user).write({"tz": "Asia/Tokyo"})
        with freeze_time(second):
            held = self._request(100.0)  # 350.00 on the company's day
            self.assertEqual(held.state, "to_approve")
            self.assertIn("daily limit", held.approval_reasons)
            self.assertFalse(held.transaction_ids, "nothing sent to the provider")

        # A new company day starts a new total, whatever the user's own day says.
        self.daily_user.with_user(self.daily_user).write({"tz": "America/New_York"})
        with freeze_time(next_day):
            refund = self._request(100.0)
            self.assertEqual(refund.state, "done")
            self.assertFalse(refund.approval_reasons)

    def test_daily_limit_counts_pending_reservations(self):
        """A refund sent but not yet confirmed by the provider (pending) counts in the
        day's total; once the provider reports it failed, it no longer does, and
        refunds awaiting approval never do."""
        # Odoo's base (dummy) provider creates the refund attempt and leaves it in
        # draft, like a provider that has not answered yet. support_refund is a
        # non-stored compute of the provider: set here.
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        with freeze_time("2026-01-15 12:00"):
            tx = self._create_paid_transaction(250.0, provider=self.dummy_provider)
            pending = self._request(250.0, tx=tx)
            self.assertRecordValues(
                pending, [{"state": "pending", "approved_by_id": False}]
            )

            held = self._request(100.0)  # 250.00 pending + 100.00 > 300.00
            self.assertEqual(held.state, "to_approve")
            self.assertIn("daily limit", held.approval_reasons)

            pending.transaction_ids._set_error("Refused by the issuer")
            self.assertEqual(pending.state, "failed")
            # Neither the failed 250.00 nor the 100.00 awaiting approval count now.
            refund = self._request(250.0)
            self.assertEqual(refund.state, "done")
            self.assertFalse(refund.approval_reasons)
