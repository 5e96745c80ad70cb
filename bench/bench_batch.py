"""Figure 6 (issue 27): the proofs' drain after a burst of refunds, and bulk refunds.

    PYTHONPATH=testkit $PY bench/bench_batch.py [--cron DB --jobs DB] [--out DIR]

Two load sites (`LoadSite`, testkit/refund_proof_testkit/load_site.py), one after the
other, each a PostgreSQL cluster of its own, two Odoo servers in prefork
(`--workers=4 --max-cron-threads=1` each), the SMTP sink and the fake PSP
(tests/fakepsp_server.py, without webhooks: it answers each refund at once, done),
with N paid fake-PSP payments of 1,000.00 (load_site_data.py), report.print_delay 0:

- `cron`: refund_proof without refund_proof_batch (today: the proofs issued and
  e-mailed by the mail cron, one run at a time whatever the number of servers);
- `jobs`: refund_proof_batch and queue_job, queue_job loaded server-wide with its job
  runner (`LoadSite.open(job_channels=…)`): one job per proof on
  `root.refund_proof.proof`, the refunds of a batch on `root.refund_proof.fakepsp`.

(a) The drain. A set-up process (this script, `--inside burst`) refunds 1.00 of each
    of the N payments through the request path (`action_refund`, as a refund user)
    in ONE transaction: the burst, N done refunds whose proofs are pending, appears
    at its commit, as when N refunds arrive faster than proofs render. Timed from
    that commit to every refund's proof issued and its e-mail (with the PDF) in the
    SMTP sink; proofs/s on each site. Measured too: the CPU seconds of the site
    (both servers' processes and their children, wkhtmltopdf included, and
    PostgreSQL) over the drain, and the machine's busy CPU (/proc/stat: what the
    other users of the machine took).
    The machine's limit is (number of CPUs) / (CPU seconds of one proof issue), the
    issue measured on the jobs site's database in the same run (`--inside issue`):
    `payment.refund._issue_proof` (render + store, what each job does first) of
    ISSUE_SAMPLES refunds, one at a time in one process, each issue's CPU being the
    process's own (QWeb, PDF post-processing, storage), its wkhtmltopdf child's
    (getrusage of the reaped children) and its PostgreSQL backend's (psutil), mean
    of the samples after two warm-up issues; rolled back.
(b) Bulk refunds through the fake PSP with 100 ms latency per refund call:
    - the single refund path: SINGLE refunds of 1.00 over JSON-RPC
      (`payment.transaction.action_refund`, the Refund button), 8 in flight over both
      servers; the site's CPU from the first request to every proof e-mailed, per
      refund;
    - the batch path: a batch of the N payments (`action_refund_proof_batch`, fixed
      amount 1.00, by a refund user whose limits it fits: it starts at once), started
      with `action_start`; wall time from the start to every line done and every
      proof e-mailed, and the site's CPU from the batch's creation to the same end,
      per refund; on the two servers x 4 workers, then on one server running one
      job at a time (server b stopped, a restarted with `--workers=1`, every channel
      of capacity 1: its one HTTP worker runs the jobs, its cron worker sends the
      e-mails) with a batch of N_SMALL payments.
    Both paths' CPU include the proof and e-mail of each refund (the same work in
    both); the note gives the ratio without it too (the drain's CPU per proof
    subtracted).

Every figure is printed as soon as it is measured (`FIGURE` lines, progress on
stderr with the load average). The scales: BENCH_BATCH_N (default 1000: the jobs'
burst), BENCH_BATCH_CRON_N (today's burst, default N), BENCH_BATCH_SINGLE (default
300), BENCH_BATCH_BATCH_N (default N), BENCH_BATCH_N_SMALL (default N);
BENCH_BATCH_ONLY=small runs the small site's batch alone. Profiles
(py-spy, if installed in the venv: `pip install py-spy`): the small site's batch
(--out/profile_batch.txt), and with BENCH_BATCH_PROFILE_DRAIN=seconds that long of
the jobs' drain on both servers (--out/profile_drain.txt). Without --cron/--jobs the
script makes its sources from the template database of `make test` and drops them.
"""

