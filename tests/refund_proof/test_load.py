"""make test-slow: refunds under real load, and faults under that load.

Two Odoo servers in prefork (`--workers=4 --max-cron-threads=1` each) on one
database of a PostgreSQL cluster of their own, the fake PSP with its webhooks, a real
SMTP server, clients over HTTP (testkit/refund_proof_testkit/load_site.py). The
scenarios run in this file's order on one site; each ends with every invariant checked
from the database, the PSP's ledger and the SMTP sink (`LoadSite.check`), and the
servers' logs.

Scaled for CI: LOAD_REQUESTS (default 200) requests with LOAD_IN_FLIGHT (default 50) in
flight; `make bench` runs the same scenarios at 1,000 (bench/run.sh step 5).
"""

import os
import threading
import time
from collections import Counter

import pytest

from refund_proof_testkit.load_site import LoadPlan, LoadSite, Visitors, cents, wait_for

from ..fakepsp_server import FakePSPServer

pytestmark = pytest.mark.slow

REQUESTS = int(os.environ.get("LOAD_REQUESTS", 200))
IN_FLIGHT = int(os.environ.get("LOAD_IN_FLIGHT", 50))
WEBHOOK_SECRET = "whsec_refund_proof_load"
USERS = [
    # Above 35.00 a refund needs approval; above 600.00 a day too.
    {"login": f"refunder_{index}", "limit": 35.0, "daily": 600.0}
    for index in range(1, 11)
]
# The load's 50 payments and first five users; each fault scenario has payments and
# the other five users with room left whatever the load's scale (at 1,000 requests the
# load refunds its payments to the cap, and its users to their daily limit).
LOAD_PAYMENTS = 50
FAULT_PAYMENTS = 15
SPEC = {
    "provider": "fakepsp",
    "payments": LOAD_PAYMENTS + 3 * FAULT_PAYMENTS,
    "amount": 100.0,
    "users": USERS,
    "managers": ["approver_1", "approver_2"],
    # Odoo waits report.print_delay (1 s by default) in every PDF render for the
    # page's JavaScript; the proof has none. A setting a merchant may make.
    "print_delay": 0,
}
# A refund's e-mail goes out after its proof renders (about half a second each).
SETTLE_TIMEOUT = 600


def _source():
    """The suite's test database (this worker's copy under pytest-xdist): refund_proof
    and the fake PSP installed, nothing committed by the tests."""
    from odoo.tools import config

    dbname = config["db_name"]
    return {
        "host": config["db_host"] or "localhost",
        "port": config["db_port"] or 5432,
        "user": config["db_user"],
        "password": config["db_password"],
        "dbname": dbname,
        "filestore": config.filestore(dbname),
    }


def _addons_path():
    from odoo.tools import config

    return config["addons_path"]


@pytest.fixture(scope="module")
def site():
    site = LoadSite(
        _source(),
        _addons_path(),
        psp_factory=lambda urls: FakePSPServer(WEBHOOK_SECRET, urls),
        keep=bool(os.environ.get("LOAD_KEEP")),
    )
    try:
        site.open(SPEC)
        for payment in site.setup["payments"]:
            site.psp.add_charge(payment["reference"], cents(payment["amount"]))
        site.rpcs = site.sign_in([user["login"] for user in USERS])
        site.managers = list(site.sign_in(SPEC["managers"]).values())
        site.outcomes = []
        site.fault_windows = []
        site.broken_allowed = set()
        site.refusals = []  # what managers were told (Odoo logs it)
        yield site
    finally:
        site.close()


def _plan(site, count, seed):
    """The load's requests (seed 1), or fault scenario `seed - 1`'s."""
    payments = site.setup["payments"]
    users = list(site.rpcs)
    if seed == 1:
        payments, users = payments[:LOAD_PAYMENTS], users[:5]
    else:
        first = LOAD_PAYMENTS + (seed - 2) * FAULT_PAYMENTS
        payments, users = payments[first : first + FAULT_PAYMENTS], users[5:]
    return LoadPlan.random(count, users, payments, seed=seed)


def _run(site, count, in_flight, seed):
    """Send `count` requests; return their outcomes (kept on the site)."""
    outcomes = site.run_requests(
        site.rpcs,
        _plan(site, count, seed),
        in_flight,
        first_index=len(site.outcomes),
    )
    site.outcomes += outcomes
    return outcomes


def _assert_all_held(site):
    site.settle(SETTLE_TIMEOUT)
    problems = site.check(site.outcomes, allowed_broken=site.broken_allowed)
    assert not problems, "\n".join(problems[:40])
    log = site.log_problems(
        site.fault_windows,
        refusals=[o.message for o in site.outcomes if o.kind == "refused"]
        + site.refusals,
    )
    assert not log, "\n".join(log[:40])


def _summary(outcomes):
    return Counter(outcome.kind for outcome in outcomes)


def test_load_of_refund_requests(site):
    """REQUESTS requests, IN_FLIGHT at a time, over 50 payments by five users with
    limits, through both servers, while visitors read proofs: nothing over a cap or
    a limit, every request answered (refund or a clear refusal), one e-mail per done
    refund."""
    visitors = Visitors(site, site.managers[0], threads=2)
    visitors.start()
    try:
        outcomes = _run(site, REQUESTS, IN_FLIGHT, seed=1)
        site.settle(SETTLE_TIMEOUT)
    finally:
        visitors.stop()
    kinds = _summary(outcomes)
    print(f"\n{REQUESTS} requests, {IN_FLIGHT} in flight: {dict(kinds)}")
    assert kinds["refund"] and kinds["refused"], "the plan reaches the caps"
    refused = Counter(
        outcome.error for outcome in outcomes if outcome.kind == "refused"
    )
    assert set(refused) == {"odoo.exceptions.ValidationError"}, refused
    [(approvals,)] = site.query(
        "SELECT count(*) FROM payment_refund WHERE state = 'to_approve'"
    )
    assert approvals, "some requests went above a limit and wait for approval"
    assert visitors.statuses.get(200), visitors.statuses
    assert not visitors.failures, visitors.failures[:10]
    _assert_all_held(site)


