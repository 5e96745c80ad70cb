"""The network side of the fake PSP (tests/addons/payment_fakepsp): a real HTTP server
on 127.0.0.1 (a random port) in a thread, answering the refunds endpoint as each test
scripts it, and signing the webhook notifications the test then posts to Odoo.
"""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePSPServer:
    """A payment service provider that makes refunds as scripted.

    A refund request takes the next scripted answer (`make_refund`, `decline`,
    `stall`); without one, the refund is made and succeeds. Every request is kept in
    `received`, every refund made in `refunds` (by PSP id), as the PSP's
    dashboard would list them."""

    def __init__(self, webhook_secret):
        self.webhook_secret = webhook_secret
        self.received = []
        self.refunds = {}
        self._script = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._port = 0
        self._httpd = None
        self._thread = None

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

    # Scripting: the answers to the next refund requests, in order.

    def make_refund(self, status="succeeded", arn=None, failure_message=None):
        """Make the refund and answer its refund object with this status."""
        fields = {"status": status, "arn": arn, "failure_message": failure_message}
        self._script.append(("refund", fields))

    def decline(self, message, http_status=402):
        """Make no refund; answer an HTTP error carrying the PSP's message."""
        error = {"error": {"code": "refund_declined", "message": message}}
        self._script.append(("error", (http_status, error)))

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
        body = json.dumps({"type": "refund.updated", "refund": refund}).encode()
        signature = hmac.new(
            self.webhook_secret.encode(), body, hashlib.sha256
        ).hexdigest()
        return body, {
            "Content-Type": "application/json",
            "FakePSP-Signature": signature,
        }

    def _answer(self, method, path, body):
        """Return (HTTP status, JSON payload) for a request."""
        with self._lock:
            self.received.append({"method": method, "path": path, "json": body})
            if (method, path) != ("POST", "/v1/refunds"):
                return 404, {"error": {"message": f"No such endpoint: {path}"}}
            amount = body.get("amount") if isinstance(body, dict) else None
            if not isinstance(amount, int) or amount <= 0:
                return 400, {"error": {"message": "amount: a positive integer"}}
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
                if kind == "refund":
                    return 200, dict(refund)
            if kind == "error":
                return arg
            if kind == "drop":
                return None, None
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
        status, payload = self.server.psp._answer(self.command, self.path, body)
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