import argparse
import glob
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo/18.0")
# queue_job: the wheel's folder in the venv (scripts/env.sh, VENV_ADDONS).
VENV_ADDONS = sorted(glob.glob(f"{sys.prefix}/lib/python3*/site-packages/odoo/addons"))
ADDONS = ",".join(
    [
        f"{ODOO_SRC}/addons",
        f"{ODOO_SRC}/odoo/addons",
        *VENV_ADDONS[:1],
        REPO_ROOT,
        f"{REPO_ROOT}/tests/addons",
    ]
)
# The scales: the jobs' burst (and the jobs site's payments), today's burst (the cron
# drains one proof at a time: its rate does not depend on the burst's size, and at
# 1,000 it takes many minutes on a busy machine), the single refunds, the batch on two
# servers, the batch on the small site.
N = int(os.environ.get("BENCH_BATCH_N", 1000))
CRON_N = int(os.environ.get("BENCH_BATCH_CRON_N", N))
SINGLE = int(os.environ.get("BENCH_BATCH_SINGLE", min(N, 300)))
BATCH_N = int(os.environ.get("BENCH_BATCH_BATCH_N", N))
N_SMALL = int(os.environ.get("BENCH_BATCH_N_SMALL", N))
ISSUE_SAMPLES = 20
# Seconds of py-spy on both servers during the jobs' drain (0: none; it takes CPU of
# its own, in the measure).
PROFILE_DRAIN = int(os.environ.get("BENCH_BATCH_PROFILE_DRAIN", 0))
# BENCH_BATCH_ONLY=small: only the small site's batch (of N_SMALL payments).
ONLY_SMALL = os.environ.get("BENCH_BATCH_ONLY") == "small"
LATENCY = 0.1  # seconds per refund call to the fake PSP, (b)
IN_FLIGHT = 8  # the single refund path's clients
REFUND_AMOUNT = 1.0
WEBHOOK_SECRET = "whsec_refund_proof_bench_batch"
# queue_job's channels (a parent's capacity caps its children): three proofs at once
# (about one per CPU and a half: a render is CPU-bound), the refunds of a batch (no
# render) the rest. The first dry run of this script, with root:8 and proof:8, hung:
# every worker rendered and each render's wkhtmltopdf waited for a worker of
# `report.url` to serve the report's styles, until --limit-time-real killed them all;
# refund_proof's reports now carry their styles inline (ir_actions_report.py), and the
# channels stayed as they were measured.
CHANNELS_2X4 = os.environ.get(
    "BENCH_BATCH_CHANNELS",
    "root:6,root.refund_proof:6,root.refund_proof.proof:3,root.refund_proof.fakepsp:3",
)
# The small site: one server, one HTTP worker, one job at a time (the issue's "one
# server x 1 worker"; its cron worker sends the e-mails). Possible since refund_proof's
# reports carry their styles inline: before, the job's worker rendered and waited for
# itself to serve the styles to its wkhtmltopdf, until the time limit (the first run of
# this script took two workers for that).
SMALL_WORKERS = 1
CHANNELS_1X1 = (
    "root:1,root.refund_proof:1,root.refund_proof.proof:1,root.refund_proof.fakepsp:1"
)
SPEC = {
    "provider": "fakepsp",
    "payments": N,
    "amount": 1000.0,
    "users": [{"login": "bench_1", "limit": 1e6, "daily": 1e9}],
    "managers": ["bench_manager"],
    "print_delay": 0,
}
DRAIN_TIMEOUT = 3600


# === INSIDE A SITE'S DATABASE (a process of its own, as load_site_data.py) === #


