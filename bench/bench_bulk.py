"""Figure 3b: searches with 100,000 refunds in the database.

    $PY bench/bench_bulk.py DB [EXPLAIN_FILE]

Bulk data, inserted with SQL (INSERT ... SELECT over generate_series, seeded random
values, so every run inserts the same rows), copying a real row of each table for the
columns not set:
- CUSTOMERS customers (res.partner) with one paid demo transaction each;
- REFUNDS refunds (payment.refund) of those transactions: every 50th one on customer 1
(a "heavy" customer with 2,000 refunds), the others spread over the other customers
(about 5 each); 90 % done (each with a random 23-digit ARN), 4 % pending, 3 % failed,
2 % cancelled, 1 % awaiting approval; requested over the last year. Then ANALYZE, as
autovacuum would.

Measured through the ORM (`search`, the SQL the back office and the portal run),
median of REPEAT runs after a warm-up, as a "Refunds / User" (back office) and as
portal users:
- ARN exact search: [('arn', '=', arn)];
- ARN partial search, as the search view's ARN field does: [('arn', 'ilike', 8 digits)],
limited to 80 rows like the list view;
- portal list: [('state', 'in', ('pending', 'done'))] ordered by request_date desc, id
desc, limit 20, as the portal user of the heavy customer and of a typical customer (the
record rule adds partner_id child_of the customer); and the same as an explicit domain
[('partner_id', '=', customer)] by the back-office user. EXPLAIN (ANALYZE, BUFFERS) of
each search goes to EXPLAIN_FILE.

Experiment, for the explanation (the addon is not changed): the partial ARN search
again after creating, in this database only, the index `index="trigram"` on the field
would create (GIN, gin_trgm_ops, like the one of `name`).
"""

import statistics
import sys
import time

from lib import bench_transactions, environment, figure, log

from odoo import Command

CUSTOMERS = 20_000
REFUNDS = 100_000
HEAVY_EVERY = 50
REPEAT = 20
TARGET_MS = 50

dbname = sys.argv[1]
explain_file = sys.argv[2] if len(sys.argv) > 2 else None


def columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND column_name != 'id' ORDER BY ordinal_position",
        (table,),
    )
    return [name for (name,) in cr.fetchall()]


def copy_rows(cr, table, template_id, source, overrides):
    """INSERT a copy of row `template_id` of `table` per row of `source` (SQL, which
    defines g), with the SQL expressions of `overrides` for some columns."""
    cols = columns(cr, table)
    names = ", ".join(f'"{c}"' for c in cols)
    select = ", ".join(overrides.get(c, f't."{c}"') for c in cols)
    cr.execute(
        f'INSERT INTO "{table}" ({names}) '
        f'SELECT {select} FROM "{table}" t JOIN {source} ON t.id = %s',
        (template_id,),
    )


