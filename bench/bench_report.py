"""Figure 1: proof of refund rendering vs Odoo's payment receipt, per document.

    $PY bench/bench_report.py DB [PROFILE_FILE]

Both reports are rendered as real PDFs by `ir.actions.report._render_qweb_pdf` (QWeb HTML,
then wkhtmltopdf), in the same process, on the same database, with the same `report.url` (a
running server of DB serving the report CSS): N proofs of N done refunds against N receipts
of the N payments of the same transactions.

A wkhtmltopdf built with patched Qt renders the N documents in one call. Debian's build
(unpatched Qt) refuses more than one input document ("does not support more than one input
document", exit 1): for every multi-record report, Odoo's own included. With it, both reports
are rendered the same way instead: N calls of one document each (one wkhtmltopdf process per
document for both; for the proof, each call also stores the issued PDF with its SHA-256, as
the addon does for every single proof printed).

One warm-up render of each is excluded; then REPEAT alternated renders, median kept.
The HTML stage alone (`_render_qweb_html`, one call of N documents) is timed too, to split
Python from wkhtmltopdf.
"""

import cProfile
import io
import pstats
import re
import subprocess
import sys

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

from lib import N_PAYMENTS, bench_transactions, environment, figure, log, timed

PROOF = "refund_proof.action_report_refund_proof"
RECEIPT = "account.action_report_payment_receipt"
REPEAT = 3
TARGET_RATIO = 1.2

dbname = sys.argv[1]
profile_file = sys.argv[2] if len(sys.argv) > 2 else None

with environment(dbname) as env:
    Report = env["ir.actions.report"]
    txs = bench_transactions(env)
    refunds = env["payment.refund"].search(
        [("source_transaction_id", "in", txs.ids), ("state", "=", "done")], order="id"
    )
    payments = txs.mapped("payment_id").sorted("id")
    assert len(refunds) == len(payments) == N_PAYMENTS, (len(refunds), len(payments))
    log(f"report.url = {env['ir.config_parameter'].get_param('report.url')}")

    version = subprocess.run(
        [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True,
    ).stdout.strip()
    one_call = "patched qt" in version
    mode = "one call of N documents" if one_call else "N calls of 1 document (unpatched Qt)"
    log(f"{version}: {mode}")

    def pdf(report, ids):
        def render():
            render.pages = 0
            for batch in ([ids] if one_call else [[i] for i in ids]):
                content, kind = Report._render_qweb_pdf(report, batch)
                assert kind == "pdf" and content.startswith(b"%PDF"), kind
                render.pages += len(re.findall(rb"/Type\s*/Page\b", content))
        return render

    def html(report, ids):
        return lambda: Report._render_qweb_html(report, ids)

    def queries(fn):
        env.invalidate_all()
        before = env.cr.sql_log_count
        fn()
        return env.cr.sql_log_count - before

    proof_pdf, receipt_pdf = pdf(PROOF, refunds.ids), pdf(RECEIPT, payments.ids)
    proof_html, receipt_html = html(PROOF, refunds.ids), html(RECEIPT, payments.ids)
    for fn in (proof_pdf, receipt_pdf, proof_html, receipt_html):  # warm-up, not counted
        fn()
    assert proof_pdf.pages == receipt_pdf.pages == N_PAYMENTS, (proof_pdf.pages, receipt_pdf.pages)

    results = {}
    for _round in range(REPEAT):  # alternate, so that drift affects both alike
        for name, fn in (("proof", proof_pdf), ("receipt", receipt_pdf),
                         ("proof_html", proof_html), ("receipt_html", receipt_html)):
            env.invalidate_all()
            results.setdefault(name, []).append(timed(fn, 1)[0])
    med = {name: sorted(values)[len(values) // 2] for name, values in results.items()}
    per_doc = {name: value / N_PAYMENTS * 1000 for name, value in med.items()}
    q_proof, q_receipt = queries(proof_html), queries(receipt_html)
    ratio = per_doc["proof"] / per_doc["receipt"]

    figure("report.proof_pdf_per_doc", f"{per_doc['proof']:.1f}", "ms",
           f"N={N_PAYMENTS} proofs, {mode}, median of {REPEAT}")
    figure("report.receipt_pdf_per_doc", f"{per_doc['receipt']:.1f}", "ms",
           f"N={N_PAYMENTS} account.payment receipts, {mode}, median of {REPEAT}")
    figure("report.proof_vs_receipt_ratio", f"{ratio:.2f}", "x",
           f"target <= {TARGET_RATIO} -> {'MET' if ratio <= TARGET_RATIO else 'MISSED'}")
    figure("report.proof_html_per_doc", f"{per_doc['proof_html']:.1f}", "ms", "QWeb stage only")
    figure("report.receipt_html_per_doc", f"{per_doc['receipt_html']:.1f}", "ms",
           "QWeb stage only")
    figure("report.proof_queries_per_doc", f"{q_proof / N_PAYMENTS:.1f}", "queries",
           "QWeb stage, cold cache")
    figure("report.receipt_queries_per_doc", f"{q_receipt / N_PAYMENTS:.1f}", "queries",
           "QWeb stage, cold cache")

    if profile_file:  # cProfile of one proof PDF render: where the time goes
        profiler = cProfile.Profile()
        env.invalidate_all()
        profiler.runcall(proof_pdf)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(35)
        out.write("\n--- by internal time ---\n")
        stats.sort_stats("tottime").print_stats(20)
        with open(profile_file, "w") as f:
            f.write(out.getvalue())
        log(f"profile of one {N_PAYMENTS}-proof render in {profile_file}")
    env.cr.rollback()  # nothing to keep
