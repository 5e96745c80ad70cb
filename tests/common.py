"""Factories shared by the tests: a demo provider with a journal, paid transactions,
users.
"""

import itertools
import json
import subprocess
import tempfile
from contextlib import closing

from odoo import Command
from odoo.tests import new_test_user
from odoo.tools import mute_logger

from odoo.addons.account_payment.tests.common import AccountPaymentCommon


def pdf_to_text(pdf, layout=False):
    """The text of a real PDF (bytes), as poppler's pdftotext extracts it."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        return subprocess.run(
            ["pdftotext", *(["-layout"] if layout else []), f.name, "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout


class RefundProofCommon(AccountPaymentCommon):
    @classmethod
    def default_env_context(cls):
        # Odoo's BaseCommon disables tracking and chatter in tests; the refund's chatter
        # is part of what we test (decisions, notifications), so keep mail features on.
        return {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.demo_provider = cls._prepare_provider(
            "demo",
            update_values={"journal_id": cls.company_data["default_journal_bank"].id},
        )
        cls.provider = cls.demo_provider
        cls.provider.payment_method_ids.write({"active": True})
        cls.payment_method = cls.provider.payment_method_ids[:1]
        cls.payment_method_id = cls.payment_method.id
        cls.currency = cls.env.company.currency_id
        cls.reason_customer = cls.env.ref("refund_proof.reason_customer_request")
        cls.reason_fraud = cls.env.ref("refund_proof.reason_fraud")
        # Limits high enough for the foundation tests; test_refund_approval sets its
        # own.
        cls.refund_user = new_test_user(
            cls.env,
            login="refund_user",
            name="Rita Refund",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=1_000_000,
        )
        cls.refund_manager = new_test_user(
            cls.env,
            login="refund_manager",
            name="Max Manager",
            groups="base.group_user,refund_proof.group_refund_manager",
        )
        cls.plain_user = new_test_user(
            cls.env,
            login="plain_user",
            name="Paul Plain",
            groups="base.group_user",
        )
        cls.billing_user = new_test_user(
            cls.env,
            login="billing_user",
            name="Bill Billing",
            groups="base.group_user,account.group_account_invoice",
            refund_limit=1_000_000,
        )
        cls._tx_counter = 0

    @classmethod
    def _next_reference(cls):
        cls._tx_counter += 1
        return f"RP-TEST-{cls._tx_counter:04d}"

    def _create_paid_transaction(self, amount=100.0, provider=None, **values):
        """A demo-provider payment confirmed through the provider's own notification
        flow, post-processed so that its account.payment exists."""
        provider = provider or self.provider
        tx = self._create_transaction(
            "direct",
            amount=amount,
            reference=self._next_reference(),
            provider_id=provider.id,
            payment_method_id=(
                provider.payment_method_ids[:1] or self.payment_method
            ).id,
            **values,
        )
        if provider.code == "demo":
            tx._handle_notification_data(
                "demo", {"reference": tx.reference, "simulated_state": "done"}
            )
        else:
            tx._set_done()
        tx._post_process()
        return tx

    def _refund(self, tx, amount=None, user=None, **kwargs):
        """Refund as a refund user through the one path every entry point takes; the
        refund is returned in the test's environment."""
        tx = tx.with_user(user or self.refund_user)
        return tx._request_refund(amount_to_refund=amount, **kwargs).with_env(self.env)

    def _open_payment_wizard(self, tx, amount, user=None, **values):
        """The standard account.payment Refund wizard, as a user opens it."""
        payment = tx.payment_id.with_user(user or self.billing_user)
        return (
            self.env["payment.refund.wizard"]
            .with_user(user or self.billing_user)
            .with_context(active_id=payment.id, active_model="account.payment")
            .create({"amount_to_refund": amount, **values})
        )

    @classmethod
    def _give_groups(cls, user, *xmlids):
        user.groups_id = [Command.link(cls.env.ref(x).id) for x in xmlids]
        return user


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
