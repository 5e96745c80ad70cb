import threading
from datetime import timedelta
from functools import partial

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_paypal.models import payment_provider as paypal_provider

from refund_proof_testkit.demo_payments import demo_setup

from ..provider_api_server import ProviderAPIServer, redirect
from ..scratch_db import committed_env, scratch_registry
from .test_paypal import API_BASE, PaypalAPI


@tagged("-at_install", "post_install")
class TestPaypalConcurrency(BaseCase):
    """Real threads, real cursors, committed data in a scratch database; PayPal is the
    tests' local PayPal API."""

    @staticmethod
    def _paypal_payment(env, api, amount):
        """A PayPal provider in test mode and a payment of `amount` kept by its
        capture id, committed by the caller."""
        provider = env.ref("payment.payment_provider_paypal")
        provider.write(
            {
                "state": "test",
                "paypal_email_account": "merchant@example.com",
                "paypal_client_id": "paypal-client-refund-proof",
                "paypal_client_secret": "paypal-secret-refund-proof",
                # A valid token: the concurrent requests do not each renew it.
                "paypal_access_token": "A21AAPayPalTestAccessTokenForRefundProof",
                "paypal_access_token_expiry": fields.Datetime.now()
                + timedelta(hours=1),
                "payment_method_ids": [
                    Command.set(env.ref("payment.payment_method_paypal").ids)
                ],
            }
        )
        env.ref("payment.payment_method_paypal").active = True
        currency = provider.company_id.currency_id
        _order_id, capture_id = api.pay(amount, currency.name)
        partner = env["res.partner"].create(
            {"name": "PayPal Customer", "email": "paypal@customer.example"}
        )
        tx = env["payment.transaction"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": provider.payment_method_ids[:1].id,
                "amount": amount,
                "currency_id": currency.id,
                "reference": "PAYPAL-CONCURRENT-1",
                "partner_id": partner.id,
                "operation": "online_direct",
                "provider_reference": capture_id,
            }
        )
        tx._set_done()
        return tx

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
                results.append(("refunded", refund.id))
            except UserError as error:  # ValidationError included: refused, clearly
                env.cr.rollback()
                results.append(("refused", str(error)))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                results.append(("crashed", repr(error)))

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_concurrent_refunds_never_exceed_the_payment(self):
        """Four users refund 30.00 of a 100.00 PayPal payment at once: three are
        refunded by PayPal, one is refused before anything is sent to PayPal."""
        server = ProviderAPIServer().start()
        self.addCleanup(server.stop)
        api = PaypalAPI(server)
        with (
            redirect(paypal_provider.requests, API_BASE, server),
            scratch_registry() as registry,
        ):
            with committed_env(registry) as env:
                _provider, user = demo_setup(env)
                tx_id = self._paypal_payment(env, api, 100.0).id
                uid = user.id
            barrier = threading.Barrier(4)
            results = []
            threads = [
                threading.Thread(
                    target=self._refund_in_thread,
                    args=(registry, uid, tx_id, 30.0, barrier, results),
                )
                for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            self.assertFalse([t for t in threads if t.is_alive()], "a request hung")
            outcomes = sorted(kind for kind, _ in results)
            self.assertEqual(outcomes, ["refunded"] * 3 + ["refused"], results)
            with committed_env(registry) as env:
                tx = env["payment.transaction"].browse(tx_id)
                self.assertEqual(tx.refund_ids.mapped("state"), ["done"] * 3)
                self.assertAlmostEqual(tx.refunded_amount, 90.0)
                paypal_refunds = {
                    child.provider_reference
                    for child in tx.child_transaction_ids
                    if child.operation == "refund"
                }
                self.assertEqual(paypal_refunds, set(api.refunds))
        self.assertEqual(len(api.refunds), 3, "PayPal refunded three times")
        self.assertAlmostEqual(
            sum(float(r["amount"]["value"]) for r in api.refunds.values()), 90.0
        )