def inside(kind, spec):
    from odoo import api

    from refund_proof_testkit.load_site_data import open_registry

    registry = open_registry(spec)
    if kind == "burst":
        with registry.cursor() as cr:
            env = api.Environment(cr, spec["uid"], {})
            txs = env["payment.transaction"].browse(spec["tx_ids"])
            start = time.perf_counter()
            for tx in txs:
                tx.action_refund(amount_to_refund=spec["amount"])
            env.flush_all()
            cr.commit()
            print(
                json.dumps(
                    {
                        "committed": time.time(),
                        "refunds": len(txs),
                        "seconds": time.perf_counter() - start,
                    }
                ),
                flush=True,
            )
    elif kind == "issue":
        import psutil

        with registry.cursor() as cr:
            env = api.Environment(cr, 1, {})
            cr.execute("SELECT pg_backend_pid()")
            backend = psutil.Process(cr.fetchone()[0])
            Refund = env["payment.refund"].with_context(force_report_rendering=True)
            refunds = Refund.search(
                [("state", "=", "done"), ("proof_ids", "!=", False)],
                limit=ISSUE_SAMPLES + 2,
                order="id",
            )
            samples = []
            for refund in refunds:
                env.invalidate_all()
                own = time.process_time()
                kids = resource.getrusage(resource.RUSAGE_CHILDREN)
                pg = backend.cpu_times()
                wall = time.perf_counter()
                proof = refund._issue_proof()
                env.flush_all()
                wall = time.perf_counter() - wall
                kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                pg_after = backend.cpu_times()
                assert proof.attachment_id.raw.startswith(b"%PDF"), refund
                samples.append(
                    {
                        "python": time.process_time() - own,
                        "wkhtmltopdf": kids_after.ru_utime
                        - kids.ru_utime
                        + kids_after.ru_stime
                        - kids.ru_stime,
                        "postgres": pg_after.user
                        - pg.user
                        + pg_after.system
                        - pg.system,
                        "wall": wall,
                    }
                )
            cr.rollback()
        print(json.dumps(samples[2:]), flush=True)


def run_inside(site, kind, **spec):
    """Run `inside(kind)` on the site's database in a process of its own; return
    its Popen (stdout: JSON lines)."""
    spec = dict(spec, **site.database_spec())
    # Its log to a file (a pipe read at the end could fill up and block it).
    log_path = os.path.join(site.root, f"inside-{kind}.log")
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--inside", kind,
             json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )  # fmt: skip
    process.log = log_path
    return process


def inside_result(process):
    """The JSON of the process's first stdout line (it goes on running)."""
    line = process.stdout.readline()
    if not line:
        process.wait()
        with open(process.log) as log_file:
            raise RuntimeError(f"inside process failed:\n{log_file.read()[-3000:]}")
    return json.loads(line)


# === MEASURES === #


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_busy():
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / ticks, sum(values) / ticks


def site_cpu(site):
    """{part: CPU seconds} used so far by the site: `odoo` (the servers' own
    processes: masters, HTTP, cron and job runner), `children` (their reaped
    children: wkhtmltopdf, and workers recycled), `postgres` (the cluster, its
    reaped backends included). A process that ends between two snapshots moves from
    its own to its parent's children's count: the total stays right."""
    parts = {"odoo": 0.0, "children": 0.0, "postgres": 0.0}
    for part, own, reaped in site_process_times(site):
        parts[part] += own
        parts["children" if part == "odoo" else part] += reaped
    return parts


def delta(after, before):
    return {key: after[key] - before[key] for key in after}


def proof_mails(site):
    """Customer e-mails with a PDF in the SMTP sink."""
    return sum(
        1
        for message in site.smtp.snapshot()
        if message["has_pdf"]
        and any(a.endswith("@load.example") for a in message["to"])
    )


def proofs_pending(site):
    [(count,)] = site.query(
        "SELECT count(*) FROM payment_refund WHERE state = 'done' AND "
        "(proof_pending OR customer_mail_pending IS NOT NULL)"
    )
    return count


def settle_post_processing(site, timeout=1800):
    """Wait for Odoo's post-processing of the done transactions (an account.payment
    per refund, `payment.cron_post_process_payment_tx`, every ten minutes: run now),
    so that a phase's CPU is its own and not the earlier phases' backlog."""

    def backlog():
        return site.query(
            "SELECT count(*) FROM payment_transaction WHERE state = 'done' "
            "AND NOT is_post_processed"
        )[0][0]

    if not backlog():
        return
    site.query(
        "INSERT INTO ir_cron_trigger (cron_id, call_at) SELECT res_id, now() at "
        "time zone 'UTC' FROM ir_model_data WHERE module = 'payment' "
        "AND name = 'cron_post_process_payment_tx' RETURNING id"
    )
    started = time.time()
    wait_for(lambda: not backlog(), timeout, interval=5, what="post-processing")
    log(
        f"post-processing backlog done in {time.time() - started:.0f} s "
        f"(load {loadavg()})"
    )


