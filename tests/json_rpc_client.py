"""Calls through Odoo's real JSON-RPC endpoint (POST /jsonrpc), as a script or a stolen
session sends them: JsonRpcMixin for HttpCase classes, RpcError for a refused call.
"""

import itertools
import json
from contextlib import closing

from odoo.tools import mute_logger


class RpcError(Exception):
    """The `error` member of a JSON-RPC answer."""

    def __init__(self, error):
        data = error.get("data") or {}
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or ""
        super().__init__(f"{self.name}: {self.message}")

    def __str__(self):
        # The first line: the reports list hundreds of cases.
        first = (self.message.strip().splitlines() or [""])[0]
        return f"{self.name.rpartition('.')[2]}: {first[:120]}"


class JsonRpcMixin:
    """Calls through Odoo's real JSON-RPC endpoint, as a script or a stolen session
    sends them (for HttpCase classes)."""

    # Loggers muted during a call: refused calls log a warning, which the answer
    # reports anyway.
    _rpc_muted_loggers = ("odoo.http",)
    _rpc_ids = itertools.count(1)

    def _rpc(self, user, model, method, *args, **kwargs):
        """Call `model.method(*args, **kwargs)` as `user` through POST /jsonrpc.

        Returns the result; raises RpcError with the error's name and message.
        """
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._rpc_ids),
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [
                    self.env.cr.dbname,
                    user.id,
                    user.login,  # new_test_user: password == login
                    model,
                    method,
                    list(args),
                    kwargs,
                ],
            },
        }
        with mute_logger(*self._rpc_muted_loggers):
            response = self.url_open(
                "/jsonrpc",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200, response.text[:500])
        body = response.json()
        if "error" in body:
            raise RpcError(body["error"])
        return body.get("result")

    def _attempt(self, user, model, method, *args, **kwargs):
        """(result, None) or (None, RpcError) of an RPC call."""
        try:
            return self._rpc(user, model, method, *args, **kwargs), None
        except RpcError as error:
            return None, error

    def _rolled_back(self):
        """A savepoint of the test transaction, rolled back on exit: the case's RPC
        calls (same transaction, HttpCase's test cursor) are undone with it."""
        return closing(self.env.cr.savepoint())
