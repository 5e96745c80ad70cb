"""Create the benchmarks' demo data in a database, committed.

    $PY bench/setup_data.py DB [REPORT_URL]

- N_PAYMENTS paid demo transactions BENCH-1..N (one new customer each), post-processed
as Odoo's cron does (`_post_process`), which creates and posts their `account.payment`;
- with refund_proof installed: one done refund of each, with an ARN
(the proofs to print);
- prints `VERIFY_PATH <path>`: the verification page of the first refund;
- REPORT_URL, when given, becomes the `report.url` system parameter: the address
wkhtmltopdf fetches the report CSS from (a running server of this database).
"""

import sys

from lib import (
    N_PAYMENTS,
    PAYMENT_AMOUNT,
    PROOF_REFUND_AMOUNT,
    SAMPLE_ARN,
    TX_PREFIX,
    bench_transactions,
    demo_provider,
    environment,
    has_refund_proof,
    log,
    paid_transaction,
)

dbname = sys.argv[1]
report_url = sys.argv[2] if len(sys.argv) > 2 else None

with environment(dbname) as env:
    company = env.company
    provider = demo_provider(env)
    if report_url:
        env["ir.config_parameter"].set_param("report.url", report_url)
    if not bench_transactions(env):
        txs = env["payment.transaction"]
        for i in range(1, N_PAYMENTS + 1):
            txs |= paid_transaction(env, provider, PAYMENT_AMOUNT, f"{TX_PREFIX}-{i}")
        txs._post_process()  # creates and posts tx.payment_id, as the post-processing
        # cron
        assert all(txs.mapped("payment_id")), (
            "post-processing created no account.payment"
        )
        if has_refund_proof(env):
            company.write(
                {
                    "refund_statement_descriptor": "MYSHOP.EXAMPLE",
                    "refund_support_email": "help@myshop.example",
                    "refund_support_url": "https://myshop.example/contact",
                }
            )
            reason = env.ref("refund_proof.reason_product_returned")
            for tx in txs:
                refund = tx._request_refund(
                    amount_to_refund=PROOF_REFUND_AMOUNT,
                    reason=reason,
                    arn=SAMPLE_ARN,
                )
                assert refund.state == "done", refund.state
        log(f"{dbname}: {len(txs)} paid transactions and payments created")
    if has_refund_proof(
        env
    ):  # the page the verification benchmark loads (run.sh reads it)
        refund = env["payment.refund"].search(
            [("source_transaction_id", "in", bench_transactions(env).ids)],
            order="id",
            limit=1,
        )
        print(f"VERIFY_PATH /refund-proof/verify/{refund._get_verification_token()}")
