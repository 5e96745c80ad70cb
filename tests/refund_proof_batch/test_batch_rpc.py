"""A batch's approval forged over Odoo's real JSON-RPC endpoint: the creator of a batch
above their limits tries every door to have it run without another manager."""

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..json_rpc_client import JsonRpcMixin
from ..refund_factories import RefundProofCommon


@tagged("-at_install", "post_install")
class TestBatchApprovalRpc(JsonRpcMixin, RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.limited_user = new_test_user(
            cls.env,
            login="batch_rpc_user",
            name="Rick Rpc",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=100.0,
        )

    def test_forged_batch_approval_is_refused(self):
        """Approving one's own batch, writing its approval or state, calling the
        line's job or the approval check, or an approval in the context: each is
        refused, and nothing is refunded."""
        tx = self._create_paid_transaction(150.0)
        user = self.limited_user
        action = self._rpc(
            user, "payment.transaction", "action_refund_proof_batch", [tx.id]
        )
        batch = self.env["payment.refund.batch"].sudo().browse(action["res_id"])
        line = batch.line_ids
        with trap_jobs() as trap:
            self._rpc(user, "payment.refund.batch", "action_start", [batch.id])
        self.assertEqual(batch.state, "to_approve")
        self.assertFalse(trap.enqueued_jobs)
        attempts = [
            ("payment.refund.batch", "action_approve", [batch.id]),
            (
                "payment.refund.batch",
                "write",
                [batch.id],
                {"approved_by_id": self.refund_manager.id, "state": "draft"},
            ),
            ("payment.refund.batch", "write", [batch.id], {"state": "running"}),
            ("payment.refund.batch.line", "write", [line.id], {"state": "queued"}),
            ("payment.refund.batch.line", "_refund_proof_run", [line.id]),
            (
                "payment.refund.batch.line",
                "_refund_proof_get_approval",
                [line.id],
                [tx.id],
                150.0,
            ),
            ("payment.transaction", "_request_refund", [tx.id]),
            ("payment.refund.batch", "_enqueue", [batch.id], [line.id]),
        ]
        for model, method, *args in attempts:
            with self.subTest(method=method, args=args):
                result, error = self._attempt(user, model, method, *args)
                self.assertIsNotNone(error, f"{model}.{method} was allowed")
        # An approval in the context is only a context: the refund waits.
        self._rpc(
            user,
            "payment.transaction",
            "action_refund",
            [tx.id],
            context={
                "refund_proof_batch_approval": line.id,
                "approval": line.id,
                "refund_proof_transition": True,
            },
        )
        self.env.invalidate_all()
        self.assertEqual(tx.refund_ids.state, "to_approve")
        self.assertRecordValues(
            batch,
            [{"state": "to_approve", "approved_by_id": False}],
        )
        self.assertEqual(line.state, "draft")
