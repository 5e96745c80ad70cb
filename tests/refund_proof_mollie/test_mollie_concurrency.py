"""Mollie's webhook during a refund request, on real cursors and committed data (a
scratch database): the refund is recorded once."""

import threading
import time
from functools import partial

from odoo import Command
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_mollie.models import payment_provider as mollie_provider

from refund_proof_testkit.demo_payments import demo_setup

from ..provider_api_server import ProviderAPIServer, redirect
from ..scratch_db import committed_env, scratch_registry
from .test_mollie import API_BASE, MollieAPI


@tagged("-at_install", "post_install")
class TestMollieConcurrency(BaseCase):
    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_webhook_during_the_refund_request_records_the_refund_once(self):
        """Mollie's webhook read while the refund request that made the refund is
        not committed yet waits for it (the payment's refund lock), then finds the
        refund by its re_ id: one refund, done, never a second one "made in the
        dashboard"."""
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        api = MollieAPI(server)
        api.status = "refunded"
        api.stall = 2  # The request stays uncommitted while Mollie has the refund.
        with (
            redirect(mollie_provider.requests, API_BASE, server),
            scratch_registry() as registry,
        ):
            with committed_env(registry) as env:
                _demo, user = demo_setup(env)
                provider = env.ref("payment.payment_provider_mollie")
                provider.write(
                    {
                        "state": "test",
                        "mollie_api_key": "test_refundproofmollie",
                        "payment_method_ids": [
                            Command.set([env.ref("payment.payment_method_card").id])
                        ],
                    }
                )
                provider.payment_method_ids.write({"active": True})
                partner = env["res.partner"].create({"name": "Mollie Customer"})
                tx = env["payment.transaction"].create(
                    {
                        "provider_id": provider.id,
                        "payment_method_id": provider.payment_method_ids[:1].id,
                        "amount": 100.0,
                        "currency_id": env.ref("base.EUR").id,
                        "reference": "MOLLIE-CONCURRENT-1",
                        "provider_reference": "tr_Concurrent1",
                        "partner_id": partner.id,
                        "operation": "online_redirect",
                    }
                )
                tx._set_done()
                tx_id, uid = tx.id, user.id
                api.add_payment(tx)

            results = []

            def request_refund():
                with committed_env(registry, uid) as env:
                    tx = env["payment.transaction"].browse(tx_id)
                    refund = retrying(
                        partial(tx._request_refund, amount_to_refund=40.0), env
                    )
                    results.append(refund.id)

            thread = threading.Thread(target=request_refund)
            thread.start()
            deadline = time.monotonic() + 30
            while not api.refunds and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(api.refunds, "Mollie got the refund request")
            # The webhook, as Odoo's route runs it: retried on a serialization
            # failure with a fresh snapshot.
            with committed_env(registry) as env:
                tx = env["payment.transaction"].browse(tx_id)
                retrying(tx._refund_proof_mollie_sync_refunds, env)
            thread.join(timeout=60)
            self.assertFalse(thread.is_alive(), "the refund request hung")
            self.assertEqual(len(results), 1)

            with committed_env(registry) as env:
                tx = env["payment.transaction"].browse(tx_id)
                [refund_id] = api.refunds
                self.assertEqual(tx.refund_ids.ids, results)
                self.assertEqual(len(tx.child_transaction_ids), 1)
                self.assertEqual(tx.child_transaction_ids.provider_reference, refund_id)
                self.assertEqual(tx.refund_ids.state, "done")
