from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.queue_job.job import Job

DECLINED = "Refund declined by the issuing bank: card expired, no card on file."


class PaymentRefundBatch(models.Model):
    _inherit = "payment.refund.batch"

    @api.model
    def _demo_populate(self, provider):
        """Record a running bulk refund in the demo shop: a workshop cancelled, its
        eight payments refunded by the demo refund manager, started minutes ago;
        four lines done, one failed with the provider's message, three queued.

        Called by `make run` (scripts/demo_shop.py) after `payment.refund.
        _demo_populate`. Does nothing when the demo has a bulk refund already. The
        queued lines stay queued until a job runner runs their jobs (`make run`
        serves with queue_job's runner: the batch then finishes; the README's
        screenshot of the running batch is taken without it, scripts/screenshots.py).

        :param recordset provider: The demo `payment.provider`, as for
            `payment.refund._demo_populate`.
        :return: Whether the bulk refund was recorded.
        :rtype: bool
        """
        env = self.with_company(provider.company_id).env
        if env["payment.refund.batch"].sudo().search_count([], limit=1):
            return False
        manager = env.ref("refund_proof.user_demo_refund_manager")
        customers = [
            env.ref(f"refund_proof.partner_demo_{name}")
            for name in (
                "camille_martin",
                "andrei_popescu",
                "ioana_ionescu",
                "lucas_bernard",
                "emma_wilson",
                "noah_clarke",
                "camille_martin",
                "emma_wilson",
            )
        ]
        Tx = env["payment.transaction"]
        txs = Tx
        for partner in customers:
            reference = Tx._compute_reference(
                "demo", prefix=f"S{Tx.search_count([]) + 1:05d}"
            )
            tx = Tx.create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id,
                    "amount": 45.0,
                    "currency_id": provider.company_id.currency_id.id,
                    "reference": reference,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                }
            )
            tx._handle_notification_data(
                "demo", {"reference": reference, "simulated_state": "done"}
            )
            txs |= tx
        action = txs.with_user(manager).action_refund_proof_batch(
            reason_id=env.ref("refund_proof.reason_order_cancelled").id,
            note="Pottery workshop of Saturday cancelled",
        )
        batch = self.browse(action["res_id"]).with_user(manager)
        batch.action_start()
        # Started eight minutes ago (demo data: the server's own field, in sudo).
        batch.sudo().start_date = fields.Datetime.now() - timedelta(minutes=8)
        # Five jobs run as queue_job's runner runs them; the provider then declines
        # the fifth refund (as the demo's failed refund).
        lines = batch.sudo().line_ids.sorted("id")
        for line in lines[:5]:
            record = (
                env["queue.job"]
                .sudo()
                .search([("identity_key", "=", f"refund_proof_batch_line:{line.id}")])
            )
            job = Job.load(env, record.uuid)
            job.set_started()
            job.store()
            job.perform()
            job.set_done()
            job.store()
        lines[4].refund_id.transaction_ids._set_error(
            DECLINED, extra_allowed_states=("done",)
        )
        return True
