from datetime import timedelta

from odoo import Command, api, fields, models

VALID_ARNS = ("74612345678901234567893", "24500006000123456789017")


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    @api.model
    def _demo_populate(self, provider):
        """Record the demo shop's activity: paid transactions of the demo customers
        and refunds in every state, requested by the demo users through the real
        request path.

        Called by `make run` (scripts/demo_shop.py) once the shop is dressed; needs the
        demo data of refund_proof (users and customers, demo/refund_proof_demo.xml).
        Does nothing when the demo customers already have payments.

        :param recordset provider: The enabled `payment.provider` (code `demo`, with
                                   a journal) of the payments, in the demo's company.
        :return: Whether the payments and refunds were recorded.
        :rtype: bool
        """
        company = provider.company_id
        env = self.with_company(company).env
        manager = env.ref("refund_proof.user_demo_refund_manager")
        support = env.ref("refund_proof.user_demo_refund_support")
        camille, andrei, ioana, lucas, emma, noah = (
            env.ref(f"refund_proof.partner_demo_{name}")
            for name in (
                "camille_martin",
                "andrei_popescu",
                "ioana_ionescu",
                "lucas_bernard",
                "emma_wilson",
                "noah_clarke",
            )
        )
        customers = camille | andrei | ioana | lucas | emma | noah
        if env["payment.transaction"].search_count(
            [("partner_id", "in", customers.ids)], limit=1
        ):
            return False
        installed = {code for code, _name in env["res.lang"].get_installed()}
        for partners, lang in ((camille | lucas, "fr_FR"), (andrei | ioana, "ro_RO")):
            if lang in installed:
                partners.lang = lang

        now = fields.Datetime.now()
        Tx = env["payment.transaction"]

        def paid(partner, amount, days_ago, invoice=True):
            reference = Tx._compute_reference(
                "demo", prefix=f"S{len(Tx.search([])) + 1:05d}"
            )
            tx = Tx.create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id,
                    "amount": amount,
                    "currency_id": company.currency_id.id,
                    "reference": reference,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                }
            )
            tx._handle_notification_data(
                "demo", {"reference": reference, "simulated_state": "done"}
            )
            tx.last_state_change = now - timedelta(days=days_ago, hours=3)
            if invoice:
                move = env["account.move"].create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_date": (now - timedelta(days=days_ago)).date(),
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": "Online order",
                                    "quantity": 1,
                                    "price_unit": amount,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                )
                move.action_post()
                tx.invoice_ids = move
            return tx

        def dated(refund, days_ago):
            refund.sudo().write(
                {
                    "refund_date": now - timedelta(days=days_ago)
                    if refund.refund_date
                    else False,
                    "request_date": now - timedelta(days=days_ago, hours=1),
                    "limit_date": refund.limit_date
                    and now - timedelta(days=days_ago, hours=1),
                }
            )
            return refund

        reasons = {
            x: env.ref(f"refund_proof.reason_{x}")
            for x in (
                "customer_request",
                "product_returned",
                "defective",
                "not_delivered",
                "duplicate_charge",
                "order_cancelled",
                "goodwill",
            )
        }
        txs = [
            paid(camille, 149.90, 12),
            paid(andrei, 89.00, 9),
            paid(emma, 249.00, 20),
            paid(lucas, 59.90, 3),
            paid(ioana, 320.00, 45),
            paid(noah, 39.90, 2),
            paid(camille, 74.50, 6),
            paid(andrei, 199.00, 15),
            paid(emma, 19.90, 1),
            paid(lucas, 410.00, 25),
            paid(noah, 129.00, 8),
            paid(ioana, 64.00, 4),
        ]
        # Done, full, with ARN (by the manager).
        dated(
            txs[0]
            .with_user(manager)
            ._request_refund(reason=reasons["product_returned"], arn=VALID_ARNS[0]),
            10,
        )
        # Done, partial, ARN to follow (support, within limits).
        dated(
            txs[1]
            .with_user(support)
            ._request_refund(
                amount_to_refund=30.0,
                reason=reasons["defective"],
                note="Scratched case",
            ),
            7,
        )
        # Two partial refunds of one payment.
        dated(
            txs[2]
            .with_user(manager)
            ._request_refund(
                amount_to_refund=50.0, reason=reasons["goodwill"], note="Late delivery"
            ),
            18,
        )
        dated(
            txs[2]
            .with_user(manager)
            ._request_refund(
                amount_to_refund=99.0,
                reason=reasons["product_returned"],
                arn=VALID_ARNS[1],
            ),
            14,
        )
        # Awaiting approval: above the support user's limit.
        dated(
            txs[9]
            .with_user(support)
            ._request_refund(amount_to_refund=410.0, reason=reasons["not_delivered"]),
            1,
        )
        # Outside the 30-day window: awaiting approval whatever the limit.
        dated(
            txs[4]
            .with_user(support)
            ._request_refund(amount_to_refund=20.0, reason=reasons["customer_request"]),
            0,
        )
        # Failed: the provider reversed it after confirming.
        failed = (
            txs[5]
            .with_user(support)
            ._request_refund(reason=reasons["duplicate_charge"])
        )
        failed.sudo().transaction_ids._set_error(
            "Refund declined by the issuing bank: card account closed.",
            extra_allowed_states=("done",),
        )
        dated(failed, 1)
        # Manual refund by bank transfer (the provider could not refund).
        dated(
            txs[6]
            .with_user(manager)
            ._request_refund(
                amount_to_refund=74.50,
                manual=True,
                manual_method="bank_transfer",
                arn="FR76BANKREF2026",
                reason=reasons["order_cancelled"],
            ),
            5,
        )
        # Pending: reported by the provider, not confirmed yet.
        txs[7].sudo()._create_child_transaction(40.0, is_refund=True)
        # Outcome unknown: the provider did not answer in time. Recorded here as the
        # refund path records it (the demo provider itself always answers).
        unknown = (
            env["payment.refund"]
            .with_user(support)
            .sudo()
            .with_context(mail_create_nolog=True)
            .create(
                txs[11]
                .with_user(support)
                ._prepare_refund_values(64.0, reason_id=reasons["not_delivered"].id)
            )
        )
        timeout = "Demo: the request timed out (no answer within 60 seconds)."
        unknown._set_state("pending", outcome_unknown=True, failure_message=timeout)
        dated(unknown, 0)
        # Rejected request.
        rejected = (
            txs[10]
            .with_user(support)
            ._request_refund(amount_to_refund=129.0, reason=reasons["customer_request"])
        )
        rejected.with_user(manager).action_reject(
            reason="Used product, outside our policy"
        )
        # A chargeback "credit not processed" on a payment refunded days before,
        # recorded from the bank's letter: the evidence pack answers it.
        env["payment.dispute"].with_user(manager).create(
            {
                "source_transaction_id": txs[0].id,
                "provider_reference": "CB-2026-118204",
                "amount": txs[0].amount,
                "card_network": "visa",
                "reason_code": "13.6",
                "kind": "chargeback",
                "opened_date": now - timedelta(days=2),
                "evidence_due_date": now + timedelta(days=12),
                "note": "Letter from the acquirer: the customer says the refund never "
                "arrived.",
            }
        )
        # An invoiced order returned: the refund creates the invoice's credit note
        # (Odoo's reversal) and pays it back; its payment, made by Odoo's
        # post-processing, is reconciled with it.
        txs[3]._post_process()  # The invoice paid by the payment, as the cron does.
        credited = (
            txs[3]
            .with_user(manager)
            ._request_refund(
                reason=reasons["product_returned"], create_credit_note=True
            )
        )
        credited.transaction_ids._post_process()
        dated(credited, 2)
        return True
