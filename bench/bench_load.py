"""Figure 4: refunds and public pages under load, two servers in prefork.

    PYTHONPATH=testkit $PY bench/bench_load.py [--plain DB --proof DB] [--out DIR]

Two load sites (`LoadSite` of testkit/refund_proof_testkit/load_site.py) side by
side, each a PostgreSQL cluster of its own and two Odoo servers in prefork
(`--workers=4 --max-cron-threads=1` each) on one database: `plain`, copied from DB
without refund_proof (the template database of `make test`: Odoo 18, account_payment,
payment_demo, the providers and sale), and `proof`, copied from DB with refund_proof
installed. Same data on both (testkit/refund_proof_testkit/load_site_data.py): 200
paid demo-provider transactions of 1,000.00, 50 users (in `proof` refund users with
limits no request reaches, so nothing waits for approval; in `plain` billing users,
who may refund in plain Odoo).

1. Refunds: `payment.transaction.action_refund(amount_to_refund=...)` over JSON-RPC
   with a session (the Refund button), amounts 1.00 to 5.00, 1 / 10 / 50 clients in
   flight (each sends its next refund when the last is answered), on one server
   (server a; b idle) and on both (round robin); the payments in a new order each
   round (no two requests in flight on one payment), the users in turn (no user with
   two). Each point: ROUNDS rounds of its four cases (plain and proof, one and two
   servers), interleaved, in the reverse order every other round; a round counts the
   refunds answered in the last three quarters of its window (POINTS). Measured too:
   the CPU time of each site's processes (Odoo servers and PostgreSQL) per refund,
   and the machine's listen-queue drops. First WARM_UP refunds on each site through
   both servers; the mail cron of `proof` then issues their proofs and e-mails
   (timed: `mail_cron_drain`). Then every cron of both sites is paused: the deferred
   work (Odoo's post-processing of done transactions every 10 minutes, refund_proof's
   proof PDF and e-mail of each refund) would run on the same CPUs at moments of its
   own, in some rounds and not others.
2. Public pages on the two servers of `proof`: the verification page and the portal
   download of issued proofs against `/web/login` and `/web/health`, two wrk processes
   at once (one per server, `-t1 -c4 -d5s`, the paths of 20 refunds in turn).

Without --plain/--proof, the script makes its own sources from the template database
(a clone, and a clone with refund_proof installed from this repository) and drops them
at the end. Prints `FIGURE` lines; progress on stderr; the sites' logs stay in --out.
"""

import argparse
import configparser
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg2
import requests
from lib import figure, log

from refund_proof_testkit.load_site import LoadSite, RpcError, wait_for

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)

ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo/18.0")
ADDONS = ",".join(
    [
        f"{ODOO_SRC}/addons",
        f"{ODOO_SRC}/odoo/addons",
        REPO_ROOT,
        f"{REPO_ROOT}/tests/addons",
    ]
)
N_PAYMENTS = 200
N_USERS = 50
SPEC = {
    "provider": "demo",
    "payments": N_PAYMENTS,
    "amount": 1000.0,
    "users": [
        {"login": f"bench_{index}", "limit": 1e6, "daily": 1e9}
        for index in range(1, N_USERS + 1)
    ],
    "managers": ["bench_manager"],
    "print_delay": 0,
}
# (in flight, seconds of one round): ROUNDS rounds of each (site, servers) case per
# point, interleaved; a few hundred refunds per point at 10 and 50 in flight, about
# 70 one at a time. A round's window is several latencies long.
POINTS = [(1, 2.0), (10, 4.0), (50, 8.0)]
ROUNDS = 3
WARM_UP = 40  # refunds per site before the points (and the proofs of step 2)
WRK_SECONDS = 5
if os.environ.get("BENCH_LOAD_QUICK"):  # a smoke test of the script, not figures
    POINTS, WARM_UP, WRK_SECONDS = [(1, 0.5), (10, 1.0), (50, 2.0)], 20, 1
    N_USERS = 10
    SPEC.update(payments=50, users=SPEC["users"][:N_USERS])