def drain_note(rate, drain, cpu, machine):
    cpus = os.cpu_count()
    used = sum(cpu.values())
    return (
        f"site CPU {parts(cpu)} ({used / (rate * drain):.3f} s per proof, "
        f"{used / drain / cpus * 100:.0f}% of the {cpus} CPUs); machine busy "
        f"{machine[0] / machine[1] * 100:.0f}%"
    )


def wait_mailed(site, mails_before, count, what, extra=None):
    """Wait until `count` more proof e-mails reached the sink and no proof or
    e-mail is pending (and `extra()` holds); return the time.time() it held."""
    last = [0.0, -1]

    def done():
        mails = proof_mails(site) - mails_before
        if mails != last[1]:
            last[:] = [time.monotonic(), mails]
        if time.monotonic() - last[0] > 300:
            raise TimeoutError(f"{what}: no e-mail for 5 minutes, {mails}/{count}")
        return (
            mails >= count
            and not proofs_pending(site)
            and (extra is None or extra())
            and time.time()
        )

    return wait_for(done, DRAIN_TIMEOUT, interval=0.2, what=what)


# === SOURCES === #


def make_sources(cfg, out):
    """Clones of the template database: `cron` with refund_proof and the fake PSP,
    `jobs` with refund_proof_batch (queue_job) and the fake PSP."""
    template = template_db()
    made = []
    for dbname, modules in (
        ("rp_bench_batch_cron", "refund_proof,payment_fakepsp"),
        ("rp_bench_batch_jobs", "refund_proof_batch,payment_fakepsp"),
    ):
        log(f"source {dbname} from {template}: {modules} (load {loadavg()})")
        clone(cfg, template, dbname)
        made.append(dbname)
        subprocess.run(
            [
                sys.executable, os.path.join(ODOO_SRC, "odoo-bin"), "-c",
                os.environ.get("BENCH_ODOO_CONF", "/opt/refund_proof/odoo.conf"),
                "--addons-path", ADDONS, "-d", dbname, "-i", modules,
                "--stop-after-init", "--http-port=0", "--log-level=warn",
                "--without-demo=all", f"--logfile={out}/batch-install.log",
            ],
            check=True,
        )  # fmt: skip
    return made


# === THE SITES === #


def open_site(name, src, payments, job_channels=""):
    from fakepsp_server import FakePSPServer

    log(f"site {name}: copy of {src['dbname']}, two servers x 4 (load {loadavg()})")
    start = time.monotonic()
    # No webhooks: the fake PSP answers each refund done at once; its notifications
    # would only confirm it (and, during the burst's transaction, be retried).
    site = LoadSite(
        src, ADDONS, psp_factory=lambda _urls: FakePSPServer(WEBHOOK_SECRET)
    )
    site.name = name
    try:
        site.open(
            dict(SPEC, payments=payments),
            n_servers=2,
            workers=4,
            job_channels=job_channels,
        )
        cnx = site.pg.connect(site.dbname)
        try:
            cnx.cursor().execute("VACUUM ANALYZE")
        finally:
            cnx.close()
        site.user = site.sign_in(["bench_1"])["bench_1"]
    except BaseException:
        site.close()
        raise
    log(f"site {name} open in {time.monotonic() - start:.0f} s (load {loadavg()})")
    return site


