"""Figure 3a: SQL queries and time per refund, refund_proof against plain Odoo 18.

    $PY bench/bench_refund.py DB LABEL [K [QUERY_LOG]]

Both sides call `tx.action_refund(amount_to_refund=1.0)`, the Refund button of a
payment transaction (and what the account.payment Refund wizard calls): on a database
with refund_proof, it goes through the addon's one refund path (`_request_refund`); on
the template database without it (plain Odoo 18 with account_payment and
payment_demo), it is Odoo's own provider request (`_send_refund_request`). Same demo
provider, same data shape: a new paid transaction of PAYMENT_AMOUNT refunded K times
(default 50) by 1.00, so that the k-th refund runs with k-1 refunds already on the
transaction.

Each refund is measured like a request: ORM cache emptied before (`invalidate_all`;
the registry's ormcaches stay warm, as in a running server), pending writes flushed
and the pre-commit hooks run inside the measure (`cr.flush()`: the chatter's tracking
messages are written there), committed after. Queries are `cr.sql_log_count`
deltas. LABEL names the figures (plain, proof, proof_user, proof_100k...). With
refund_proof, `proof` runs as the superuser and `proof_user` as a "Refunds / User"
with a refund limit of 1,000,000 (the rights and limits checks a real back-office
user goes through). One warm-up refund of another transaction comes first (excluded:
first-use ormcache fills of the process).

QUERY_LOG, when given, receives the SQL of refund number LOGGED_K, one statement a
line with the function that issued it (the innermost frame of an addon: refund_proof
or Odoo's; else "odoo core"), followed by counts per statement kind and table and per
issuing function.
"""

import collections
import contextlib
import logging
import os
import re
import statistics
import sys
import time
import traceback

from lib import demo_provider, environment, figure, has_refund_proof, paid_transaction

from odoo import Command

PAYMENT_AMOUNT = 1000.0
REFUND_AMOUNT = 1.0
REPORTED_K = (1, 10, 50)
LOGGED_K = 10

dbname, label = sys.argv[1], sys.argv[2]
K = int(sys.argv[3]) if len(sys.argv) > 3 else 50
query_log = sys.argv[4] if len(sys.argv) > 4 else None


class SQLCapture(logging.Handler):
    """Collect the SQL statements Odoo logs at DEBUG level while active."""

    def __init__(self):
        super().__init__()
        self.statements = []
        self.logger = logging.getLogger("odoo.sql_db")

    def __enter__(self):
        self.saved = self.logger.level, self.logger.propagate
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]

    def emit(self, record):
        message = record.getMessage()
        if "query:" in message:
            sql = " ".join(message.split("query:", 1)[1].split())
            self.statements.append((origin(traceback.extract_stack()), sql))


ADDON_ROOTS = {
    f"{os.sep}refund_proof{os.sep}": "refund_proof/",
    os.path.join(os.environ.get("ODOO_SRC", "/opt/odoo/18.0"), "addons")
    + os.sep: "addons/",
}


def origin(stack):
    """The function that issued a query: the innermost frame of an addon
    (refund_proof or one of Odoo's addons: payment, payment_demo, account_payment,
    mail...), else "odoo core"."""
    for frame in reversed(stack):
        if f"{os.sep}bench{os.sep}" in frame.filename:
            continue
        for root, prefix in ADDON_ROOTS.items():
            if root in frame.filename:
                path = frame.filename.split(root, 1)[1]
                return f"{prefix}{path}:{frame.lineno} {frame.name}"
    return "odoo core"


def kind(statement):
    """'SELECT payment_refund', 'INSERT mail_message', 'SAVEPOINT' ..."""
    verb = statement.split(" ", 1)[0].upper()
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', statement, re.IGNORECASE)
    if match and verb in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
        return f"{verb} {match.group(1)}"
    return verb


def write_query_log(path, k, statements):
    with open(path, "w") as f:
        f.write(f"-- {label}: the SQL of refund number {k} ({len(statements)})\n")
        f.writelines(f"{sql[:160]}\n      <- {where}\n" for where, sql in statements)
        f.write("\n-- per kind and table\n")
        counts = collections.Counter(kind(sql) for _where, sql in statements)
        f.writelines(f"{n:3d} {what}\n" for what, n in counts.most_common())
        f.write("\n-- per issuing function\n")
        counts = collections.Counter(where for where, _sql in statements)
        f.writelines(f"{n:3d} {what}\n" for what, n in counts.most_common())


with environment(dbname) as env:
    proof = has_refund_proof(env)
    provider = demo_provider(env)
    tag = label.upper()
    tx = paid_transaction(env, provider, PAYMENT_AMOUNT, f"RFLOW-{tag}")
    if label.endswith("_user"):
        user = env["res.users"].create(
            {
                "name": f"Bench Refunder {tag}",
                "login": f"bench_refunder_{tag.lower()}",
                "refund_limit": 1_000_000,
                "groups_id": [
                    Command.set(
                        [
                            env.ref("base.group_user").id,
                            env.ref("refund_proof.group_refund_user").id,
                        ]
                    )
                ],
            }
        )
        tx = tx.with_user(user)
    warmup_tx = paid_transaction(env, provider, PAYMENT_AMOUNT, f"RFLOW-WARMUP-{tag}")
    env.cr.commit()

    def refund_once(source):
        # The Refund button of a payment transaction, on both sides.
        source.action_refund(amount_to_refund=REFUND_AMOUNT)

    def check_last_refund(source):
        """Outside the measure: the refund just made is done."""
        last = source.sudo().child_transaction_ids.sorted("id")[-1:]
        assert last.state == "done", last.state
        if proof:
            assert last.refund_id.state == "done", last.refund_id.state

    refund_once(warmup_tx.with_env(tx.env))  # warm-up, excluded
    check_last_refund(warmup_tx)
    env.flush_all()
    env.cr.commit()

    queries, timings = [], []
    for k in range(1, K + 1):
        env.invalidate_all()
        # The SQL log of refund LOGGED_K (its time, slowed by the stack captures, is one
        # sample of K: the medians are not affected).
        logged = query_log and k == LOGGED_K
        with SQLCapture() if logged else contextlib.nullcontext() as capture:
            before = env.cr.sql_log_count
            start = time.perf_counter()
            refund_once(tx)
            env.cr.flush()  # The ORM's pending writes, then the pre-commit hooks.
            timings.append(time.perf_counter() - start)
            queries.append(env.cr.sql_log_count - before)
        check_last_refund(tx)
        if logged:
            write_query_log(query_log, k, capture.statements)
        env.cr.commit()

    for k in REPORTED_K:
        if k <= K:
            figure(
                f"refund.{label}.queries_k{k}",
                queries[k - 1],
                "queries",
                f"the refund number {k} of one transaction",
            )
    first, last = timings[: min(10, K)], timings[-min(10, K) :]
    figure(
        f"refund.{label}.ms_first10",
        f"{statistics.median(first) * 1000:.1f}",
        "ms",
        "median time per refund, refunds 1-10",
    )
    if K > 10:
        figure(
            f"refund.{label}.ms_last10",
            f"{statistics.median(last) * 1000:.1f}",
            "ms",
            f"median time per refund, refunds {K - 9}-{K}",
        )
    figure(
        f"refund.{label}.ms_median",
        f"{statistics.median(timings) * 1000:.1f}",
        "ms",
        f"median time per refund over the {K}",
    )
    print(f"SERIES refund.{label}.queries {' '.join(map(str, queries))}")