def main_config():
    conf = configparser.ConfigParser()
    conf.read(os.environ.get("BENCH_ODOO_CONF", "/opt/refund_proof/odoo.conf"))
    options = conf["options"]
    return {
        "host": options.get("db_host", "localhost"),
        "port": int(options.get("db_port", 5432)),
        "user": options.get("db_user", "odoo"),
        "password": options.get("db_password", ""),
        "data_dir": options.get("data_dir", "/opt/refund_proof/data"),
    }


def source(cfg, dbname):
    return dict(
        host=cfg["host"],
        port=cfg["port"],
        user=cfg["user"],
        password=cfg["password"],
        dbname=dbname,
        filestore=os.path.join(cfg["data_dir"], "filestore", dbname),
    )


# === SOURCES (standalone run) === #


def main_cnx(cfg):
    cnx = psycopg2.connect(
        host=cfg["host"],
        port=cfg["port"],
        user=cfg["user"],
        password=cfg["password"],
        dbname="postgres",
    )
    cnx.autocommit = True
    return cnx


def template_db():
    base_modules = subprocess.check_output(
        ["bash", "-c", f'source "{REPO_ROOT}/scripts/env.sh" && echo "$BASE_MODULES"'],
        text=True,
    )
    key = subprocess.check_output(
        [
            "bash",
            "-c",
            f'cat "{ODOO_SRC}/odoo/release.py" '
            f'"{ODOO_SRC}/addons/account_payment/__manifest__.py" '
            f'<(echo "{base_modules.strip()}") | sha256sum | cut -c1-10',
        ],
        text=True,
    ).strip()
    return f"refund_proof_tmpl_{key}"


def clone(cfg, template, target):
    """CREATE DATABASE target TEMPLATE template, and its filestore; retried while
    someone else is connected to the template (another run cloning it)."""
    cnx = main_cnx(cfg)
    try:
        cnx.cursor().execute(f'DROP DATABASE IF EXISTS "{target}"')
        for attempt in range(60):
            try:
                cnx.cursor().execute(
                    f'CREATE DATABASE "{target}" TEMPLATE "{template}"'
                )
                break
            except psycopg2.errors.ObjectInUse:
                if attempt == 59:
                    raise
                time.sleep(5)
    finally:
        cnx.close()
    store = os.path.join(cfg["data_dir"], "filestore")
    if os.path.isdir(os.path.join(store, template)):
        shutil.rmtree(os.path.join(store, target), ignore_errors=True)
        shutil.copytree(os.path.join(store, template), os.path.join(store, target))


def drop(cfg, dbname):
    cnx = main_cnx(cfg)
    try:
        cnx.cursor().execute(f'DROP DATABASE IF EXISTS "{dbname}"')
    finally:
        cnx.close()
    shutil.rmtree(
        os.path.join(cfg["data_dir"], "filestore", dbname), ignore_errors=True
    )


def make_sources(cfg, out):
    template = template_db()
    plain, proof = "rp_bench_load_plain", "rp_bench_load_proof"
    log(f"sources {plain} and {proof} from {template}")
    clone(cfg, template, plain)
    clone(cfg, template, proof)
    conf = os.environ.get("BENCH_ODOO_CONF", "/opt/refund_proof/odoo.conf")
    subprocess.run(
        [
            sys.executable, os.path.join(ODOO_SRC, "odoo-bin"), "-c", conf,
            "--addons-path", ADDONS, "-d", proof, "-i", "refund_proof",
            "--stop-after-init", "--http-port=0", "--log-level=warn",
            f"--logfile={out}/load-install.log",
        ],
        check=True,
    )  # fmt: skip
    return plain, proof


# === REFUNDS === #