with environment(dbname) as env:
    cr = env.cr
    template_tx = bench_transactions(env)[:1]
    start = time.perf_counter()
    cr.execute("SELECT setseed(0.42)")
    # Customers BULK-1..N, each its own commercial partner.
    copy_rows(
        cr,
        "res_partner",
        template_tx.partner_id.id,
        f"generate_series(1, {CUSTOMERS}) g",
        {
            "name": "'Bulk customer ' || g",
            "complete_name": "'Bulk customer ' || g",
            "ref": "'BULK-' || g",
            "email": "'bulk' || g || '@customer.example'",
            "email_normalized": "'bulk' || g || '@customer.example'",
        },
    )
    cr.execute(
        "UPDATE res_partner SET commercial_partner_id = id WHERE ref LIKE 'BULK-%%'"
    )
    # One paid transaction per customer, reference BULK-<g> as the customer's.
    customers = (
        "(SELECT id AS partner_id, substr(ref, 6)::int AS g FROM res_partner "
        "WHERE ref LIKE 'BULK-%%') p"
    )
    copy_rows(
        cr,
        "payment_transaction",
        template_tx.id,
        customers,
        {
            "reference": "'BULK-' || g",
            "partner_id": "p.partner_id",
            "partner_name": "'Bulk customer ' || g",
            "amount": "1000.0",
            "refunded_amount": "0",
            "refund_status": "'none'",
            "payment_id": "NULL",
        },
    )
    # The refunds. A random ARN of 23 digits (12 + 11), not Luhn-valid: never validated
    # here.
    cr.execute(
        f"""
        INSERT INTO payment_refund (
            source_transaction_id, currency_id, company_id, partner_id, provider_id,
            requested_by_id, create_uid, write_uid, name, state, origin, amount, arn,
            arn_type,
            verification_key, request_date, refund_date, create_date, write_date,
            is_rejected)
        SELECT tx.id, tx.currency_id, tx.company_id, tx.partner_id, tx.provider_id,
               2, 2, 2, 'RBULK/' || lpad(g::text, 6, '0'), s.state, 'odoo', 1.0,
               CASE WHEN s.state = 'done' THEN s.arn END,
               CASE WHEN s.state = 'done' THEN 'arn' END,
               md5('bulk' || g), s.requested, s.requested + interval '2 hours',
               s.requested, s.requested, false
        FROM generate_series(1, %s) g
        CROSS JOIN LATERAL (SELECT
            CASE WHEN r < 0.90 THEN 'done' WHEN r < 0.94 THEN 'pending'
                 WHEN r < 0.97 THEN 'failed' WHEN r < 0.99 THEN 'cancelled'
                 ELSE 'to_approve' END AS state,
            lpad(floor(a * 1e12)::bigint::text, 12, '0')
                || lpad(floor(b * 1e11)::bigint::text, 11, '0') AS arn,
            (now() AT TIME ZONE 'UTC') - g * interval '5 minutes' AS requested
            FROM (SELECT random() + 0 * g AS r, random() + 0 * g AS a,
                         random() + 0 * g AS b) x) s
        JOIN payment_transaction tx ON tx.reference = 'BULK-' || CASE
            WHEN g %% {HEAVY_EVERY} = 0 THEN 1 ELSE 2 + g %% ({CUSTOMERS} - 1) END
    """,
        (REFUNDS,),
    )
    cr.execute(
        "ANALYZE res_partner; ANALYZE payment_transaction; ANALYZE payment_refund"
    )
    cr.execute("SELECT count(*) FROM payment_refund")
    total = cr.fetchone()[0]
    figure(
        "bulk.refunds_in_db",
        total,
        "refunds",
        f"{CUSTOMERS} customers, inserted in {time.perf_counter() - start:.1f} s",
    )

    # The users who search: a back-office refund user, and portal users of two
    # customers.
    office = env["res.users"].create(
        {
            "name": "Bench Support",
            "login": "bench_support",
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
    heavy, typical = env["res.partner"].search(
        [("ref", "in", ("BULK-1", "BULK-2"))], order="id"
    )
    portal_users = {
        name: env["res.users"].create(
            {
                "name": partner.name,
                "login": f"bench_portal_{name}",
                "partner_id": partner.id,
                "groups_id": [Command.set([env.ref("base.group_portal").id])],
            }
        )
        for name, partner in (("heavy", heavy), ("typical", typical))
    }
    env.flush_all()

    # An ARN of the middle of the table, and 8 of its digits for the partial search.
    cr.execute(
        "SELECT arn FROM payment_refund WHERE name >= 'RBULK/054321' AND arn IS NOT "
        "NULL "
        "ORDER BY name LIMIT 1"
    )
    arn = cr.fetchone()[0]
    part = arn[7:15]
    portal_order = (
        "request_date desc, id desc"  # the portal's default sorting ("Newest")
    )
    searches = [
        # (figure name, user, domain, search options, note)
        ("arn_exact", office, [("arn", "=", arn)], {}, "[('arn', '=', <23 digits>)]"),
        (
            "arn_ilike",
            office,
            [("arn", "ilike", part)],
            {"limit": 80},
            f"[('arn', 'ilike', '{part}')], limit 80",
        ),
        (
            "portal_heavy",
            portal_users["heavy"],
            [("state", "in", ("pending", "done"))],
            {"order": portal_order, "limit": 20},
            "portal user, 2,000 refunds, limit 20",
        ),
        (
            "portal_typical",
            portal_users["typical"],
            [("state", "in", ("pending", "done"))],
            {"order": portal_order, "limit": 20},
            "portal user, ~5 refunds, limit 20",
        ),
        (
            "partner_list_heavy",
            office,
            [("partner_id", "=", heavy.id), ("state", "in", ("pending", "done"))],
            {"order": portal_order, "limit": 20},
            "back office, explicit partner, limit 20",
        ),
    ]
    explains = []

    def measure(name, user, domain, options, note):
        Refund = env["payment.refund"].with_user(user)
        found = Refund.search(
            domain, **options
        )  # warm-up (and the result checked below)
        timings = []
        for _ in range(REPEAT):
            env.invalidate_all()
            start = time.perf_counter()
            _ids = Refund.search(
                domain, **options
            ).ids  # fetch the ids, as a list view does
            timings.append(time.perf_counter() - start)
        ms = statistics.median(timings) * 1000
        verdict = ""
        if name.startswith("arn"):
            verdict = (
                f"; target < {TARGET_MS} ms: {'MET' if ms < TARGET_MS else 'MISSED'}"
            )
        figure(
            f"bulk.search_{name}",
            f"{ms:.2f}",
            "ms",
            f"{note}, {len(found)} found{verdict}",
        )
        query = Refund._search(
            domain, order=options.get("order"), limit=options.get("limit")
        )
        code = query.select()
        cr.execute(f"EXPLAIN (ANALYZE, BUFFERS) {code.code}", code.params)
        plan = "\n".join(row for (row,) in cr.fetchall())
        sql = cr.mogrify(code.code, code.params).decode()
        explains.append(
            f"=== {name}: {domain} {options} as {user.login}\n{sql}\n{plan}\n"
        )

    for search in searches:
        measure(*search)
    # Committed before and after: an index created in the transaction that updated rows
    # of the table may not be usable by that same transaction (pg_index.indcheckxmin).
    cr.commit()
    cr.execute(
        "CREATE INDEX payment_refund__arn_trgm_bench ON payment_refund "
        "USING gin (arn gin_trgm_ops)"
    )
    cr.execute("ANALYZE payment_refund")
    cr.commit()
    measure("arn_ilike_trigram_experiment", *searches[1][1:])
    cr.execute(
        "DROP INDEX payment_refund__arn_trgm_bench"
    )  # the bulk data stays, not this
    if explain_file:
        with open(explain_file, "w") as f:
            f.write("\n".join(explains))
        log(f"query plans in {explain_file}")
