"""Take the README's screenshots from a running `make run` server (headless Chromium).

Usage: $VENV/bin/python scripts/screenshots.py [URL] [DATABASE] [NAME.png...]
(default http://localhost:8069 and refund_proof_demo; every screenshot, or the ones
named).

The running bulk refund (refund-batch-running.png) is the demo's, whose last lines stay
queued until a job runner runs them: take it from a fresh demo database served without
queue_job's runner, `RESET=1 scripts/run.sh --load=web` (the last --load wins).

Logs in through /web/session/authenticate (admin, refund_proof_customer), passes the
session cookie to Chromium over the DevTools protocol, and writes PNG files into docs/.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import requests
import websocket

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8069"
DB = sys.argv[2] if len(sys.argv) > 2 else "refund_proof_demo"
DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")
ONLY = set(sys.argv[3:])


def session(login):
    s = requests.Session()
    r = s.post(
        f"{BASE}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "params": {"db": DB, "login": login, "password": login},
        },
        timeout=30,
    )
    r.raise_for_status()
    return s


def rpc(s, model, method, *args, **kw):
    r = s.post(
        f"{BASE}/web/dataset/call_kw",
        json={
            "jsonrpc": "2.0",
            "params": {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kw,
            },
        },
        timeout=30,
    )
    return r.json()["result"]


class Chrome:
    def __init__(self, width, height):
        self.dir = tempfile.mkdtemp()
        self.proc = subprocess.Popen(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-sync",
                "--disable-component-update",
                f"--user-data-dir={self.dir}",
                "--remote-debugging-port=9333",
                f"--window-size={width},{height}",
                "--hide-scrollbars",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                tabs = requests.get("http://127.0.0.1:9333/json", timeout=1).json()
                break
            except requests.RequestException:
                time.sleep(0.2)
        page = next(t for t in tabs if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.id = 0

    def send(self, method, **params):
        self.id += 1
        self.ws.send(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.id:
                return msg.get("result", {})

    def shot(
        self,
        url,
        name,
        cookie=None,
        ready=".o_view_controller, main, .card",
        click=None,
    ):
        if ONLY and os.path.basename(name) not in ONLY:
            return
        if cookie:
            self.send("Network.enable")
            self.send("Network.setCookie", name="session_id", value=cookie, url=BASE)
        self.send("Page.navigate", url=url)
        # Wait until the page shows its content (the web client's first load compiles
        # its assets), then let it settle.
        for _ in range(120):
            time.sleep(0.5)
            found = self.send(
                "Runtime.evaluate",
                expression=(
                    f"!!document.querySelector({json.dumps(ready)}) && "
                    "!document.querySelector('.o_loading_indicator, .o_blockUI')"
                ),
            )
            if found.get("result", {}).get("value"):
                break
        if click:  # e.g. a tab of the form
            self.send(
                "Runtime.evaluate",
                expression=f"document.querySelector({json.dumps(click)}).click()",
            )
        time.sleep(1.5)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(os.path.join(DOCS, name), "wb") as f:
            f.write(base64.b64decode(data))
        print("wrote", name)

    def close(self):
        self.proc.terminate()


def main():
    admin = session("admin")
    refunds = rpc(
        admin, "payment.refund", "search_read", [], ["name", "state", "arn"], order="id"
    )
    done = next(r for r in refunds if r["state"] == "done" and r["arn"])
    dispute = rpc(admin, "payment.dispute", "search_read", [], ["id"], limit=1)[0]
    credit_note = rpc(
        admin,
        "account.move",
        "search_read",
        [("move_type", "=", "out_refund"), ("refund_proof_refund_ids", "!=", False)],
        ["id"],
        limit=1,
    )[0]
    pending = next(r for r in refunds if r["state"] == "to_approve")
    url = rpc(admin, "payment.refund", "read", [done["id"]], ["verification_url"])[0][
        "verification_url"
    ]
    chrome = Chrome(1280, 760)
    try:
        cookie = admin.cookies["session_id"]
        chrome.shot(
            f"{BASE}/odoo/action-refund_proof.payment_refund_action",
            "backoffice-refunds.png",
            cookie,
            ready=".o_list_view .o_data_row",
        )
        chrome.shot(
            f"{BASE}/odoo/action-refund_proof.payment_refund_action/{pending['id']}",
            "refund-to-approve.png",
            cookie,
            ready=".o_form_view .o_statusbar_status",
        )
        chrome.shot(
            f"{BASE}/odoo/action-refund_proof.payment_dispute_action/{dispute['id']}",
            "dispute-credit-processed.png",
            cookie,
            ready=".o_form_view .o_statusbar_status",
        )
        chrome.shot(
            f"{BASE}/odoo/action-account.action_move_out_refund_type/{credit_note['id']}",
            "credit-note-refunded.png",
            cookie,
            ready=".o_form_view .o_statusbar_status",
        )
        customer = session("refund_proof_customer")
        chrome.shot(
            f"{BASE}/my/refunds",
            "portal-refunds.png",
            customer.cookies["session_id"],
            ready=".o_portal_my_doc_table, table",
        )
    finally:
        chrome.close()
    batches = rpc(
        admin,
        "payment.refund.batch",
        "search_read",
        [("state", "=", "running")],
        ["id"],
        limit=1,
    )
    if not batches:
        print("no running bulk refund: see this script's docstring")
    else:
        # Taller: the batch's progress and its payments (the Payments tab) at once.
        tall = Chrome(1280, 1640)
        try:
            tall.shot(
                f"{BASE}/odoo/action-refund_proof_batch.payment_refund_batch_action/"
                f"{batches[0]['id']}",
                "screenshots/refund-batch-running.png",
                admin.cookies["session_id"],
                ready=".o_form_view .o_field_progressbar",
                click=".o_notebook a[name='lines']",
            )
        finally:
            tall.close()
    phone = Chrome(430, 800)
    try:
        phone.shot(url, "verification-page.png", ready=".card")
    finally:
        phone.close()
    # The proof and the dispute's evidence pack, rendered by the server's wkhtmltopdf,
    # then turned into PNGs (first page).
    for report, record_id, name in (
        ("refund_proof.report_refund_proof", done["id"], "proof-of-refund"),
        ("refund_proof.report_dispute_evidence", dispute["id"], "dispute-evidence"),
    ):
        if ONLY and f"{name}.png" not in ONLY:
            continue
        pdf = admin.get(f"{BASE}/report/pdf/{report}/{record_id}", timeout=60).content
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "80",
                    "-singlefile",
                    f.name,
                    os.path.join(DOCS, name),
                ],
                check=True,
            )
        print(f"wrote {name}.png")


if __name__ == "__main__":
    main()