def refund(rpc, server, tx_id, amount):
    """One Refund click over JSON-RPC: (latency in seconds, error or "")."""
    start = time.perf_counter()
    try:
        rpc.call(
            "payment.transaction",
            "action_refund",
            [[tx_id]],
            {"amount_to_refund": amount},
            server=server,
        )
        error = ""
    except KeyError:
        # Odoo leaves "result" out of a JSON-RPC answer whose result is None (plain
        # Odoo's action_refund returns None): a success (errors are raised before).
        error = ""
    except RpcError as exc:
        error = f"{exc.name}: {str(exc.message)[:120]}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    return time.perf_counter() - start, error


def plan(site, count, seed):
    """`count` requests: the payments in a new order, amounts 1.00-5.00, the users
    in turn."""
    rng = random.Random(seed)
    payments = [payment["id"] for payment in site.setup["payments"]]
    rng.shuffle(payments)
    logins = [user["login"] for user in site.setup["users"]]
    return [
        (logins[index % len(logins)], payments[index % len(payments)],
         round(rng.uniform(1.0, 5.0), 2))
        for index in range(count)
    ]  # fmt: skip


def run_point(site, servers, in_flight, count, seed):
    """Send the plan, `in_flight` at a time, round robin over `servers`: (wall time
    in seconds, latencies of the refunds made, errors)."""
    requests_ = plan(site, count, seed)

    def send(item):
        index, (login, tx_id, amount) = item
        return refund(site.rpcs[login], servers[index % len(servers)], tx_id, amount)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        results = list(pool.map(send, enumerate(requests_)))
    wall = time.perf_counter() - start
    latencies = [latency for latency, error in results if not error]
    errors = [error for _latency, error in results if error]
    return wall, latencies, errors


def listen_drops():
    """The machine's count of TCP connections dropped on a full listen queue
    (TcpExt ListenOverflows: the SYN is dropped, the client resends it 1 s later)."""
    with open("/proc/net/netstat") as netstat:
        lines = [line.split() for line in netstat if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1], strict=True))["ListenOverflows"])


def site_process_times(site):
    """(part, own, reaped) CPU seconds of each process of the site so far: `part` is
    `postgres` (the cluster's postmaster and backends) or `odoo` (the running
    servers' masters and workers), `own` its user + system time, `reaped` that of
    its children it has reaped (wkhtmltopdf, workers recycled, backends ended)."""
    with open(os.path.join(site.pg.datadir, "postmaster.pid")) as pidfile:
        roots = [("postgres", int(pidfile.readline()))]
    roots += [("odoo", server.process.pid) for server in site.servers if server.process]
    for part, root in roots:
        try:
            process = psutil.Process(root)
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            yield (
                part,
                times.user + times.system,
                times.children_user + times.children_system,
            )


def site_cpu(site):
    """CPU seconds (user + system) used so far by the site's processes: both Odoo
    servers (master, HTTP and cron workers) and its PostgreSQL cluster (postmaster and
    backends). Unlike throughput, it hardly depends on what else the machine runs."""
    return sum(own for _part, own, _reaped in site_process_times(site))


