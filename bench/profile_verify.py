"""Figure 2, explained: what one verification request costs inside Odoo, against
/web/health.

    $PY bench/profile_verify.py DB VERIFY_PATH [PROFILE_FILE]

No network and no load generator here: Odoo's WSGI application (`odoo.http.root`, the
object a server worker calls) is called in this process through werkzeug's test
client, one request after the other, with the server configuration of the wrk runs
(`-d DB`, no --db-filter). Every case below is requested WARMUP times (excluded),
then REQUESTS times in round-robin (one request of each case in turn, so that the
load of the machine affects them alike): median time per request and SQL queries per
request. Then, into PROFILE_FILE: the SQL queries of one verification request and a
cProfile of REQUESTS verification and /web/health requests.

Cases:
- `health`, `verify`: /web/health and the verification page of a done refund;
- `verify_unknown`: the same route and template with an unknown token (404, nothing
  read): the floor of the route;
- `login`: Odoo's own public QWeb page /web/login, for scale;
- `health_dbfilter`, `verify_dbfilter`: with --db-filter set, Odoo lists the databases
  of the PostgreSQL server on a new connection for every request without a session
  cookie.
"""

import cProfile
import io
import logging
import pstats
import statistics
import sys
import time

from lib import figure, init, log
from werkzeug.test import Client

import odoo
from odoo import sql_db
from odoo.tools import config

WARMUP = 20
REQUESTS = 150

dbname, verify_path = sys.argv[1], sys.argv[2]
profile_file = sys.argv[3] if len(sys.argv) > 3 else None

registry = init(dbname)
odoo.service.server.load_server_wide_modules()
client = Client(odoo.http.root)
HEALTH = "/web/health"
UNKNOWN = "/refund-proof/verify/" + "x" * 32 + "." + "0" * 32


def setting(dbfilter=""):
    def apply():
        config["dbfilter"] = dbfilter

    return apply


DBFILTER = f"^{dbname}$"
CASES = [  # name, path, setting, note
    ("health", HEALTH, setting(), "/web/health"),
    ("verify", verify_path, setting(), "verification page"),
    (
        "verify_unknown",
        UNKNOWN,
        setting(),
        "same route and template, unknown token (404)",
    ),
    ("login", "/web/login", setting(), "Odoo's /web/login page"),
    ("health_dbfilter", HEALTH, setting(dbfilter=DBFILTER), "/web/health, --db-filter"),
    (
        "verify_dbfilter",
        verify_path,
        setting(dbfilter=DBFILTER),
        "verification, --db-filter",
    ),
]


def one(path):
    response = client.get(path, headers={"Host": "127.0.0.1"})
    assert response.status_code == (404 if path == UNKNOWN else 200), (
        path,
        response.status_code,
    )
    return response


timings = {name: [] for name, *_ in CASES}
queries = {name: [] for name, *_ in CASES}
for round_ in range(WARMUP + REQUESTS):
    for name, path, apply, _note in CASES:
        apply()
        before = sql_db.sql_counter
        start = time.perf_counter()
        one(path)
        if round_ >= WARMUP:
            timings[name].append(time.perf_counter() - start)
            queries[name].append(sql_db.sql_counter - before)
setting()()  # back to the real code and configuration

ms = {name: statistics.median(values) * 1000 for name, values in timings.items()}
for name, _path, _apply, note in CASES:
    figure(
        f"verify.inprocess_{name}",
        f"{ms[name]:.1f}",
        "ms/request",
        f"{statistics.median(queries[name]):.0f} SQL queries/request, median of "
        f"{REQUESTS}; {note}",
    )
for name, what in (
    ("verify", "the page as it is"),
    ("verify_unknown", "404, nothing read"),
):
    figure(
        f"verify.inprocess_ratio_{name}",
        f"{ms['health'] / ms[name]:.2f}",
        "x",
        f"health time / {name} time ({what}): the throughput ratio of a CPU-bound "
        f"server",
    )

if profile_file:
    out = io.StringIO()
    # The SQL queries of one verification request (Odoo logs them at DEBUG level).
    statements = []
    handler = logging.Handler()
    handler.emit = lambda record: statements.append(record.getMessage())
    sql_logger = logging.getLogger("odoo.sql_db")
    level, propagate = sql_logger.level, sql_logger.propagate
    sql_logger.addHandler(handler)
    sql_logger.setLevel(logging.DEBUG)
    sql_logger.propagate = False
    one(verify_path)
    sql_logger.removeHandler(handler)
    sql_logger.setLevel(level)
    sql_logger.propagate = propagate
    out.write(f"=== SQL queries of one verification request ({verify_path}) ===\n")
    for statement in statements:
        if "query:" in statement:
            out.write(" ".join(statement.split())[:230] + "\n")
    for name, path in (("verify", verify_path), ("health", HEALTH)):
        profiler = cProfile.Profile()
        profiler.runcall(lambda path=path: [one(path) for _ in range(REQUESTS)])
        out.write(f"\n=== cProfile of {REQUESTS} requests of {name} ({path}) ===\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(12)
    with open(profile_file, "w") as f:
        f.write(out.getvalue())
    log(f"profile in {profile_file}")