def burst_drain(site, count, profile_out=None):
    """(a) on one site: the burst of `count` refunds, then its drain. Return
    (proofs/s, drain seconds, site CPU by part over the drain, machine busy CPU
    seconds over the drain)."""
    site.settle(300)
    site.psp.latency = 0
    tx_ids = [payment["id"] for payment in site.setup["payments"]][:count]
    mails = proof_mails(site)
    log(f"{site.name}: burst of {len(tx_ids)} refunds (load {loadavg()})")
    process = run_inside(
        site, "burst", uid=site.user.uid, tx_ids=tx_ids, amount=REFUND_AMOUNT
    )
    result = inside_result(process)
    cpu, machine = site_cpu(site), machine_busy()
    committed = result["committed"]
    log(
        f"{site.name}: burst committed ({result['seconds']:.0f} s in one transaction, "
        f"{time.time() - committed:.2f} s ago); drain (load {loadavg()})"
    )
    process.wait()
    profilers = []
    timer = None
    if profile_out and PROFILE_DRAIN:
        # py-spy for PROFILE_DRAIN seconds, a minute into the drain (past its start).
        timer = threading.Timer(
            60,
            lambda: profilers.extend(
                start_profile(site.servers, profile_out, "profile_drain", PROFILE_DRAIN)
            ),
        )
        timer.start()
    end = wait_mailed(site, mails, len(tx_ids), f"{site.name}: the drain")
    if timer:
        timer.cancel()
        stop_profile(
            profilers, profile_out, "profile_drain", f"{PROFILE_DRAIN} s of the drain"
        )
    cpu = delta(site_cpu(site), cpu)
    busy, total = machine_busy()
    drain = end - committed
    log(
        f"{site.name}: {len(tx_ids)} proofs in {drain:.1f} s = "
        f"{len(tx_ids) / drain:.2f}/s (load {loadavg()})"
    )
    return len(tx_ids) / drain, drain, cpu, (busy - machine[0], total - machine[1])


def issue_cpu(site):
    """CPU seconds of one proof issue, on the site's database (see the docstring)."""
    log(f"{site.name}: {ISSUE_SAMPLES} proof issues in one process (load {loadavg()})")
    process = run_inside(site, "issue")
    samples = inside_result(process)
    process.wait()
    return samples


def single_path(site):
    """(b) SINGLE refunds over JSON-RPC, IN_FLIGHT at a time over both servers;
    return (seconds, site CPU by part) to every proof e-mailed."""
    site.settle(300)
    settle_post_processing(site)
    site.psp.latency = LATENCY
    payments = [payment["id"] for payment in site.setup["payments"]][:SINGLE]
    mails, errors = proof_mails(site), []
    log(f"{site.name}: {SINGLE} single refunds, {IN_FLIGHT} in flight")

    def send(item):
        index, tx_id = item
        try:
            site.user.call(
                "payment.transaction",
                "action_refund",
                [[tx_id]],
                {"amount_to_refund": REFUND_AMOUNT},
                server=site.servers[index % len(site.servers)],
            )
        except RpcError as error:
            errors.append(str(error)[:200])

    cpu, start = site_cpu(site), time.time()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        list(pool.map(send, enumerate(payments)))
    answered = time.time() - start
    if errors:
        raise RuntimeError(f"single refunds failed: {errors[:3]}")
    end = wait_mailed(site, mails, SINGLE, f"{site.name}: the single refunds' proofs")
    cpu = delta(site_cpu(site), cpu)
    log(
        f"{site.name}: {SINGLE} single refunds answered in {answered:.1f} s, proofs "
        f"e-mailed {end - start:.1f} s after the first (load {loadavg()})"
    )
    return end - start, cpu


def batch_path(site, count):
    """(b) A batch of `count` payments; return (seconds from its start to every line
    done and proof e-mailed, seconds of its creation, site CPU by part from its
    creation to that end)."""
    site.settle(300)
    settle_post_processing(site)
    site.psp.latency = LATENCY
    tx_ids = [payment["id"] for payment in site.setup["payments"]][:count]
    mails = proof_mails(site)
    log(f"{site.name}: batch of {count} (load {loadavg()})")
    cpu, created = site_cpu(site), time.time()
    action = site.user.call(
        "payment.transaction",
        "action_refund_proof_batch",
        [tx_ids],
        {"amount_mode": "fixed", "amount": REFUND_AMOUNT},
        timeout=900,
    )
    batch_id = action["res_id"]
    [(state, approval)] = site.query(
        "SELECT state, approval_reasons FROM payment_refund_batch WHERE id = %s",
        (batch_id,),
    )
    started = time.time()
    site.user.call("payment.refund.batch", "action_start", [[batch_id]], timeout=900)
    [(state,)] = site.query(
        "SELECT state FROM payment_refund_batch WHERE id = %s", (batch_id,)
    )
    if state != "running":
        raise RuntimeError(f"batch {batch_id} {state} after start: {approval}")

    def finished():
        rows = dict(
            site.query(
                "SELECT state, count(*) FROM payment_refund_batch_line "
                "WHERE batch_id = %s GROUP BY state",
                (batch_id,),
            )
        )
        [(batch_state,)] = site.query(
            "SELECT state FROM payment_refund_batch WHERE id = %s", (batch_id,)
        )
        if set(rows) - {"done", "queued", "pending"}:
            raise RuntimeError(f"batch {batch_id}: lines {rows}")
        return batch_state == "done" and rows.get("done") == count

    end = wait_mailed(site, mails, count, f"{site.name}: the batch", extra=finished)
    cpu = delta(site_cpu(site), cpu)
    log(
        f"{site.name}: batch of {count} done and e-mailed {end - started:.1f} s after "
        f"its start (created in {started - created:.1f} s) (load {loadavg()})"
    )
    return end - started, started - created, cpu