def run_window(site, servers, in_flight, seconds, seed):
    """`in_flight` clients, each sending its next refund as soon as the last one is
    answered, for `seconds`, round robin over `servers`. Counted: the refunds
    answered in the window's last three quarters (the first is the ramp-up; those
    still in flight at its end are answered, not counted). Return (refunds/s,
    latencies of the counted refunds, errors, listen-queue drops, CPU seconds of the
    site per refund answered in the whole round)."""
    rng = random.Random(seed)
    payments = [payment["id"] for payment in site.setup["payments"]]
    rng.shuffle(payments)
    logins = [user["login"] for user in site.setup["users"]]
    amounts = [round(rng.uniform(1.0, 5.0), 2) for _ in range(997)]
    counter = iter(range(10**9))
    lock = threading.Lock()
    done = []  # (end time, latency, error)
    start = time.perf_counter()
    deadline = start + seconds
    counted_from = start + seconds / 4

    def client():
        while time.perf_counter() < deadline:
            with lock:
                index = next(counter)
            latency, error = refund(
                site.rpcs[logins[index % len(logins)]],
                servers[index % len(servers)],
                payments[index % len(payments)],
                amounts[index % len(amounts)],
            )
            done.append((time.perf_counter(), latency, error))

    drops = listen_drops()
    cpu = site_cpu(site)
    threads = [threading.Thread(target=client) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drops = listen_drops() - drops
    cpu = (site_cpu(site) - cpu) / max(1, sum(1 for d in done if not d[2]))
    counted = [d for d in done if counted_from <= d[0] <= deadline]
    latencies = [latency for _end, latency, error in counted if not error]
    errors = [error for _end, _latency, error in done if error]
    return len(latencies) / (deadline - counted_from), latencies, errors, drops, cpu


def percentile(values, q):
    """The q-th percentile, nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def pause_crons(site):
    """Pause every cron of the site and wait for the running jobs to end: the
    deferred work (Odoo's post-processing of done transactions into payments every
    10 minutes, refund_proof's proof PDF and e-mail of each done refund) would
    otherwise run on the same two CPUs at moments of its own, in the middle of some
    points and not others."""
    site.query("UPDATE ir_cron SET active = false WHERE active RETURNING id")

    def idle():
        # Odoo holds a running job's ir_cron row locked until the job ends.
        cnx = site.pg.connect(site.dbname)
        try:
            cr = cnx.cursor()
            cr.execute("BEGIN")
            cr.execute("SELECT id FROM ir_cron FOR UPDATE SKIP LOCKED")
            free = len(cr.fetchall())
            cr.execute("SELECT count(*) FROM ir_cron")
            (total,) = cr.fetchone()
            cr.execute("ROLLBACK")
            return free == total
        finally:
            cnx.close()

    wait_for(idle, 300, interval=0.5, what="the cron jobs to finish")


# === PUBLIC PAGES === #

WRK_LUA = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
"""


def to_ms(text):
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def wrk_pair(site, paths, tmp, raw_path):
    """Two wrk processes at once, one per server, over `paths` in turn: (requests
    per second of both, p50 ms, p99 ms (the worse of the two), non-2xx)."""
    script = os.path.join(tmp, f"paths-{abs(hash(tuple(paths)))}.lua")
    with open(script, "w") as lua:
        lua.write(WRK_LUA % ", ".join(f'"{path}"' for path in paths))

    def run(server, seconds):
        return subprocess.run(
            ["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", "-s", script,
             server.url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def both(seconds):
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda s: run(s, seconds), site.servers))

    both(1)  # warm-up
    outputs = both(WRK_SECONDS)
    rps = p50 = p99 = 0.0
    bad = 0
    for out in outputs:
        for line in out.splitlines():
            words = line.split()
            if line.startswith("Requests/sec"):
                rps += float(words[1])
            elif words[:1] == ["50%"]:
                p50 = max(p50, to_ms(words[1]))
            elif words[:1] == ["99%"]:
                p99 = max(p99, to_ms(words[1]))
            elif "Non-2xx" in line:
                bad += int(words[-1])
    with open(raw_path, "a") as raw:
        raw.write(f"=== {paths[0]} ...\n" + "\n".join(outputs))
    return rps, p50, p99, bad


# === THE RUN === #


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def open_site(name, src, tmp):
    log(f"site {name}: copy of {src['dbname']}, two servers (load {loadavg()})")
    site = LoadSite(src, ADDONS)
    site.name = name
    start = time.monotonic()
    site.open(SPEC, n_servers=2, workers=4)
    # The restored database has no statistics yet: autovacuum would analyze it in
    # the middle of the points.
    cnx = site.pg.connect(site.dbname)
    try:
        cnx.cursor().execute("VACUUM ANALYZE")
    finally:
        cnx.close()
    log(f"site {name} open in {time.monotonic() - start:.0f} s")
    logins = [user["login"] for user in site.setup["users"]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        rpcs = list(pool.map(lambda login: site.sign_in([login]), logins))
    site.rpcs = {k: v for rpc in rpcs for k, v in rpc.items()}
    site.manager = site.sign_in(SPEC["managers"])["bench_manager"]
    log(f"site {name}: {len(site.rpcs)} signed in ({time.monotonic() - start:.0f} s)")
    return site


def warm_up(site):
    """WARM_UP refunds over both servers, 8 in flight: every worker runs the refund
    path once or more before the measures (registry and caches of the path)."""
    _wall, _lat, errors = run_point(site, site.servers, 8, WARM_UP, seed=0)
    if errors:
        raise RuntimeError(f"site {site.name}: warm-up refunds failed: {errors[:3]}")


def measure_refunds(sites):
    """Every point: ROUNDS rounds of the four cases (plain and proof, one and two
    servers), interleaved and in the reverse order every other round, so that what
    else the machine runs weighs on all four."""
    cases = [("plain", 1), ("proof", 1), ("proof", 2), ("plain", 2)]
    results = {}
    seed = 1
    for in_flight, seconds in POINTS:
        for name, n_servers in cases:
            results[name, n_servers, in_flight] = ([], [], [], 0, [])
        for turn in range(ROUNDS):
            for name, n_servers in cases if turn % 2 == 0 else cases[::-1]:
                site = sites[name]
                rps, latencies, errors, drops, cpu = run_window(
                    site, site.servers[:n_servers], in_flight, seconds, seed
                )
                seed += 1
                rounds, all_latencies, all_errors, all_drops, cpus = results[
                    name, n_servers, in_flight
                ]
                rounds.append(rps)
                all_latencies += latencies
                all_errors += errors
                cpus.append(cpu)
                results[name, n_servers, in_flight] = (
                    rounds,
                    all_latencies,
                    all_errors,
                    all_drops + drops,
                    cpus,
                )
        for name, n_servers in cases:
            rounds, latencies, errors, drops, cpus = results[name, n_servers, in_flight]
            log(
                f"{name} {n_servers} server(s) {in_flight} in flight: "
                f"{statistics.mean(rounds):.1f} refunds/s "
                f"({', '.join(f'{r:.1f}' for r in rounds)}), p50 "
                f"{percentile(latencies, 50) * 1000:.0f} ms, {len(errors)} errors, "
                f"{drops} listen drops, {statistics.median(cpus) * 1000:.0f} ms CPU "
                f"per refund (load {loadavg()})"
            )
    return results


def refund_figures(results):
    rps = {key: statistics.mean(value[0]) for key, value in results.items()}
    for (name, n_servers, in_flight), value in sorted(results.items()):
        rounds, latencies, errors, drops, _cpus = value
        note = (
            f"{len(latencies)} refunds counted, {n_servers} server(s), {in_flight} in "
            f"flight; p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 "
            f"{percentile(latencies, 99) * 1000:.0f} ms; mean of {len(rounds)} rounds "
            f"({', '.join(f'{r:.1f}' for r in rounds)}); {drops} listen-queue drops"
        )
        if errors:
            note += f"; {len(errors)} ERRORS, first: {errors[0]}"
        figure(
            f"load.{name}.s{n_servers}.f{in_flight}_rps",
            f"{rps[name, n_servers, in_flight]:.1f}",
            "refunds/s",
            note,
        )
    for n_servers in (1, 2):
        for in_flight, _seconds in POINTS:
            plain = results["plain", n_servers, in_flight]
            proof = results["proof", n_servers, in_flight]
            rps_plain = rps["plain", n_servers, in_flight]
            rps_proof = rps["proof", n_servers, in_flight]
            figure(
                f"load.ratio_proof_plain.s{n_servers}.f{in_flight}",
                f"{rps_proof / rps_plain:.2f}",
                "x",
                f"refunds/s refund_proof {rps_proof:.1f} / plain {rps_plain:.1f}; p50 "
                f"{percentile(proof[1], 50) * 1000:.0f} / "
                f"{percentile(plain[1], 50) * 1000:.0f} ms; no numeric target "
                "(the issue: measured against plain Odoo)",
            )
    cpu = {key: statistics.median(value[4]) for key, value in results.items()}
    for name in ("plain", "proof"):
        every = [
            c for key, value in results.items() if key[0] == name for c in value[4]
        ]
        figure(
            f"load.{name}.cpu_ms_per_refund",
            f"{statistics.median(every) * 1000:.0f}",
            "ms",
            "CPU of the site's Odoo servers and PostgreSQL per refund, median of every "
            "round; by point (s1/s2 x f"
            + "/".join(str(f) for f, _s in POINTS)
            + "): "
            + ", ".join(
                f"{cpu[name, n, f] * 1000:.0f}" for n in (1, 2) for f, _s in POINTS
            ),
        )
    proof_cpu = statistics.median(
        [c for key, value in results.items() if key[0] == "proof" for c in value[4]]
    )
    plain_cpu = statistics.median(
        [c for key, value in results.items() if key[0] == "plain" for c in value[4]]
    )
    figure(
        "load.ratio_proof_plain.cpu_per_refund",
        f"{proof_cpu / plain_cpu:.2f}",
        "x",
        "CPU per refund (Odoo + PostgreSQL), refund_proof / plain; no numeric target",
    )
    for name in ("plain", "proof"):
        for in_flight, _seconds in POINTS:
            one = rps[name, 1, in_flight]
            two = rps[name, 2, in_flight]
            figure(
                f"load.{name}.scaling_two_one.f{in_flight}",
                f"{two / one:.2f}",
                "x",
                f"refunds/s two servers {two:.1f} / one {one:.1f}, {in_flight} in "
                f"flight; no numeric target; {os.cpu_count()} CPUs for both",
            )


def measure_pages(site, tmp, out):
    refunds = site.manager.call(
        "payment.refund",
        "search_read",
        [[("state", "=", "done"), ("proof_ids", "!=", False)]],
        {"fields": ["verification_url", "access_token"], "limit": 20, "order": "id"},
    )
    if len(refunds) < 10:
        raise RuntimeError(f"only {len(refunds)} refunds with an issued proof")
    verify = [
        "/refund-proof/" + r["verification_url"].split("/refund-proof/", 1)[1]
        for r in refunds
    ]
    download = [
        f"/my/refunds/{r['id']}?access_token={r['access_token']}"
        "&report_type=pdf&download=true"
        for r in refunds
    ]
    server = site.servers[0].url
    for path in (verify[0], download[0]):
        response = requests.get(server + path, timeout=60, allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
    if not requests.get(server + download[0], timeout=60).content.startswith(b"%PDF"):
        raise RuntimeError("the portal download is not a PDF")
    pages = {
        "health": ["/web/health"],
        "verify": verify,
        "download": download,
        "login": ["/web/login"],
    }
    runs = {name: [] for name in pages}
    for name in ["health", "verify", "download", "login"] + [
        "login",
        "download",
        "verify",
        "health",
    ]:
        runs[name].append(
            wrk_pair(site, pages[name], tmp, os.path.join(out, "load-wrk-raw.txt"))
        )
        log(f"wrk {name}: {runs[name][-1][0]:.0f} req/s (load {loadavg()})")
    means = {}
    for name, label in (
        ("health", "/web/health"),
        ("verify", "verification page, 20 refunds in turn"),
        ("download", "portal download of the issued proof PDF, 20 refunds in turn"),
        ("login", "Odoo's /web/login page"),
    ):
        rps = statistics.mean(run[0] for run in runs[name])
        p50 = statistics.mean(run[1] for run in runs[name])
        p99 = statistics.mean(run[2] for run in runs[name])
        bad = sum(run[3] for run in runs[name])
        means[name] = rps
        figure(
            f"load.pages.{name}_rps",
            f"{rps:.0f}",
            "req/s",
            f"{label}; two servers, two wrk -t1 -c4 -d{WRK_SECONDS}s at once, mean of "
            f"{len(runs[name])} runs; p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            + (f"; NON-2XX: {bad}" if bad else ""),
        )
    figure(
        "load.pages.ratio_verify_health",
        f"{means['verify'] / means['health']:.2f}",
        "x",
        "verification / health; target >= 0.8 (figure 2's, one server): "
        + ("MET" if means["verify"] / means["health"] >= 0.8 else "MISSED"),
    )
    figure(
        "load.pages.ratio_verify_login",
        f"{means['verify'] / means['login']:.2f}",
        "x",
        "verification / login; no numeric target",
    )
    figure(
        "load.pages.ratio_download_login",
        f"{means['download'] / means['login']:.2f}",
        "x",
        "proof download / login; no numeric target",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", help="source database without refund_proof")
    parser.add_argument("--proof", help="source database with refund_proof")
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", "/tmp"))
    args = parser.parse_args()
    cfg = main_config()
    # wkhtmltopdf (Qt) complains without it, and Odoo logs that (as scripts/env.sh).
    runtime = os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "load-wrk-raw.txt"), "w"):
        pass  # the raw wrk output of this run
    made = ()
    if not (args.plain and args.proof):
        made = make_sources(cfg, args.out)
        args.plain, args.proof = made
    # The sites' directories in a directory of this script's own, not among the
    # load test's (/tmp/refund_proof_load_*) of other runs on the machine.
    tempfile.tempdir = os.path.join(tempfile.gettempdir(), "refund_proof_bench_load")
    os.makedirs(tempfile.tempdir, mode=0o755, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="wrk_")
    sites = {}
    started = time.monotonic()
    try:
        sites["plain"] = open_site("plain", source(cfg, args.plain), tmp)
        sites["proof"] = open_site("proof", source(cfg, args.proof), tmp)
        for site in sites.values():
            warm_up(site)
        start = time.monotonic()
        sites["proof"].settle(300)
        settled = time.monotonic() - start
        figure(
            "load.proof.mail_cron_drain",
            f"{settled:.1f}",
            "s",
            f"the proofs (PDF) and e-mails of the {WARM_UP} warm-up refunds, issued by "
            "the mail cron of both servers (one cron worker each), after the last "
            f"refund: {WARM_UP / settled:.1f} refunds/s; print_delay 0",
        )
        for site in sites.values():
            pause_crons(site)
        log(f"refunds, {POINTS} (in flight, seconds a round), one and two servers")
        refund_figures(measure_refunds(sites))
        log("public pages, two servers of the proof site")
        measure_pages(sites["proof"], tmp, args.out)
        problems = [
            f"{name}: {line}"
            for name, site in sites.items()
            for line in site.log_problems()
        ]
        figure(
            "load.server_log_problems",
            len(problems),
            "lines",
            "WARNING/ERROR lines of the four servers' logs (LoadSite.log_problems: "
            "beyond tests/log-allowlist.txt and retried serialization failures)"
            + (f"; first: {problems[0][:200]}" if problems else ""),
        )
        figure(
            "load.machine",
            os.cpu_count(),
            "CPUs",
            f"load average at the end {loadavg()}; run took "
            f"{time.monotonic() - started:.0f} s",
        )
    finally:
        for name, site in sites.items():
            keep = os.path.join(args.out, f"load-{name}")
            shutil.rmtree(keep, ignore_errors=True)
            os.makedirs(keep)
            for server in site.servers:
                if os.path.exists(server.logfile):
                    shutil.copy(server.logfile, keep)
            site.close()
        shutil.rmtree(tmp, ignore_errors=True)
        for dbname in made:
            drop(cfg, dbname)


if __name__ == "__main__":
    # A SIGTERM (run.sh's end, `timeout`) stops the sites too: SystemExit runs the
    # `finally` that closes them.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    main()
