"""Figure 1: proof of refund rendering vs Odoo's payment receipt, per document.

    $PY bench/bench_report.py DB [PROFILE_FILE]

The proof is timed as the server issues it: `payment.refund._issue_proof` (what the
mail cron and its queue job do for each refund: the render, QWeb HTML then
wkhtmltopdf, and the storage of the issued PDF with its SHA-256), once per refund.
Printing a proof (`_render_qweb_pdf` of the proof report) serves the stored file
since proofs are documents, not renders: timing that would time a file read, not a
proof. The receipt is rendered by `ir.actions.report._render_qweb_pdf`. Both in the
same process, on the same database, with the same `report.url` (a running server of
DB serving the report CSS): N proofs of N done refunds against N receipts
(`account.action_report_payment_receipt`) of the N payments of the same transactions.

A proof is always issued alone (one refund, one call). A wkhtmltopdf built with
patched Qt renders the N receipts in one call. Debian's build (unpatched Qt, this
machine) refuses more than one input document ("does not support more than one input
document", exit 1), for every multi-record report, Odoo's own included. With it, both
reports are rendered the same way: one call per document, proof and receipt
alternated (proof 1, receipt 1, proof 2, ...), one wkhtmltopdf process per document
for both. The proof's storage (PDF and SHA-256) is part of its cost.

Odoo makes wkhtmltopdf wait `report.print_delay` ms (default 1000) for JavaScript on
every call; the renders run once with the default and once with 0, which shows the
rendering cost without that fixed wait. One warm-up render of each report is
excluded. The QWeb stage alone (`_render_qweb_html` of the N documents in one call,
median of 3) splits Python from wkhtmltopdf.
"""

import cProfile
import io
import pstats
import re
import statistics
import subprocess
import sys
import time

from lib import N_PAYMENTS, bench_transactions, environment, figure, log, timed

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

PROOF = "refund_proof.action_report_refund_proof"
RECEIPT = "account.action_report_payment_receipt"
TARGET_RATIO = 1.2
PROFILED_PROOFS = 5

dbname = sys.argv[1]
profile_file = sys.argv[2] if len(sys.argv) > 2 else None