def one_server_one_worker(site):
    """Server b stopped, server a restarted with SMALL_WORKERS HTTP workers (and its
    cron worker), every channel at capacity 1: one job at a time."""
    site.settle(300)
    settle_post_processing(site)
    site.servers[1].stop()
    server = site.servers[0]
    server.stop()
    site.job_channels = CHANNELS_1X1
    server.workers = SMALL_WORKERS
    server.start()
    server.wait_ready()
    for _ in range(3):
        requests.get(f"{server.url}/web/login", timeout=120).raise_for_status()
    site.servers = [server]
    site.user = site.sign_in(["bench_1"])["bench_1"]


def small_site_batch(site, args):
    """The small site (`one_server_one_worker`) and its batch of N_SMALL payments,
    profiled; return its wall time."""
    one_server_one_worker(site)
    profilers = start_profile(site.servers, args.out, "profile_batch")
    try:
        seconds_small, _creation, cpu = batch_path(site, N_SMALL)
    finally:
        stop_profile(profilers, args.out, "profile_batch", "the small site's batch")
    figure(
        "batch.batch_1x1_wall",
        f"{seconds_small:.1f}",
        "s",
        f"a batch of {N_SMALL} payments, one server, one job at a time "
        f"({CHANNELS_1X1}; {SMALL_WORKERS} HTTP worker(s) +1 cron worker), "
        f"from action_start to "
        f"every refund done and "
        f"every proof e-mailed ({N_SMALL / seconds_small:.2f} refunds/s); site "
        f"CPU {sum(cpu.values()) / N_SMALL * 1000:.0f} ms per refund",
    )
    return seconds_small


# === PROFILE === #


def start_profile(servers, out, name, seconds=None):
    """py-spy (if installed) on each server's processes (master, HTTP, cron and job
    runner workers: `--subprocesses`), 50 samples/s, not pausing them (it takes some
    CPU of its own); for `seconds`, or until `stop_profile`. [] without py-spy."""
    spy = shutil.which("py-spy") or os.path.join(
        os.path.dirname(sys.executable), "py-spy"
    )
    if not os.path.exists(spy):
        log("no py-spy: no profile")
        return []
    profilers = []
    for server in servers:
        raw = os.path.join(out, f"{name}_{server.name}.raw")
        with open(raw + ".log", "w") as log_file:
            profilers.append(
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "-p",
                        str(server.process.pid),
                        "--subprocesses",
                        "-r",
                        "50",
                        "--nonblocking",
                        "-f",
                        "raw",
                        "-o",
                        raw,
                        *(["-d", str(seconds)] if seconds else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                )  # fmt: skip
            )
    return profilers


def stop_profile(profilers, out, name, what):
    """Stop py-spy (it writes its samples on SIGINT; one started for some seconds
    has stopped by itself) and write the functions with the most samples, inclusive
    (the function or what it calls), to NAME.txt. py-spy samples the Python stacks
    of the threads not idle: waits for PostgreSQL included, wkhtmltopdf (another
    process) not."""
    raws = []
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
        try:
            profiler.wait(60)
        except subprocess.TimeoutExpired:
            profiler.kill()
            continue
        raws.append(profiler.args[profiler.args.index("-o") + 1])
    inclusive, total = {}, 0
    for raw in raws:
        if not os.path.exists(raw):
            continue
        with open(raw) as samples:
            for line in samples:
                stack, _space, count = line.rstrip("\n").rpartition(" ")
                if not count.isdigit():
                    continue
                total += int(count)
                frames = {
                    re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")[1:]
                }
                for frame in frames:
                    inclusive[frame] = inclusive.get(frame, 0) + int(count)
    if not total:
        return
    with open(os.path.join(out, f"{name}.txt"), "w") as report:
        report.write(
            f"py-spy, {total} samples (50/s) of the Odoo processes not idle, {what}; "
            "inclusive share of each function:\n"
        )
        for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:100]:
            report.write(f"{count / total * 100:5.1f}%  {frame[:200]}\n")
    log(f"profile in {out}/{name}.txt")


