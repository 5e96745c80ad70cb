"""Concurrent refund requests of Authorize.Net payments not settled yet: real threads,
real cursors, committed data in a scratch database (tests/scratch_db.py), Odoo's real
payment_authorize talking to the local Authorize.Net API of test_authorize.py."""

import threading
from functools import partial

from odoo import Command
from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_authorize.models import authorize_request

from refund_proof_testkit.demo_payments import demo_setup

from ..provider_api_server import ProviderAPIServer, redirect
from ..scratch_db import committed_env, scratch_registry
from .test_authorize import API_BASE, AuthorizeAPI


def _authorize_payment(env, provider, amount, trans_id):
    """An Authorize.Net payment of a new customer, confirmed."""
    partner = env["res.partner"].create({"name": f"Customer {trans_id}"})
    tx = env["payment.transaction"].create(
        {
            "provider_id": provider.id,
            "payment_method_id": provider.payment_method_ids[:1].id,
            "amount": amount,
            "currency_id": env.company.currency_id.id,
            "reference": f"AUTHORIZE-{trans_id}",
            "partner_id": partner.id,
            "operation": "online_direct",
        }
    )
    tx.sudo().provider_reference = trans_id
    tx._set_done()
    return tx


@tagged("-at_install", "post_install")
class TestAuthorizeConcurrency(BaseCase):
    def _refund_in_thread(self, registry, uid, tx_id, amount, barrier, results):
        with committed_env(registry, uid) as env:
            barrier.wait()
            tx = env["payment.transaction"].browse(tx_id)
            try:
                # What an RPC or HTTP request does: retry on lock timeouts and
                # serialization failures with a fresh snapshot.
                refund = retrying(
                    partial(tx._request_refund, amount_to_refund=amount), env
                )
                results.append((tx_id, "refunded", refund.id))
            except UserError as error:  # ValidationError included: refused, clearly
                env.cr.rollback()
                results.append((tx_id, "refused", str(error)))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                results.append((tx_id, "crashed", repr(error)))

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_concurrent_requests_before_settlement_keep_the_cap(self):
        """Before settlement, three users refund all of one payment at once and three
        others 40.00 of another: the first payment is voided once (one refund, done
        by cancelling it), the second holds two parts and refuses the third; nothing
        else reaches Authorize.Net."""
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        api = AuthorizeAPI(server)
        self.enterContext(redirect(authorize_request.requests, API_BASE, server))
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                _demo, user = demo_setup(env)
                provider = env["payment.provider"].search(
                    [("code", "=", "authorize"), ("company_id", "=", env.company.id)],
                    limit=1,
                )
                journal = env["account.journal"].search(
                    [("type", "=", "bank"), ("company_id", "=", env.company.id)],
                    limit=1,
                )
                provider.write(
                    {
                        "state": "test",
                        "journal_id": journal.id,
                        "authorize_login": "refund_proof_login",
                        "authorize_transaction_key": "refund_proof_key",
                        "authorize_signature_key": "00000000",
                        "available_currency_ids": [
                            Command.set(env.company.currency_id.ids)
                        ],
                        "payment_method_ids": [
                            Command.set([env.ref("payment.payment_method_card").id])
                        ],
                    }
                )
                provider.payment_method_ids.write({"active": True})
                whole = _authorize_payment(env, provider, 100.0, "41000000001").id
                part = _authorize_payment(env, provider, 100.0, "41000000002").id
                api.add_payment("41000000001", 100.0)
                api.add_payment("41000000002", 100.0)
                uid = user.id
            barrier = threading.Barrier(6)
            results = []
            threads = [
                threading.Thread(
                    target=self._refund_in_thread,
                    args=(registry, uid, tx_id, amount, barrier, results),
                )
                for tx_id, amount in [(whole, None)] * 3 + [(part, 40.0)] * 3
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            self.assertFalse([t for t in threads if t.is_alive()], "a request hung")

            for tx_id in (whole, part):
                outcomes = sorted(kind for tx, kind, _ in results if tx == tx_id)
                expected = (
                    ["refunded"] + ["refused"] * 2
                    if tx_id == whole
                    else ["refunded"] * 2 + ["refused"]
                )
                self.assertEqual(outcomes, expected, results)
            voids = [
                request
                for request in server.requests_to("POST", r"/xml/v1/request\.api$")
                if b"voidTransaction" in request["body"]
            ]
            self.assertEqual(len(voids), 1, "voided once")
            self.assertFalse(api.refunds, "no refundTransaction before settlement")
            with committed_env(registry) as env:
                Tx = env["payment.transaction"]
                [voided] = Tx.browse(whole).refund_ids
                self.assertEqual(
                    (voided.state, voided.by_cancellation, voided.arn_unavailable),
                    ("done", True, True),
                )
                self.assertEqual(Tx.browse(whole).refund_remaining_amount, 0.0)
                held = Tx.browse(part).refund_ids
                self.assertEqual(held.mapped("state"), ["draft", "draft"])
                self.assertTrue(all(held.mapped("hold_reason")))
                self.assertAlmostEqual(Tx.browse(part).refund_remaining_amount, 20.0)
