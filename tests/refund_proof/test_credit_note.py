"""Refunds from a customer credit note, with real accounting: an invoice paid through
demo-provider transactions, the credit note made by Odoo's reversal wizard, the
refund through the request path, its payment reconciled by Odoo's post-processing."""

import threading
from functools import partial

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.service.model import retrying
from odoo.tests import BaseCase, Form, HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from refund_proof_testkit.demo_payments import demo_setup, paid_transaction

from ..fakepsp_server import FakePSPServer
from ..refund_factories import RefundProofCommon
from ..scratch_db import committed_env, scratch_registry

REPORT = "refund_proof.action_report_refund_proof"
WEBHOOK_SECRET = "whsec_refund_proof_tests"


class CreditNoteCase(RefundProofCommon):
    """Invoices paid through transactions, credit notes by Odoo's reversal wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Credit notes are read by people of the accounting: the refund users here
        # are billing users too.
        cls.accountant = new_test_user(
            cls.env,
            login="refund_accountant",
            name="Ada Accountant",
            groups="base.group_user,account.group_account_invoice,"
            "refund_proof.group_refund_user",
            refund_limit=1_000_000,
        )
        cls.limited_accountant = new_test_user(
            cls.env,
            login="limited_accountant",
            name="Lou Limited",
            groups="base.group_user,account.group_account_invoice,"
            "refund_proof.group_refund_user",
            refund_limit=50.0,
        )

    # === HELPERS === #

    def _paid_invoice(self, *amounts, provider=None):
        """A posted invoice of sum(amounts), paid by one transaction per amount (demo
        provider by default): each transaction's own payment is reconciled with it by
        Odoo."""
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.partner,
            amounts=[sum(amounts)],
            taxes=[],
            post=True,
        )
        txs = self.env["payment.transaction"]
        for amount in amounts:
            txs |= self._create_paid_transaction(
                amount, provider=provider, invoice_ids=[Command.set(invoice.ids)]
            )
        self.assertTrue(all(txs.payment_id), "each transaction has its payment")
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertTrue(invoice.currency_id.is_zero(invoice.amount_residual))
        return invoice, txs

    def _paid_state(self, move):
        # 'paid' in Odoo Community; with account_accountant, 'in_payment' until the
        # bank statement is matched (Odoo's own hook).
        return move._get_invoice_in_payment_state()

    def _credit_note(self, invoice, amount=None):
        """The credit note of `invoice`, by Odoo's reversal wizard ("Reverse"); a
        partial one has its line edited before posting, as an accountant does."""
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Goods returned", "journal_id": invoice.journal_id.id})
        )
        action = reversal.refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        self.assertEqual(credit_note.state, "draft")
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        if amount is not None:
            with Form(credit_note) as form:
                with form.invoice_line_ids.edit(0) as line:
                    line.price_unit = amount
        credit_note.action_post()
        self.assertEqual(credit_note.move_type, "out_refund")
        return credit_note

    def _open_wizard(self, credit_note, user=None):
        """The wizard as the Refund to customer button opens it."""
        user = user or self.accountant
        action = credit_note.with_user(user).action_refund_proof_refund_to_customer()
        self.assertEqual(action["res_model"], "payment.refund.credit.note")
        return Form(
            self.env[action["res_model"]]
            .with_user(user)
            .with_context(**action["context"])
        )

    def _refund_credit_note(self, credit_note, amount=None, user=None):
        """Refund through the wizard as the user confirms it; the refunds made."""
        with self._open_wizard(credit_note, user=user) as form:
            if amount is not None:
                form.amount = amount
            form.reason_id = self.reason_customer
        form.record.action_confirm()
        return self._refunds_of(credit_note)

    def _refunds_of(self, credit_note):
        return self.env["payment.refund"].search(
            [("credit_note_id", "=", credit_note.id)], order="id"
        )

    def _settle(self, refunds):
        """Odoo's post-processing of the refund transactions (the cron's work):
        account_payment creates their payments."""
        refunds.transaction_ids._post_process()
        payments = refunds.transaction_ids.payment_id
        self.assertEqual(len(payments), len(refunds), "one payment per refund")
        return payments

    def _assert_reconciled_with_only(self, payment, credit_note):
        self.assertEqual(payment.payment_type, "outbound")
        self.assertEqual(payment.reconciled_invoice_ids, credit_note)
        self.assertTrue(payment.move_id, "the payment has a journal entry")
        receivable = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == payment.destination_account_id
        )
        self.assertTrue(receivable.reconciled)
        self.assertEqual(
            receivable.matched_credit_ids.credit_move_id.move_id, credit_note
        )
        self.assertFalse(receivable.matched_debit_ids)

    def _partner_balance(self):
        lines = self.env["account.move.line"].search(
            [
                ("partner_id", "=", self.partner.commercial_partner_id.id),
                ("account_id.account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
            ]
        )
        return sum(lines.mapped("balance"))


@tagged("-at_install", "post_install")
class TestCreditNoteRefund(CreditNoteCase):
    def test_full_refund_pays_the_credit_note(self):
        """A full credit note refunded: its refund's payment is reconciled with it
        alone, the credit note is paid, the invoice stays paid, the ledger balances."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        self.assertTrue(credit_note.with_user(self.accountant).refund_proof_can_refund)
        with self._open_wizard(credit_note) as form:
            self.assertEqual(form.amount, 100.0)
            self.assertEqual(form.open_amount, 100.0)
            self.assertEqual(form.refundable_amount, 100.0)
            self.assertEqual(form.split_count, 1)
            self.assertIn(tx.reference, form.split_html)
            form.reason_id = self.reason_customer
            form.note = "Parcel came back"
        form.record.action_confirm()
        refund = self._refunds_of(credit_note)
        self.assertEqual(len(refund), 1)
        self.assertEqual(refund.source_transaction_id, tx)
        self.assertEqual(refund.amount, 100.0)
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.reason_id, self.reason_customer)
        self.assertEqual(refund.sudo().requested_by_id, self.accountant)
        self.assertEqual(refund.transaction_ids.invoice_ids, credit_note)
        self.assertEqual(credit_note.refund_proof_refund_ids, refund)
        self.assertEqual(credit_note.refund_proof_refund_count, 1)
        # In progress until post-processed: nothing left to refund meanwhile.
        self.assertEqual(credit_note.payment_state, "not_paid")
        self.assertFalse(credit_note.refund_proof_can_refund)

        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertTrue(credit_note.currency_id.is_zero(credit_note.amount_residual))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertTrue(invoice.currency_id.is_zero(invoice.amount_residual))
        self.assertEqual(tx.payment_id.reconciled_invoice_ids, invoice)
        self.assertAlmostEqual(self._partner_balance(), 0.0)
        self.assertFalse(credit_note.refund_proof_can_refund)

    def test_partial_credit_note_refunds_its_amount(self):
        """A partial credit note refunds its own amount, not the payment's; refunded
        in two steps it is partial, then paid."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        self.assertEqual(credit_note.amount_total, 40.0)
        with self._open_wizard(credit_note) as form:
            self.assertEqual(form.amount, 40.0)
            self.assertEqual(form.refundable_amount, 100.0)
        refund = self._refund_credit_note(credit_note, amount=25.0)
        self._settle(refund)
        self.assertEqual(credit_note.payment_state, "partial")
        self.assertEqual(credit_note.amount_residual, 15.0)
        self.assertTrue(credit_note.refund_proof_can_refund)

        second = self._refund_credit_note(credit_note) - refund
        self.assertEqual(second.amount, 15.0, "prefilled with what is left")
        payment = self._settle(second)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertEqual(tx.refund_remaining_amount, 60.0)
        self.assertEqual(tx.refund_status, "partial")
        self.assertAlmostEqual(self._partner_balance(), 0.0)

    def test_two_payments_split_largest_first(self):
        """An invoice paid by two transactions: one refund on each, the largest
        refundable first, shown before confirming; both reconciled with the credit
        note."""
        invoice, txs = self._paid_invoice(40.0, 60.0)
        small, large = txs
        credit_note = self._credit_note(invoice)
        with self._open_wizard(credit_note) as form:
            self.assertEqual(form.amount, 100.0)
            self.assertEqual(form.split_count, 2)
            html = form.split_html
            self.assertLess(html.index(large.reference), html.index(small.reference))
        first, second = self._refund_credit_note(credit_note)
        self.assertEqual(
            [
                (first.source_transaction_id, first.amount),
                (second.source_transaction_id, second.amount),
            ],
            [(large, 60.0), (small, 40.0)],
        )
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        payments = self._settle(first | second)
        for payment in payments:
            self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertEqual(credit_note.refund_proof_refund_count, 2)
        self.assertAlmostEqual(self._partner_balance(), 0.0)

    def test_split_uses_the_largest_payment_alone_when_it_suffices(self):
        """A refund the largest payment can carry makes one refund, on it."""
        invoice, txs = self._paid_invoice(40.0, 60.0)
        credit_note = self._credit_note(invoice, amount=50.0)
        refund = self._refund_credit_note(credit_note)
        self.assertEqual(refund.source_transaction_id, txs[1])
        self.assertEqual(refund.amount, 50.0)

    def test_above_limit_waits_for_approval_and_reconciles_when_done(self):
        """Above the user's limit the refund waits for a manager; nothing is sent or
        reconciled, nor can the credit note be refunded twice, until it is done."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self._open_wizard(credit_note, user=self.limited_accountant) as form:
            self.assertIn("above your refund limit", form.approval_reasons)
        refund = self._refund_credit_note(credit_note, user=self.limited_accountant)
        self.assertEqual(refund.state, "to_approve")
        self.assertFalse(refund.transaction_ids)
        self.assertEqual(credit_note.payment_state, "not_paid")
        self.assertFalse(credit_note.refund_proof_can_refund)
        with self.assertRaises(UserError):
            credit_note.with_user(
                self.accountant
            ).action_refund_proof_refund_to_customer()
        with self.assertRaises(UserError):
            self._refund(tx, 10.0, user=self.accountant, credit_note=credit_note)
        with self.assertRaises(UserError):
            credit_note.button_draft()  # Its refund has no payment yet.

        refund.with_user(self.refund_manager).action_approve()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.transaction_ids.invoice_ids, credit_note)
        self.assertEqual(credit_note.payment_state, "not_paid")
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))

    def test_amount_above_open_amount_is_refused(self):
        """More than the credit note's open amount: refused, nothing created."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        wizard = (
            self.env["payment.refund.credit.note"]
            .with_user(self.accountant)
            .create({"credit_note_id": credit_note.id, "amount": 40.01})
        )
        self.assertTrue(wizard.split_error)
        with self.assertRaises(UserError):
            wizard.action_confirm()
        # The request path holds it too, whatever the entry point.
        with self.assertRaises(UserError):
            self._refund(tx, 40.01, user=self.accountant, credit_note=credit_note)
        self.assertFalse(self._refunds_of(credit_note))
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)

    def test_amount_above_refundable_is_refused(self):
        """More than the payments can still refund (part refunded on the payment
        itself): prefilled with what is refundable, more is refused."""
        invoice, tx = self._paid_invoice(100.0)
        direct = self._refund(tx, 30.0)
        credit_note = self._credit_note(invoice)
        with self._open_wizard(credit_note) as form:
            self.assertEqual(form.open_amount, 100.0)
            self.assertEqual(form.refundable_amount, 70.0)
            self.assertEqual(form.amount, 70.0)
        wizard = (
            self.env["payment.refund.credit.note"]
            .with_user(self.accountant)
            .create({"credit_note_id": credit_note.id, "amount": 70.01})
        )
        self.assertTrue(wizard.split_error)
        with self.assertRaises(UserError):
            wizard.action_confirm()
        self.assertFalse(self._refunds_of(credit_note))
        self.assertEqual(tx.refund_ids, direct)

    def test_billing_user_cannot_refund_a_credit_note(self):
        """A billing user without refund rights: no wizard, no confirm over RPC."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self.assertRaises(AccessError):
            credit_note.with_user(
                self.billing_user
            ).action_refund_proof_refund_to_customer()
        with self.assertRaises(AccessError):
            self.env["payment.refund.credit.note"].with_user(self.billing_user).create(
                {"credit_note_id": credit_note.id}
            )
        wizard = (
            self.env["payment.refund.credit.note"]
            .sudo()
            .create({"credit_note_id": credit_note.id})
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.billing_user).action_confirm()
        self.assertFalse(self._refunds_of(credit_note))
        self.assertFalse(tx.child_transaction_ids)
        # The credit note's form still opens for them (no refund field they may not
        # read).
        form = Form(credit_note.with_user(self.billing_user))
        self.assertEqual(form.name, credit_note.name)

    def test_credit_note_link_is_the_servers(self):
        """Users cannot link a refund to a credit note, nor change the link."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        refund = self._refund(tx, 10.0, user=self.accountant)
        with self.assertRaises(AccessError):
            refund.with_user(self.accountant).write({"credit_note_id": credit_note.id})
        linked = self._refund_credit_note(credit_note, amount=20.0)
        with self.assertRaises(AccessError):
            linked.with_user(self.refund_manager).write({"credit_note_id": False})
        self.assertFalse(refund.credit_note_id)
        self.assertEqual(linked.credit_note_id, credit_note)

    def test_credit_note_of_another_payment_is_refused(self):
        """The request path refuses a credit note whose invoice the payment did not
        pay, and a manual refund (no payment would come of it)."""
        invoice, tx = self._paid_invoice(100.0)
        other_invoice, other_tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self.assertRaises(UserError):
            self._refund(other_tx, 10.0, user=self.accountant, credit_note=credit_note)
        with self.assertRaises(UserError):
            self._refund(
                tx,
                10.0,
                user=self.accountant,
                credit_note=credit_note,
                manual=True,
            )
        self.assertFalse(self._refunds_of(credit_note))

    def test_credit_note_not_paid_by_a_transaction_has_no_refund(self):
        """An invoice paid otherwise (registered payment): no button, and the wizard
        refuses."""
        invoice = self.init_invoice(
            "out_invoice", partner=self.partner, amounts=[100.0], taxes=[], post=True
        )
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        credit_note = self._credit_note(invoice)
        self.assertFalse(credit_note.refund_proof_can_refund)
        with self.assertRaises(UserError):
            credit_note.with_user(
                self.accountant
            ).action_refund_proof_refund_to_customer()
        wizard = (
            self.env["payment.refund.credit.note"]
            .with_user(self.accountant)
            .create({"credit_note_id": credit_note.id, "amount": 10.0})
        )
        with self.assertRaises(UserError):
            wizard.action_confirm()
        self.assertFalse(self._refunds_of(credit_note))
        # Nor does an invoice (not a credit note) offer it.
        self.assertFalse(invoice.refund_proof_can_refund)

    def test_refund_and_proof_name_the_credit_note(self):
        """The proof prints the credit note beside the invoice."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=30.0)
        refund = self._refund_credit_note(credit_note)
        html, _kind = self.env["ir.actions.report"]._render_qweb_html(
            REPORT, refund.ids
        )
        html = html.decode()
        self.assertIn("Credit note", html)
        self.assertIn(credit_note.name, html)
        self.assertIn(invoice.name, html)
        # A refund user who does not read invoices reads the refund and its link.
        form = Form(refund.with_user(self.refund_user))
        self.assertEqual(form.credit_note_id, credit_note)
        self.assertEqual(
            refund.with_user(self.refund_user)._get_proof_credit_note_name(),
            credit_note.name,
        )
        form = Form(credit_note.with_user(self.accountant))
        self.assertEqual(form.refund_proof_refund_count, 1)
        self.assertFalse(form.refund_proof_can_refund, "all of it refunded")
        plain = self._refund(tx, 10.0, user=self.accountant)
        html, _kind = self.env["ir.actions.report"]._render_qweb_html(REPORT, plain.ids)
        self.assertNotIn("Credit note", html.decode())


