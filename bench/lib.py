"""Shared helpers of the benchmark scripts: an Odoo environment on a database,
outside `odoo shell`, and the demo data every benchmark uses.

Every script is run as `$PY bench/<script>.py <database> [...]` by bench/run.sh, with
BENCH_ODOO_CONF and BENCH_ADDONS in the environment, and testkit/ (the library
refund_proof_testkit, shared with the tests) on PYTHONPATH (scripts/env.sh).
"""

import os
import statistics
import sys
import time
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

# The demo provider and paid transactions of the tests serve the benchmarks too.
from refund_proof_testkit.demo_payments import (  # noqa: F401
    demo_provider,
    paid_transaction,
)

# Demo data of the benchmarks: fixed, so that every run measures the same thing.
N_PAYMENTS = 20  # paid demo transactions (and their account.payment)
PAYMENT_AMOUNT = 129.90
PROOF_REFUND_AMOUNT = 49.90
TX_PREFIX = "BENCH"  # references BENCH-1 ... BENCH-20
# A valid (Luhn) 23-digit ARN; the ones of the bulk rows are random and need not be
# valid.
SAMPLE_ARN = "74612345678901234567893"


def init(dbname):
    """Load Odoo's configuration: the project's odoo.conf, the bench's addons path."""
    config.parse_config(
        [
            "-c",
            os.environ.get("BENCH_ODOO_CONF", "/opt/refund_proof/odoo.conf"),
            "--addons-path",
            os.environ["BENCH_ADDONS"],
            "-d",
            dbname,
            "--log-level",
            os.environ.get("BENCH_LOG_LEVEL", "warn"),
            "--max-cron-threads",
            "0",
        ],
        setup_logging=True,
    )
    return Registry(dbname)


@contextmanager
def environment(dbname, uid=SUPERUSER_ID):
    """Superuser environment on a cursor of `dbname`, committed on success."""
    registry = init(dbname)
    with registry.cursor() as cr:
        yield api.Environment(cr, uid, {})


def has_refund_proof(env):
    return "payment.refund" in env


def bench_transactions(env):
    return env["payment.transaction"].search(
        [("reference", "=like", f"{TX_PREFIX}-%"), ("operation", "!=", "refund")],
        order="id",
    )


def timed(fn, repeat):
    """Run fn() `repeat` times: (median seconds, all timings). No warm-up."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


def figure(name, value, unit="", note=""):
    """Print `FIGURE <name> = <value> <unit>  # note` (parsed by run.sh)."""
    line = f"FIGURE {name} = {value} {unit}".rstrip()
    if note:
        line += f"  # {note}"
    print(line, flush=True)


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)
