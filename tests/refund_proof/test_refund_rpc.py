import xmlrpc.client

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestRefundRpc(RefundProofCommon, HttpCase):
    """The same rules apply to refunds requested over XML-RPC."""

    def _rpc(self, login, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.env["res.users"].search([("login", "=", login)]).id,
            login,
            "payment.transaction",
            method,
            *args,
            kwargs,
        )

    @mute_logger("odoo.http")
    def test_rpc_without_refund_group_is_refused(self):
        """action_refund over XML-RPC without the refund group: AccessError."""
        tx = self._create_paid_transaction()
        with self.assertRaisesRegex(xmlrpc.client.Fault, "not allowed to refund"):
            self._rpc("billing_user", "action_refund", [[tx.id]], amount_to_refund=10.0)
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    @mute_logger("odoo.http")
    def test_rpc_cannot_call_the_private_path(self):
        """The private `_request_refund` is not reachable over RPC."""
        tx = self._create_paid_transaction()
        with self.assertRaisesRegex(xmlrpc.client.Fault, "Private methods"):
            self._rpc("refund_user", "_request_refund", [[tx.id], 10.0])
        self.assertFalse(tx.refund_ids)

    def test_rpc_refund_within_limit(self):
        """A refund user's action_refund over XML-RPC is recorded like any other."""
        tx = self._create_paid_transaction()
        self._rpc("refund_user", "action_refund", [[tx.id]], amount_to_refund=10.0)
        self.assertRecordValues(
            tx.refund_ids,
            [
                {
                    "amount": 10.0,
                    "state": "done",
                    "requested_by_id": self.refund_user.id,
                }
            ],
        )