@tagged("-at_install", "post_install")
class TestCreditNoteRefundFaults(CreditNoteCase, HttpCase):
    """Refunds of credit notes whose provider call fails, through the fake PSP
    (tests/addons/payment_fakepsp; only the network is fake): the attempt that ends
    the refund, retried or reported by the webhook, carries the credit note."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fakepsp = cls._prepare_provider(
            "fakepsp",
            update_values={
                "journal_id": cls.company_data["default_journal_bank"].id,
                "fakepsp_webhook_secret": WEBHOOK_SECRET,
            },
        )
        cls.fakepsp.payment_method_ids.write({"active": True})

    def setUp(self):
        super().setUp()
        self.psp = FakePSPServer(WEBHOOK_SECRET).start()
        self.addCleanup(self.psp.stop)
        self.fakepsp.fakepsp_api_url = self.psp.url

    def _request(self, credit_note, tx, amount):
        return self._refund(tx, amount, user=self.accountant, credit_note=credit_note)

    @mute_logger("odoo.addons.refund_proof.models.payment_refund")
    def test_declined_refund_retried_pays_the_credit_note(self):
        """Declined, then retried: the retry's attempt carries the credit note and
        its payment is reconciled with it."""
        invoice, tx = self._paid_invoice(100.0, provider=self.fakepsp)
        credit_note = self._credit_note(invoice, amount=40.0)
        self.psp.decline("Insufficient balance on the merchant account.")
        refund = self._request(credit_note, tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.assertTrue(credit_note.refund_proof_can_refund, "its amount is freed")
        self.psp.make_refund()
        refund.with_user(self.accountant).action_retry()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.transaction_ids.invoice_ids, credit_note)
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))

    @mute_logger("odoo.addons.refund_proof.models.payment_refund")
    def test_retry_refused_once_the_credit_note_is_paid_otherwise(self):
        """A failed refund is not retried on a credit note paid meanwhile by other
        means: the retry checks its open amount again, and sends nothing."""
        invoice, tx = self._paid_invoice(100.0, provider=self.fakepsp)
        credit_note = self._credit_note(invoice, amount=40.0)
        self.psp.decline("Insufficient balance on the merchant account.")
        refund = self._request(credit_note, tx, 40.0)
        self.assertEqual(refund.state, "failed")
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=credit_note.ids
        ).create({})._create_payments()
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.psp.make_refund()
        received = len(self.psp.received)
        with self.assertRaisesRegex(UserError, "left to refund"):
            refund.with_user(self.accountant).action_retry()
        self.assertEqual(refund.state, "failed")
        self.assertEqual(len(self.psp.received), received, "nothing sent")

    @mute_logger("odoo.addons.refund_proof.models.payment_refund")
    def test_unknown_outcome_settled_by_webhook_pays_the_credit_note(self):
        """The PSP answers too late: the refund stays pending and holds the credit
        note's amount; the webhook's refund transaction carries the credit note."""
        invoice, tx = self._paid_invoice(100.0, provider=self.fakepsp)
        credit_note = self._credit_note(invoice)
        self.fakepsp.fakepsp_timeout = 0.5
        self.psp.stall(30, made=True)
        refund = self._request(credit_note, tx, 100.0)
        self.assertRecordValues(refund, [{"state": "pending", "outcome_unknown": True}])
        self.assertFalse(credit_note.refund_proof_can_refund, "its amount is held")
        with self.assertRaises(UserError):
            credit_note.button_cancel()

        [psp_id] = self.psp.refunds
        body, headers = self.psp.refund_event(psp_id)
        response = self.url_open("/payment/fakepsp/webhook", data=body, headers=headers)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.transaction_ids.invoice_ids, credit_note)
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))


@tagged("-at_install", "post_install")
class TestCreditNoteRefundConcurrency(BaseCase):
    """Real threads, real cursors, committed data in a scratch database."""

    def _refund_in_thread(self, registry, uid, tx_id, credit_note_id, barrier, results):
        with committed_env(registry, uid) as env:
            barrier.wait()
            tx = env["payment.transaction"].browse(tx_id)
            credit_note = env["account.move"].browse(credit_note_id)
            try:
                refund = retrying(
                    partial(
                        tx._request_refund,
                        amount_to_refund=100.0,
                        credit_note=credit_note,
                    ),
                    env,
                )
                results.append(("refunded", refund.id))
            except UserError as error:
                env.cr.rollback()
                results.append(("refused", str(error)))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                results.append(("crashed", repr(error)))

    @mute_logger("odoo.service.model")  # retrying() logs each retry at INFO level
    def test_concurrent_refunds_of_one_credit_note_on_two_payments(self):
        """Two users refund a credit note of 100.00 at once, each on another payment
        of its invoice (not locked by each other's payment row): one succeeds."""
        with scratch_registry() as registry:
            with committed_env(registry) as env:
                provider, user = demo_setup(env)
                user.groups_id = [
                    Command.link(env.ref("account.group_account_invoice").id)
                ]
                uid = user.id
                tx1 = paid_transaction(env, provider, 100.0, "CN-CONCURRENT-1")
                tx2 = paid_transaction(env, provider, 100.0, "CN-CONCURRENT-2")
                tx2.partner_id = tx1.partner_id
                invoice = env["account.move"].create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": tx1.partner_id.id,
                        "invoice_line_ids": [
                            Command.create(
                                {"name": "Goods", "price_unit": 200.0, "tax_ids": []}
                            )
                        ],
                    }
                )
                invoice.action_post()
                (tx1 | tx2).invoice_ids = invoice
                (tx1 | tx2)._post_process()
                reversal = (
                    env["account.move.reversal"]
                    .with_context(active_model="account.move", active_ids=invoice.ids)
                    .create({"journal_id": invoice.journal_id.id})
                )
                credit_note = env["account.move"].browse(
                    reversal.refund_moves()["res_id"]
                )
                credit_note.invoice_line_ids.price_unit = 100.0
                credit_note.action_post()
                ids = (tx1.id, tx2.id, credit_note.id)
            barrier = threading.Barrier(2)
            results = []
            threads = [
                threading.Thread(
                    target=self._refund_in_thread,
                    args=(registry, uid, tx_id, ids[2], barrier, results),
                )
                for tx_id in ids[:2]
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            self.assertFalse([t for t in threads if t.is_alive()], "a request hung")
            self.assertEqual(
                sorted(kind for kind, _detail in results),
                ["refunded", "refused"],
                results,
            )
            [refused] = [detail for kind, detail in results if kind == "refused"]
            self.assertIn("left to refund", refused)
            with committed_env(registry) as env:
                refunds = env["payment.refund"].search(
                    [("credit_note_id", "=", ids[2])]
                )
                self.assertEqual(refunds.mapped("state"), ["done"])
                self.assertAlmostEqual(refunds.amount, 100.0)