with environment(dbname) as env:
    Report = env["ir.actions.report"]
    ICP = env["ir.config_parameter"]
    txs = bench_transactions(env)
    refunds = env["payment.refund"].search(
        [("source_transaction_id", "in", txs.ids), ("state", "=", "done")], order="id"
    )
    payments = txs.mapped("payment_id").sorted("id")
    assert len(refunds) == len(payments) == N_PAYMENTS, (len(refunds), len(payments))
    version = subprocess.run(
        [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True
    ).stdout.strip()
    one_call = "patched qt" in version
    mode = "one call of N docs" if one_call else "1 doc per call (unpatched Qt)"
    log(f"report.url = {ICP.get_param('report.url')}; {version}: {mode}")

    def render_pdf(report, ids):
        """Render `ids` as a PDF; return the number of pages."""
        content, kind = Report._render_qweb_pdf(report, ids)
        assert kind == "pdf" and content.startswith(b"%PDF"), kind
        return len(re.findall(rb"/Type\s*/Page\b", content))

    Refund = env["payment.refund"].with_context(force_report_rendering=True)

    def issue_proof(refund_id):
        """Issue the proof of the refund (render and store, as the mail cron and its
        queue job do); return the issued proof."""
        return Refund.browse(refund_id)._issue_proof()

    def proof_pages(proof):
        content = proof.attachment_id.raw
        assert content.startswith(b"%PDF"), proof
        return len(re.findall(rb"/Type\s*/Page\b", content))

    # Time spent in wkhtmltopdf (the subprocess), to split it from Odoo's Python work.
    report_class = type(Report)
    run_wkhtmltopdf = report_class._run_wkhtmltopdf
    in_wkhtmltopdf = [0.0]

    def timed_run_wkhtmltopdf(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return run_wkhtmltopdf(self, *args, **kwargs)
        finally:
            in_wkhtmltopdf[0] += time.perf_counter() - start

    report_class._run_wkhtmltopdf = timed_run_wkhtmltopdf

    def timed_document(make):
        """Time `make()` (one document, or N receipts) as a whole and in
        wkhtmltopdf."""
        env.invalidate_all()
        start, in_wkhtmltopdf[0] = time.perf_counter(), 0.0
        result = make()
        return result, time.perf_counter() - start, in_wkhtmltopdf[0]

    def per_document_times():
        """{report: [seconds per document]} for the N proof issues and N receipts,
        and {report_wk: [seconds in wkhtmltopdf per document]}."""
        times = {"proof": [], "receipt": [], "proof_wk": [], "receipt_wk": []}
        pages = {"proof": 0, "receipt": 0}

        def proof(refund_id):
            issued, seconds, wk = timed_document(lambda: issue_proof(refund_id))
            pages["proof"] += proof_pages(issued)
            times["proof"].append(seconds)
            times["proof_wk"].append(wk)

        def receipts(ids):
            count, seconds, wk = timed_document(lambda: render_pdf(RECEIPT, ids))
            pages["receipt"] += count
            times["receipt"].append(seconds / len(ids))
            times["receipt_wk"].append(wk / len(ids))

        if one_call:  # The receipts in one call; a proof is always issued alone.
            for refund_id in refunds.ids:
                proof(refund_id)
            receipts(payments.ids)
        else:
            for refund_id, payment_id in zip(refunds.ids, payments.ids, strict=True):
                proof(refund_id)
                receipts([payment_id])
        assert pages == {"proof": N_PAYMENTS, "receipt": N_PAYMENTS}, pages
        return times

    issue_proof(refunds[:1].id)  # warm-up (asset bundles, QWeb compilation)
    render_pdf(RECEIPT, payments[:1].ids)

    for delay in ("1000", "0"):
        ICP.set_param("report.print_delay", delay)
        times = per_document_times()
        proof_ms = statistics.median(times["proof"]) * 1000
        receipt_ms = statistics.median(times["receipt"]) * 1000
        ratio = proof_ms / receipt_ms
        suffix = "" if delay == "1000" else "_nodelay"
        what = (
            "Odoo default report.print_delay=1000"
            if delay == "1000"
            else "report.print_delay=0"
        )
        figure(
            f"report.proof_issue_per_doc{suffix}",
            f"{proof_ms:.0f}",
            "ms",
            f"proof issued (render + store, _issue_proof), median of N={N_PAYMENTS}, "
            f"1 proof per call, {what}",
        )
        figure(
            f"report.receipt_pdf_per_doc{suffix}",
            f"{receipt_ms:.0f}",
            "ms",
            f"median of N={N_PAYMENTS}, {mode}, {what}",
        )
        figure(
            f"report.proof_vs_receipt{suffix}",
            f"{ratio:.2f}",
            "x",
            f"target <= {TARGET_RATIO}: {'MET' if ratio <= TARGET_RATIO else 'MISSED'}",
        )
        for name in ("proof", "receipt"):
            wk_ms = statistics.median(times[f"{name}_wk"]) * 1000
            rest_ms = (
                statistics.median(
                    [
                        a - b
                        for a, b in zip(times[name], times[f"{name}_wk"], strict=True)
                    ]
                )
                * 1000
            )
            figure(
                f"report.{name}_split{suffix}",
                f"{wk_ms:.0f} + {rest_ms:.0f}",
                "ms",
                "median in wkhtmltopdf + median in Odoo (QWeb, PDF post-processing"
                + (", proof storage)" if name == "proof" else ")"),
            )

    # The QWeb stage alone, N documents in one call (no wkhtmltopdf).
    for name, report, ids in (
        ("proof", PROOF, refunds.ids),
        ("receipt", RECEIPT, payments.ids),
    ):
        Report._render_qweb_html(report, ids)  # warm-up
        env.invalidate_all()
        before = env.cr.sql_log_count
        Report._render_qweb_html(report, ids)
        queries = env.cr.sql_log_count - before

        def html(report=report, ids=ids):
            env.invalidate_all()
            Report._render_qweb_html(report, ids)

        seconds, _all = timed(html, 3)
        figure(
            f"report.{name}_html_per_doc",
            f"{seconds / N_PAYMENTS * 1000:.1f}",
            "ms",
            f"QWeb stage only, {queries / N_PAYMENTS:.1f} queries/doc (cold ORM cache)",
        )

    if profile_file:  # where the time of a proof goes (print_delay still 0)
        profiler = cProfile.Profile()
        env.invalidate_all()
        profiler.runcall(
            lambda: [issue_proof(i) for i in refunds[:PROFILED_PROOFS].ids]
        )
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        out.write(
            f"cProfile of {PROFILED_PROOFS} proof issues (_issue_proof), "
            "report.print_delay=0\n"
        )
        stats.print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        with open(profile_file, "w") as f:
            f.write(out.getvalue())
        log(f"profile in {profile_file}")
    env.cr.rollback()  # nothing to keep (print_delay and the stored proofs included)