def test_approvals_racing(site):
    """Two managers approving the same refund at once, through the two servers:
    one approves, the other is told; each approved refund reaches the PSP once."""
    refund_ids = [
        row[0]
        for row in site.query(
            "SELECT id FROM payment_refund WHERE state = 'to_approve' "
            "ORDER BY id LIMIT 5"
        )
    ]
    assert refund_ids
    results = site.race_approvals(site.managers, refund_ids)
    for refund_id, answers in results:
        assert answers.count("approved") <= 1, (refund_id, answers)
        for answer in answers:
            if answer != "approved":
                site.refusals.append(answer.split(": ", 1)[1])
            assert answer == "approved" or answer.startswith(
                ("odoo.exceptions.UserError", "odoo.exceptions.ValidationError")
            ), answer
    site.settle(SETTLE_TIMEOUT)
    sent = Counter(
        refund["reference"].rsplit("-", 1)[0] for refund in site.psp.refunds.values()
    )
    for refund_id, answers in results:
        [(state, attempts)] = site.query(
            "SELECT r.state, count(tx.id) FROM payment_refund r LEFT JOIN "
            "payment_transaction tx ON tx.refund_id = r.id WHERE r.id = %s "
            "GROUP BY r.id",
            (refund_id,),
        )
        if "approved" in answers:
            assert state in ("done", "failed"), state
            assert attempts == 1, f"refund {refund_id} sent {attempts} times"
        else:
            assert state in ("to_approve", "cancelled"), state
    assert sent
    _assert_all_held(site)


def test_worker_killed_inside_the_provider_call(site):
    """kill -9 of the worker waiting for the PSP, which made the refund: Odoo rolls
    the request back, the PSP's webhook brings the refund in, nothing is counted
    twice, the customer gets one e-mail."""
    made_before = len(site.psp.refunds)
    site.psp.stall(60, made=True)
    outcomes = []
    load = threading.Thread(
        target=lambda: outcomes.extend(_run(site, 30, 10, seed=2)), daemon=True
    )
    load.start()
    client, refund_id = wait_for(
        lambda: site.psp.stalled and site.psp.stalled[0], 60, what="the stall"
    )
    worker = wait_for(
        lambda: next(
            filter(None, (s.worker_with_local_port(client[1]) for s in site.servers)),
            None,
        ),
        10,
        what="the worker calling the PSP",
    )
    killed = time.time()
    worker.kill()  # SIGKILL
    site.fault_windows.append((killed, killed + 5))
    load.join(300)
    site.settle(SETTLE_TIMEOUT)
    broken = [outcome for outcome in outcomes if outcome.kind == "broken"]
    assert len(broken) == 1, broken
    assert "Connection" in broken[0].error or "Disconnected" in broken[0].message
    site.broken_allowed.add(broken[0].index)
    assert refund_id and len(site.psp.refunds) > made_before
    [(state, note)] = site.query(
        "SELECT r.state, r.note FROM payment_refund r JOIN payment_transaction tx "
        "ON tx.refund_id = r.id WHERE tx.provider_reference = %s",
        (refund_id,),
    )
    assert state == "done", "known from the PSP's webhook"
    assert not (note or "").startswith("load request"), "the request was rolled back"
    _assert_all_held(site)


def test_postgresql_restart_under_load(site):
    """A PostgreSQL restart in the middle of the load: requests in flight then fail
    (a rollback each), the servers reconnect, and whatever the PSP made meanwhile
    comes back through its webhooks."""
    outcomes = []
    load = threading.Thread(
        target=lambda: outcomes.extend(_run(site, 60, 20, seed=3)), daemon=True
    )
    load.start()
    time.sleep(2)
    start = time.time()
    site.pg.restart()
    end = time.time()
    load.join(300)
    site.settle(SETTLE_TIMEOUT)
    # Errors are the truth while the database is away and for the requests that
    # were in flight then; after it, none.
    site.fault_windows.append((start, end + 10))
    # A cron worker finds its connection closed when it wakes up (within a minute
    # and ten seconds: Odoo's SLEEP_INTERVAL plus its pid modulo 10) and exits; its
    # server starts another.
    site.fault_windows.append(
        (
            start,
            end + 75,
            r"odoo\.service\.server: Worker WorkerCron \(\d+\) "
            r"Exception occurred, exiting",
        )
    )
    for outcome in outcomes:
        if outcome.kind == "broken":
            assert outcome.ended >= start - 1, outcome
            site.broken_allowed.add(outcome.index)
    assert _summary(outcomes)["refund"], "the servers serve again after the restart"
    _assert_all_held(site)


def test_smtp_down_for_a_minute(site):
    """The SMTP server down for a minute while refunds are done: every proof e-mail
    is delivered exactly once when it is back."""
    start = time.time()
    site.smtp.stop()
    outcomes = _run(site, 30, 10, seed=4)
    assert _summary(outcomes)["refund"]
    wait_for(
        lambda: site.query("SELECT count(*) FROM mail_mail WHERE state = 'exception'")[
            0
        ][0],
        120,
        what="a mail failing on the SMTP connection",
    )
    time.sleep(max(0, 60 - (time.time() - start)))
    site.smtp.start()
    site.fault_windows.append((start, time.time() + 5))
    site.settle(SETTLE_TIMEOUT)
    _assert_all_held(site)
