"""The network side of the fake PSP (tests/addons/payment_fakepsp): a real HTTP server
on 127.0.0.1 (a random port) in a thread, answering the refunds endpoint as each test
scripts it, and signing the webhook notifications the test then posts to Odoo.
"""

import hashlib
import hmac
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class FakePSPServer:
    """A payment service provider that makes refunds as scripted.

    A refund request takes the next scripted answer (`make_refund`, `decline`,
    `stall`); without one, the refund is made and succeeds. Every request is kept in
    `received`, every refund made in `refunds` (by PSP id), as the PSP's
    dashboard would list them.

    Two behaviours of real PSPs are opt-in (the load test uses them): payments
    registered with `add_charge` are never refunded above their amount (an HTTP 400,
    as Stripe's "amount is greater than unrefunded amount"), and with `webhook_urls`
    every refund made is notified, signed, from a thread that retries until a URL
    answers 2xx (round robin over the URLs).

    `latency` (seconds, default 0: none) delays every answer to a refund request, as
    a real provider's network and processing time (the benchmark's 100 ms); each
    request waits in its own thread, without holding the lock: requests in flight
    wait together. It may be changed while the server runs."""

    def __init__(self, webhook_secret, webhook_urls=None, latency=0.0):
        self.webhook_secret = webhook_secret
        self.webhook_urls = list(webhook_urls or [])
        self.latency = latency
        self.received = []
        self.refunds = {}
        self.charges = {}
        self.stalled = []  # (client address, refund id or None) of stalled requests
        self.webhook_attempts = 0
        self._script = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._port = 0
        self._httpd = None
        self._thread = None
        self._webhooks = queue.Queue()
        self._webhook_thread = None

    @property
    def url(self):
        """The base URL of the API (the provider's `fakepsp_api_url`)."""
        return f"http://127.0.0.1:{self._port}/v1/"

    def start(self):
        """Listen (again: on the same port after `stop`) and serve in a thread."""
        self._release.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.psp = self
        self._port = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fakepsp", daemon=True
        )
        self._thread.start()
        if self.webhook_urls and not self._webhook_thread:
            self._webhook_thread = threading.Thread(
                target=self._deliver_webhooks, name="fakepsp-webhooks", daemon=True
            )
            self._webhook_thread.start()
        return self

    def stop(self):
        """Stop listening: connections are refused until `start`."""
        if not self._httpd:
            return
        self._release.set()  # Stalled requests end now.
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = None
        if self._webhook_thread:
            self._webhooks.put(None)
            self._webhook_thread.join()
            self._webhook_thread = None

    def add_charge(self, payment_reference, amount):
        """Register a payment of `amount` (minor units): refunds of it are capped."""
        self.charges[payment_reference] = amount

    def refunded_amounts(self):
        """{payment reference: minor units refunded}, failed refunds excluded."""
        with self._lock:
            totals = {}
            for refund in self.refunds.values():
                if refund["status"] != "failed":
                    key = refund["payment_reference"]
                    totals[key] = totals.get(key, 0) + refund["amount"]
            return totals

    def webhooks_pending(self):
        """The number of notifications not delivered yet."""
        return self._webhooks.unfinished_tasks

    # Scripting: the answers to the next refund requests, in order.

    def make_refund(self, status="succeeded", arn=None, failure_message=None):
        """Make the refund and answer its refund object with this status."""
        fields = {"status": status, "arn": arn, "failure_message": failure_message}
        self._script.append(("refund", fields))

    def decline(self, message, http_status=402):
        """Make no refund; answer an HTTP error carrying the PSP's message."""
        error = {"error": {"code": "refund_declined", "message": message}}
        self._script.append(("error", (http_status, error)))

    def rate_limit(self):
        """Make no refund; answer HTTP 429 Too Many Requests (the PSP's rate limit)."""
        error = {"error": {"code": "rate_limit", "message": "Too many requests."}}
        self._script.append(("error", (429, error)))

    def stall(self, seconds, made=False):
        """Answer nothing for that long (or until `stop`); with `made`, the refund is
        made all the same (its answer is lost)."""
        self._script.append(("stall", (seconds, made)))

    def drop(self, made=True):
        """Close the connection unanswered; with `made` (default), after the refund."""
        self._script.append(("drop", made))

    # Webhooks.

    def refund_event(self, refund_id, **changes):
        """Return the webhook notification of a refund the PSP made, after applying
        `changes` to it (e.g. status="succeeded", arn=...), as (body, headers) signed
        with the webhook secret.
        """
        refund = self.refunds[refund_id]
        refund.update(changes)
        return self._signed_event(refund)

    def _signed_event(self, refund):
        body = json.dumps({"type": "refund.updated", "refund": refund}).encode()
        signature = hmac.new(
            self.webhook_secret.encode(), body, hashlib.sha256
        ).hexdigest()
        return body, {
            "Content-Type": "application/json",
            "FakePSP-Signature": signature,
        }

    def _deliver_webhooks(self):
        """Post each queued notification until one of the URLs answers 2xx, with
        back-off (0.2 s doubling up to 5 s), as PSPs retry their webhooks."""
        turn = 0
        while True:
            event = self._webhooks.get()
            if event is None:
                self._webhooks.task_done()
                return
            body, headers = event
            delay = 0.2
            while True:
                url = self.webhook_urls[turn % len(self.webhook_urls)]
                turn += 1
                self.webhook_attempts += 1
                try:
                    response = requests.post(
                        url, data=body, headers=headers, timeout=60
                    )
                    if response.ok:
                        break
                except requests.RequestException:
                    pass
                if self._release.wait(delay):
                    break  # Stopped: undelivered.
                delay = min(delay * 2, 5.0)
            self._webhooks.task_done()

    def _over_charge(self, payment_reference, amount):
        """The error answer when `amount` exceeds what remains of a registered
        charge, else None."""
        charged = self.charges.get(payment_reference)
        if charged is None:
            return None
        refunded = sum(
            refund["amount"]
            for refund in self.refunds.values()
            if refund["payment_reference"] == payment_reference
            and refund["status"] != "failed"
        )
        if refunded + amount <= charged:
            return None
        return 400, {
            "error": {
                "code": "amount_too_large",
                "message": f"Refund amount ({amount}) is greater than unrefunded "
                f"amount on charge ({charged - refunded})",
            }
        }

    def _answer(self, method, path, body, client=None):
        """Return (HTTP status, JSON payload) for a request."""
        with self._lock:
            self.received.append({"method": method, "path": path, "json": body})
            if (method, path) != ("POST", "/v1/refunds"):
                return 404, {"error": {"message": f"No such endpoint: {path}"}}
            amount = body.get("amount") if isinstance(body, dict) else None
            if not isinstance(amount, int) or amount <= 0:
                return 400, {"error": {"message": "amount: a positive integer"}}
            over = self._over_charge(body.get("payment_reference"), amount)
            if over:
                return over
            kind, arg = self._script.pop(0) if self._script else ("refund", {})
            made = (
                kind == "refund"
                or (kind == "stall" and arg[1])
                or (kind == "drop" and arg)
            )
            if made:
                refund = {
                    "id": f"re_{len(self.refunds) + 1:04d}",
                    "object": "refund",
                    "amount": amount,
                    "currency": body.get("currency"),
                    "payment_reference": body.get("payment_reference"),
                    "reference": body.get("reference"),
                    "status": "succeeded",
                    "arn": None,
                    "failure_message": None,
                    **(arg if kind == "refund" else {}),
                }
                self.refunds[refund["id"]] = refund
                if self.webhook_urls:
                    self._webhooks.put(self._signed_event(dict(refund)))
                if kind == "refund":
                    return 200, dict(refund)
            if kind == "error":
                return arg
            if kind == "drop":
                return None, None
            self.stalled.append((client, refund["id"] if made else None))
        # A stall: without holding the lock.
        self._release.wait(arg[0])
        return 504, {"error": {"message": "Gateway timeout"}}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.server.psp.latency and self.path == "/v1/refunds":
            time.sleep(self.server.psp.latency)
        status, payload = self.server.psp._answer(
            self.command, self.path, body, client=self.client_address
        )
        if status is None:  # Dropped: the connection closes without an answer.
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # The client gave up waiting (a stall): nobody reads the answer.

    do_GET = do_POST

    def log_message(self, *args):
        pass  # The tests read `received`, not stderr.