# === THE RUN === #


def parts(cpu):
    return ", ".join(f"{key} {value:.0f} s" for key, value in cpu.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cron", help="source: refund_proof and payment_fakepsp")
    parser.add_argument("--jobs", help="source: refund_proof_batch, payment_fakepsp")
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", "/tmp"))
    args = parser.parse_args()
    cfg = main_config()
    runtime = os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    started = time.monotonic()
    made = ()
    if not (args.cron and args.jobs):
        made = make_sources(cfg, args.out)
        args.cron, args.jobs = made
    tempfile.tempdir = os.path.join(tempfile.gettempdir(), "refund_proof_bench_batch")
    os.makedirs(tempfile.tempdir, mode=0o755, exist_ok=True)
    cpus = os.cpu_count()
    site = None
    try:
        if ONLY_SMALL:
            site = open_site(
                "jobs", source(cfg, args.jobs), N_SMALL, job_channels=CHANNELS_2X4
            )
            small_site_batch(site, args)
            return
        # (a) today: the mail cron.
        site = open_site("cron", source(cfg, args.cron), CRON_N)
        cron_rate, cron_drain, cron_cpu, cron_machine = burst_drain(site, CRON_N)
        figure(
            "batch.drain_cron",
            f"{cron_rate:.2f}",
            "proofs/s",
            f"today (refund_proof, the mail cron): {CRON_N} proofs issued and e-mailed "
            f"in {cron_drain:.0f} s after a burst of {CRON_N} refunds, two servers x 4 "
            f"workers (1 cron worker each); "
            + drain_note(cron_rate, cron_drain, cron_cpu, cron_machine),
        )
        keep_logs(site, args.out)
        site.close()
        site = None

        # (a) the jobs.
        site = open_site(
            "jobs",
            source(cfg, args.jobs),
            max(N, SINGLE, BATCH_N, N_SMALL),
            job_channels=CHANNELS_2X4,
        )
        rate, drain, cpu, machine = burst_drain(site, N, profile_out=args.out)
        per_proof = sum(cpu.values()) / N
        figure(
            "batch.drain_jobs",
            f"{rate:.2f}",
            "proofs/s",
            f"refund_proof_batch (one queue job per proof, {CHANNELS_2X4}): {N} "
            f"proofs issued and e-mailed in {drain:.0f} s after a burst of {N} "
            f"refunds, two servers x 4 workers; "
            + drain_note(rate, drain, cpu, machine),
        )
        ratio = rate / cron_rate
        figure(
            "batch.drain_jobs_vs_cron",
            f"{ratio:.2f}",
            "x",
            f"jobs {rate:.2f} / cron {cron_rate:.2f} proofs/s; target >= 4: "
            + ("MET" if ratio >= 4 else "MISSED"),
        )
        samples = issue_cpu(site)
        issue = statistics.mean(
            s["python"] + s["wkhtmltopdf"] + s["postgres"] for s in samples
        )
        limit = cpus / issue

        def mean_ms(part):
            return f"{statistics.mean(s[part] for s in samples) * 1000:.0f}"

        figure(
            "batch.proof_issue_cpu",
            f"{issue * 1000:.0f}",
            "ms",
            f"CPU of one proof issue (_issue_proof, render + store), mean of "
            f"{len(samples)} in one process: Odoo {mean_ms('python')} + wkhtmltopdf "
            f"{mean_ms('wkhtmltopdf')} + PostgreSQL {mean_ms('postgres')} ms; wall "
            f"{statistics.median(s['wall'] for s in samples) * 1000:.0f} ms (median)",
        )
        share = rate / limit
        figure(
            "batch.drain_vs_machine_limit",
            f"{share:.2f}",
            "x",
            f"jobs drain {rate:.2f} proofs/s / machine limit {limit:.2f} proofs/s "
            f"({cpus} CPUs / {issue:.3f} CPU s per issue); the drain's whole CPU per "
            f"proof (job, issue, e-mail, mail queue, PostgreSQL) {per_proof:.3f} s; "
            f"of the CPU the site got ({sum(cpu.values()) / drain:.2f} CPUs on "
            f"average), {rate * issue / (sum(cpu.values()) / drain) * 100:.0f}% went "
            "to proof issues; target >= 0.8: " + ("MET" if share >= 0.8 else "MISSED"),
        )

        # (b) bulk refunds, 100 ms per provider call.
        seconds, cpu = single_path(site)
        single_cpu = sum(cpu.values()) / SINGLE
        figure(
            "batch.single_cpu_per_refund",
            f"{single_cpu * 1000:.0f}",
            "ms",
            f"single refund path: {SINGLE} action_refund over JSON-RPC, {IN_FLIGHT} in "
            f"flight, fake PSP {LATENCY * 1000:.0f} ms; site CPU to every proof "
            f"e-mailed ({seconds:.0f} s): {parts(cpu)}",
        )
        seconds, creation, cpu = batch_path(site, BATCH_N)
        batch_cpu = sum(cpu.values()) / BATCH_N
        figure(
            "batch.batch_2x4_wall",
            f"{seconds:.1f}",
            "s",
            f"a batch of {BATCH_N} payments, two servers x 4 workers ({CHANNELS_2X4}), "
            f"from action_start to every refund done and every proof e-mailed "
            f"({BATCH_N / seconds:.2f} refunds/s); created (with its preview) in "
            f"{creation:.1f} s before; fake PSP {LATENCY * 1000:.0f} ms",
        )
        figure(
            "batch.batch_cpu_per_refund",
            f"{batch_cpu * 1000:.0f}",
            "ms",
            f"batch path: site CPU from the batch's creation to every proof e-mailed, "
            f"per refund: {parts(cpu)}",
        )
        ratio = batch_cpu / single_cpu
        figure(
            "batch.cpu_batch_vs_single",
            f"{ratio:.2f}",
            "x",
            f"CPU per refund (site: Odoo, wkhtmltopdf, PostgreSQL), batch "
            f"{batch_cpu * 1000:.0f} / single {single_cpu * 1000:.0f} ms, each "
            "refund's proof and e-mail included in both; target <= 1.2: "
            + ("MET" if ratio <= 1.2 else "MISSED"),
        )
        seconds_small = small_site_batch(site, args)
        figure(
            "batch.batch_2x4_vs_1x1",
            f"{(BATCH_N / seconds) / (N_SMALL / seconds_small):.2f}",
            "x",
            f"refunds/s to done and e-mailed, two servers x 4 "
            f"({BATCH_N / seconds:.2f}) / one job at a time "
            f"({N_SMALL / seconds_small:.2f}); no numeric target",
        )
        problems = site.log_problems()
        figure(
            "batch.server_log_problems",
            len(problems),
            "lines",
            "WARNING/ERROR lines of the jobs site's servers (LoadSite.log_problems)"
            + (f"; first: {problems[0][:200]}" if problems else ""),
        )
        figure(
            "batch.machine",
            cpus,
            "CPUs",
            f"load average at the end {loadavg()}; run took "
            f"{time.monotonic() - started:.0f} s",
        )
    finally:
        if site:
            keep_logs(site, args.out)
            site.close()
        for dbname in made:
            drop(cfg, dbname)


def keep_logs(site, out):
    keep = os.path.join(out, f"batch-{site.name}")
    shutil.rmtree(keep, ignore_errors=True)
    os.makedirs(keep)
    for path in glob.glob(os.path.join(site.root, "odoo-*.log*")):
        shutil.copy(path, keep)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        inside(sys.argv[2], json.loads(sys.argv[3]))
        sys.exit(0)
    sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
    import requests
    from bench_load import (
        clone,
        drop,
        main_config,
        site_process_times,
        source,
        template_db,
    )
    from lib import figure, log

    from refund_proof_testkit.load_site import LoadSite, RpcError, wait_for

    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    main()
