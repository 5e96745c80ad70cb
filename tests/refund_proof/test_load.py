"""make test-slow: refunds under real load, and faults under that load.

Two Odoo servers in prefork (`--workers=4 --max-cron-threads=1` each, queue_job
loaded server-wide: its job runner sends the proofs' and the bulk refunds' jobs to
both) on one database of a PostgreSQL cluster of their own, the fake PSP with its
webhooks, a real SMTP server, clients over HTTP (testkit/refund_proof_testkit/
load_site.py). The scenarios run in this file's order on one site; each ends with every
invariant checked from the database, the PSP's ledger and the SMTP sink
(`LoadSite.check`), and the servers' logs. The last one is a bulk refund of
LOAD_BATCH_LINES payments with a worker killed and PostgreSQL restarted while it runs.

Scaled for CI: LOAD_REQUESTS (default 200) requests with LOAD_IN_FLIGHT (default 50) in
flight, a bulk refund of LOAD_BATCH_LINES (default 300: CI's time; a thousand take about
eight minutes more on 2 vCPUs) payments; `make bench` runs the same scenarios at 1,000
requests and a bulk refund of 1,000 (bench/run.sh step 5).
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
BATCH_LINES = int(os.environ.get("LOAD_BATCH_LINES", 300))
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
FAULT_SCENARIOS = 4
# The bulk refund's payments come after those: refunded by nothing else.
BATCH_FIRST = LOAD_PAYMENTS + FAULT_SCENARIOS * FAULT_PAYMENTS
SPEC = {
    "provider": "fakepsp",
    "payments": BATCH_FIRST + BATCH_LINES,
    "amount": 100.0,
    "users": USERS,
    "managers": ["approver_1", "approver_2"],
    # Odoo waits report.print_delay (1 s by default) in every PDF render for the
    # page's JavaScript; the proof has none. A setting a merchant may make.
    "print_delay": 0,
}
# A refund's e-mail goes out after its proof renders (about half a second each).
SETTLE_TIMEOUT = 600
# queue_job's channels (README, "Running in production"): fewer jobs at once than the
# servers' eight workers, which also answer the PSP's webhooks and the users.
JOB_CHANNELS = (
    "root:6,root.refund_proof:6,root.refund_proof.fakepsp:4,root.refund_proof.proof:3"
)


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
        site.open(SPEC, job_channels=JOB_CHANNELS)
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


def _kill_the_worker_stalled_by_the_psp(site, stalls, timeout):
    """kill -9 of the worker whose refund call the PSP stalls (the first stall after
    the `stalls` before it); return the id of the refund the PSP made, or None."""
    client, refund_id = wait_for(
        lambda: len(site.psp.stalled) > stalls and site.psp.stalled[stalls],
        timeout,
        what="the stall",
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
    return refund_id


# Lines of the servers' logs after a PostgreSQL restart: a cron worker finds its
# connection closed when it wakes up (within a minute and ten seconds: Odoo's
# SLEEP_INTERVAL plus its pid modulo 10) and exits, its server starting another; the job
# runner (loaded server-wide) finds its own closed, sleeps and reconnects.
CRON_WORKER_EXITS = (
    r"odoo\.service\.server: Worker WorkerCron \(\d+\) Exception occurred, exiting"
)
JOB_RUNNER_SLEEPS = r"odoo\.addons\.queue_job\.jobrunner\.runner: exception: sleeping"


def _restart_postgresql(site, errors_for, then_allowed):
    """Restart the site's PostgreSQL: errors are the truth while it is away and for
    `errors_for` seconds after (the work in flight then), and the log lines
    `then_allowed` matches for 75 seconds after (its servers noticing). Return
    (start, end) of the restart."""
    start = time.time()
    site.pg.restart()
    end = time.time()
    site.fault_windows.append((start, end + errors_for))
    site.fault_windows.append((start, end + 75, then_allowed))
    return start, end


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
    stalls = len(site.psp.stalled)
    site.psp.stall(60, made=True)
    outcomes = []
    load = threading.Thread(
        target=lambda: outcomes.extend(_run(site, 30, 10, seed=2)), daemon=True
    )
    load.start()
    refund_id = _kill_the_worker_stalled_by_the_psp(site, stalls, 60)
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
    # Errors are the truth for the requests in flight; after them, none.
    start, _end = _restart_postgresql(site, 10, CRON_WORKER_EXITS)
    load.join(300)
    site.settle(SETTLE_TIMEOUT)
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


def test_postgresql_restart_while_the_smtp_server_takes_an_email(site):
    """PostgreSQL restarts while Odoo's mail queue hands a proof's e-mail to the SMTP
    server: the server has the message, its "250 OK" comes after the restart, and
    Odoo cannot record the mail sent (its transaction is gone), so its mail queue
    hands it over again at its next run. The customer still gets one e-mail:
    refund_proof's journal of the e-mails the server accepted
    (refund_proof/models/ir_mail_server.py)."""
    site.smtp.hold_next(lambda message: message["has_pdf"])
    outcomes = _run(site, 5, 5, seed=5)
    assert _summary(outcomes)["refund"]
    held = wait_for(lambda: site.smtp.held, 300, what="a proof's e-mail handed over")
    # The mail queue's transaction fails on its closed connection after the "250
    # OK" (Odoo logs it with its traceback).
    _restart_postgresql(site, 15, f"{CRON_WORKER_EXITS}|{JOB_RUNNER_SLEEPS}")
    site.smtp.release()
    site.settle(SETTLE_TIMEOUT)
    # Its message's copies to the refund's followers share its Message-Id.
    received = [
        m
        for m in site.smtp.snapshot()
        if (m["message_id"], m["to"]) == (held["message_id"], held["to"])
    ]
    assert len(received) == 1, received
    _assert_all_held(site)


def test_bulk_refund_with_a_worker_killed_and_postgresql_restarted(site):
    """A bulk refund of BATCH_LINES payments, started by a refund manager, through
    both servers' workers on the job runner: a worker is killed while its job waits
    for the PSP (which made the refund), PostgreSQL restarts later. Every payment is
    refunded once at most (the PSP's ledger), every done refund's customer gets one
    e-mail with the proof; the line the kill interrupted gets the refund the PSP
    reports; a line the restart interrupted is settled by the PSP's report or stays
    interrupted for a manager (never asked again by itself); the batch resumes."""
    manager = site.managers[0]
    payments = site.setup["payments"][BATCH_FIRST : BATCH_FIRST + BATCH_LINES]
    action = manager.call(
        "payment.transaction",
        "action_refund_proof_batch",
        [[payment["id"] for payment in payments]],
        {"note": "load batch"},
        timeout=600,
    )
    batch_id = action["res_id"]
    [(lines, state)] = site.query(
        "SELECT count(l.id), b.state FROM payment_refund_batch b "
        "JOIN payment_refund_batch_line l ON l.batch_id = b.id WHERE b.id = %s "
        "GROUP BY b.id",
        (batch_id,),
    )
    assert (lines, state) == (BATCH_LINES, "draft")
    started = time.time()
    manager.call("payment.refund.batch", "action_start", [[batch_id]], timeout=600)

    def done_lines():
        return site.query(
            "SELECT count(*) FROM payment_refund_batch_line "
            "WHERE batch_id = %s AND state = 'done'",
            (batch_id,),
        )[0][0]

    # A worker killed while its job waits for the PSP, which made the refund.
    wait_for(lambda: done_lines() >= BATCH_LINES // 10, 600, what="a tenth done")
    stalls = len(site.psp.stalled)
    site.psp.stall(60, made=True)
    killed_refund = _kill_the_worker_stalled_by_the_psp(site, stalls, 120)
    # PostgreSQL restarted while the batch goes on.
    wait_for(lambda: done_lines() >= BATCH_LINES * 4 // 10, 900, what="40% done")
    _restart_postgresql(site, 15, f"{CRON_WORKER_EXITS}|{JOB_RUNNER_SLEEPS}")

    def batch_settled():
        [(open_lines,)] = site.query(
            "SELECT count(*) FROM payment_refund_batch_line WHERE batch_id = %s "
            "AND (state IN ('draft', 'queued') OR (state = 'pending' "
            "AND NOT interrupted))",
            (batch_id,),
        )
        return not open_lines and not site.busy()

    wait_for(batch_settled, SETTLE_TIMEOUT, interval=2, what="the batch to settle")
    elapsed = time.time() - started
    rows = site.query(
        "SELECT l.state, l.interrupted, l.refund_id IS NOT NULL, tx.reference "
        "FROM payment_refund_batch_line l JOIN payment_transaction tx "
        "ON tx.id = l.source_transaction_id WHERE l.batch_id = %s",
        (batch_id,),
    )
    states = Counter(state for state, *_rest in rows)
    print(
        f"\nbulk refund of {BATCH_LINES}: {dict(states)} in {elapsed:.0f} s, "
        f"jobs sent per server {site.dispatcher.sent}"
    )
    # Never twice: one PSP refund per payment at most, and none on an interrupted
    # line without its refund (the PSP's ledger is checked against Odoo's below).
    made = Counter(refund["payment_reference"] for refund in site.psp.refunds.values())
    references = {row[3] for row in rows}
    assert all(made[ref] <= 1 for ref in references), "a payment refunded twice"
    for state, interrupted, has_refund, reference in rows:
        assert state in ("done", "pending"), (reference, state)
        if state == "pending":
            assert interrupted and not has_refund, reference
            assert not made[reference], f"{reference}: the PSP made it, not linked"
    # The kill's line got the refund the PSP made and reported.
    [(killed_state,)] = site.query(
        "SELECT l.state FROM payment_refund_batch_line l JOIN payment_transaction "
        "tx ON tx.refund_id = l.refund_id WHERE tx.provider_reference = %s",
        (killed_refund,),
    )
    assert killed_state == "done"
    # The restart interrupts at most the jobs in flight then (the channel's four).
    assert states["pending"] <= 4, states
    assert states["done"] >= BATCH_LINES - 4
    [(batch_state,)] = site.query(
        "SELECT state FROM payment_refund_batch WHERE id = %s", (batch_id,)
    )
    assert batch_state == ("running" if states["pending"] else "done")
    _assert_all_held(site)
