"""Refunds made from a payment that pay back a credit note, with real accounting: the
transaction's Refund wizard and account_payment's one propose the open credit notes
of the paid invoice, or create the credit note of a full refund through Odoo's
reversal wizard; the request path checks the credit note whatever the entry point."""

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .test_credit_note import CreditNoteCase


class CreditNoteLinkCase(CreditNoteCase):
    # === HELPERS === #

    def _open_request(self, tx, user=None):
        """The transaction's Refund wizard, as its button opens it."""
        user = user or self.accountant
        action = tx.with_user(user).action_open_refund_wizard()
        return Form(
            self.env[action["res_model"]]
            .with_user(user)
            .with_context(**action["context"])
        )

    def _open_payment_form(self, tx, user=None):
        """account_payment's Refund wizard of the transaction's payment."""
        user = user or self.accountant
        payment = tx.payment_id.with_user(user)
        return Form(
            self.env["payment.refund.wizard"]
            .with_user(user)
            .with_context(active_id=payment.id, active_model="account.payment")
        )

    def _confirm(self, form):
        """Confirm the transaction's wizard; the refund made."""
        action = form.record.action_confirm()
        return self.env["payment.refund"].browse(action["res_id"])

    def _draft_credit_note(self, invoice):
        reversal = (
            self.env["account.move.reversal"]
            .with_company(invoice.company_id)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Goods returned", "journal_id": invoice.journal_id.id})
        )
        reversal.refund_moves()
        return reversal.new_move_ids

    def _credit_note_messages(self, credit_note):
        return credit_note.message_ids.filtered(
            lambda m: m.message_type == "comment" and "requested" in (m.body or "")
        )


@tagged("-at_install", "post_install")
class TestCreditNoteLinkFromRefund(CreditNoteLinkCase):
    def test_transaction_wizard_refunds_the_one_open_credit_note(self):
        """The one open credit note of the paid invoice is proposed and chosen, the
        amount prefilled with its open amount; the refund's payment pays it."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        with self._open_request(tx) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            self.assertEqual(form.available_credit_note_ids[:], credit_note)
            self.assertEqual(form.amount, 40.0)
            self.assertFalse(form.can_create_credit_note, "it has a credit note")
            form.reason_id = self.reason_customer
        refund = self._confirm(form)
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.credit_note_id, credit_note)
        self.assertEqual(refund.amount, 40.0)
        self.assertEqual(refund.transaction_ids.invoice_ids, credit_note)
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertEqual(tx.refund_remaining_amount, 60.0)
        self.assertAlmostEqual(self._partner_balance(), 0.0)

    def test_transaction_wizard_partial_refund_of_a_credit_note(self):
        """Less than the credit note's open amount: the credit note is partly paid,
        then proposed again with what is left."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self._open_request(tx) as form:
            self.assertEqual(form.amount, 100.0)
            form.amount = 30.0
        refund = self._confirm(form)
        self._settle(refund)
        self.assertEqual(credit_note.payment_state, "partial")
        self.assertEqual(credit_note.amount_residual, 70.0)
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        with self._open_request(tx) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            self.assertEqual(form.amount, 70.0)
        second = self._confirm(form)
        payment = self._settle(second)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertAlmostEqual(self._partner_balance(), 0.0)

    def test_payment_wizard_refunds_the_credit_note(self):
        """account_payment's Refund wizard proposes the credit note too, and its
        refund's payment pays it."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=25.0)
        with self._open_payment_form(tx) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            self.assertEqual(form.amount_to_refund, 25.0)
            form.reason_id = self.reason_customer
        form.record.action_refund()
        refund = self._refunds_of(credit_note)
        self.assertEqual(len(refund), 1)
        self.assertEqual(refund.amount, 25.0)
        self.assertEqual(refund.reason_id, self.reason_customer)
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertAlmostEqual(self._partner_balance(), 0.0)

    def test_proposal_lists_only_open_credit_notes_of_the_invoice(self):
        """Proposed: the posted credit notes of the paid invoice with an amount left;
        none chosen when there are several; a draft one, one in progress, another
        customer's or another invoice's is not proposed."""
        invoice, tx = self._paid_invoice(100.0)
        other_invoice, _other_tx = self._paid_invoice(50.0)
        first = self._credit_note(invoice, amount=30.0)
        second = self._credit_note(invoice, amount=20.0)
        self._draft_credit_note(invoice)
        self._credit_note(other_invoice)
        with self._open_request(tx) as form:
            self.assertEqual(form.available_credit_note_ids[:], first | second)
            self.assertFalse(form.credit_note_id, "several: the user chooses")
            self.assertEqual(form.amount, 100.0)
            form.credit_note_id = second
            self.assertEqual(form.amount, 20.0)
        refund = self._confirm(form)
        self.assertEqual(refund.credit_note_id, second)
        # The second one is in progress (not post-processed yet): the first alone.
        with self._open_request(tx) as form:
            self.assertEqual(form.available_credit_note_ids[:], first)
            self.assertEqual(form.credit_note_id, first)
            form.credit_note_id = self.env["account.move"]
            self.assertEqual(form.amount, 80.0, "no credit note: all that remains")
        self.assertEqual(
            tx._refund_proof_get_open_credit_notes(), first, "the server's list"
        )

    def test_manual_refund_proposes_no_credit_note(self):
        """A manual refund pays back no credit note: none is chosen or shown."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self._open_request(tx) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            form.manual = True
            self.assertFalse(form.credit_note_id)
            with self.assertRaises(AssertionError):
                form.credit_note_id = credit_note  # Hidden.

    def test_refund_user_without_accounting_rights_is_proposed_nothing(self):
        """A refund user who does not read invoices is proposed no credit note; the
        refund is made without one."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        with self._open_request(tx, user=self.refund_user) as form:
            self.assertFalse(form.available_credit_note_ids)
            self.assertFalse(form.credit_note_id)
            self.assertEqual(form.amount, 100.0)
            form.amount = 10.0
        refund = self._confirm(form)
        self.assertFalse(refund.credit_note_id)
        self.assertFalse(self._refunds_of(credit_note))


@tagged("-at_install", "post_install")
class TestCreditNoteLinkHostile(CreditNoteLinkCase):
    """The request path refuses a credit note that a refund of the payment may not pay
    back, over the ORM as a refund user, whatever the wizards propose."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_data_2 = cls.setup_other_company()

    def _assert_refused(self, tx, credit_note, amount=10.0, error=UserError, user=None):
        with self.assertRaises(error) as caught:
            self._refund(
                tx, amount, user=user or self.accountant, credit_note=credit_note
            )
        self.assertFalse(tx.refund_ids)
        self.assertFalse(tx.child_transaction_ids)
        return str(caught.exception)

    def test_draft_credit_note_is_refused(self):
        invoice, tx = self._paid_invoice(100.0)
        draft = self._draft_credit_note(invoice)
        self.assertEqual(draft.state, "draft")
        message = self._assert_refused(tx, draft)
        self.assertIn("Only posted customer credit notes", message)

    def test_vendor_bill_is_refused(self):
        _invoice, tx = self._paid_invoice(100.0)
        bill = self.init_invoice(
            "in_invoice", partner=self.partner, amounts=[10.0], taxes=[], post=True
        )
        message = self._assert_refused(tx, bill)
        self.assertIn("Only posted customer credit notes", message)

    def test_credit_note_of_another_customer_is_refused(self):
        """A credit note of the paid invoice moved to another customer before posting:
        its payment would be the payer's, reconciled with another's credit note."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._draft_credit_note(invoice)
        credit_note.partner_id = self.partner_a
        credit_note.action_post()
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        message = self._assert_refused(tx, credit_note)
        self.assertIn(self.partner_a.display_name, message)
        with self._open_request(tx) as form:
            self.assertFalse(form.available_credit_note_ids, "not proposed")

    def test_credit_note_of_another_invoice_is_refused(self):
        """Another invoice's credit note, over the ORM and through the wizard's RPC."""
        _invoice, tx = self._paid_invoice(100.0)
        other_invoice, _other_tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(other_invoice)
        self._assert_refused(tx, credit_note)
        wizard = (
            self.env["payment.refund.request"]
            .with_user(self.accountant)
            .create(
                {
                    "source_transaction_id": tx.id,
                    "amount": 10.0,
                    "credit_note_id": credit_note.id,
                }
            )
        )
        with self.assertRaises(UserError):
            wizard.action_confirm()
        self.assertFalse(tx.refund_ids)

    def test_credit_note_of_another_company_is_refused(self):
        """Another company's credit note: unreadable for who works in one company,
        refused for who works in both (it did not reverse this payment's invoice)."""
        _invoice, tx = self._paid_invoice(100.0)
        company_2 = self.company_data_2["company"]
        foreign_invoice = self.init_invoice(
            "out_invoice",
            partner=self.partner,
            amounts=[100.0],
            taxes=[],
            post=True,
            company=company_2,
        )
        foreign = self._draft_credit_note(foreign_invoice)
        foreign.action_post()
        self.assertEqual(foreign.company_id, company_2)
        company_1 = tx.company_id
        only_1 = tx.with_user(self.accountant).with_context(
            allowed_company_ids=[company_1.id]
        )
        with self.assertRaises(AccessError):
            only_1._request_refund(amount_to_refund=10.0, credit_note=foreign)
        self.accountant.company_ids = [Command.link(company_2.id)]
        both = tx.with_user(self.accountant).with_context(
            allowed_company_ids=[company_1.id, company_2.id]
        )
        with self.assertRaises(UserError):
            both._request_refund(amount_to_refund=10.0, credit_note=foreign)
        self.assertFalse(tx.refund_ids)

    def test_above_the_credit_notes_open_amount_is_refused(self):
        """Above the credit note's open amount: refused from either wizard."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        message = self._assert_refused(tx, credit_note, amount=40.01)
        self.assertIn("left to refund", message)
        with self._open_request(tx) as form:
            form.amount = 50.0
        with self.assertRaises(UserError):
            form.record.action_confirm()
        with self._open_payment_form(tx) as form:
            form.amount_to_refund = 50.0
        with self.assertRaises(UserError):
            form.record.action_refund()
        self.assertFalse(tx.refund_ids)

    def test_user_without_refund_right_is_refused(self):
        """A billing user may see the credit note, not refund it."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        self._assert_refused(tx, credit_note, error=AccessError, user=self.billing_user)
        wizard = self._open_payment_wizard(tx, 10.0, credit_note_id=credit_note.id)
        with self.assertRaises(AccessError):
            wizard.action_refund()
        self.assertFalse(tx.refund_ids)
        self.assertFalse(self._refunds_of(credit_note))

    def test_created_and_chosen_credit_note_together_are_refused(self):
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self.assertRaises(UserError):
            self._refund(
                tx,
                100.0,
                user=self.accountant,
                credit_note=credit_note,
                create_credit_note=True,
            )
        self.assertFalse(tx.refund_ids)


@tagged("-at_install", "post_install")
class TestCreditNoteCreatedByRefund(CreditNoteLinkCase):
    """The full refund of a payment that alone paid its invoice creates the credit
    note through Odoo's reversal wizard, then pays it back."""

    def _credit_notes_of(self, invoice):
        return invoice.reversal_move_ids

    def test_full_refund_creates_and_pays_the_credit_note(self):
        """A refund user without accounting rights creates it: posted, the reason as
        its reason text, the refund's payment reconciled with it alone, both paid."""
        invoice, tx = self._paid_invoice(100.0)
        with self._open_request(tx, user=self.refund_user) as form:
            self.assertTrue(form.can_create_credit_note)
            self.assertFalse(form.credit_note_id)
            form.create_credit_note = True
            form.reason_id = self.reason_customer
            form.note = "Returned unopened"
            self.assertEqual(form.amount, 100.0)
            with self.assertRaises(AssertionError):
                form.amount = 50.0  # Read-only: the whole payment.
        refund = self._confirm(form)
        credit_note = self._credit_notes_of(invoice)
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(refund.credit_note_id, credit_note)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note.amount_total, 100.0)
        self.assertEqual(credit_note.partner_id, invoice.partner_id)
        self.assertIn(self.reason_customer.name, credit_note.ref)
        self.assertIn(invoice.name, credit_note.ref)
        self.assertEqual(refund.state, "done")
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        self.assertEqual(tx.payment_id.reconciled_invoice_ids, invoice)
        self.assertAlmostEqual(self._partner_balance(), 0.0)
        # Its chatter says which refund pays it back, with the note.
        message = self._credit_note_messages(credit_note)
        self.assertEqual(len(message), 1)
        self.assertIn(refund.name, message.body)
        self.assertIn("Returned unopened", message.body)

    def test_payment_wizard_creates_the_credit_note(self):
        """account_payment's Refund wizard offers it too."""
        invoice, tx = self._paid_invoice(100.0)
        with self._open_payment_form(tx) as form:
            self.assertTrue(form.can_create_credit_note)
            form.create_credit_note = True
        form.record.action_refund()
        credit_note = self._credit_notes_of(invoice)
        refund = self._refunds_of(credit_note)
        self.assertEqual(refund.amount, 100.0)
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(credit_note.ref, f"Reversal of: {invoice.name}")

    def test_reason_text_in_the_customers_language(self):
        """The reason text is the reason's name in the customer's language."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.partner.lang = "fr_FR"
        self.reason_customer.sudo().with_context(
            lang="fr_FR"
        ).name = "Demande du client"
        invoice, tx = self._paid_invoice(100.0)
        refund = self._refund(
            tx,
            user=self.refund_user,
            reason=self.reason_customer,
            create_credit_note=True,
        )
        self.assertIn("Demande du client", refund.credit_note_id.ref)

    def test_creation_is_hidden_and_refused_when_not_a_full_refund(self):
        """Not the whole payment, or partly refunded already: hidden, refused."""
        invoice, tx = self._paid_invoice(100.0)
        with self.assertRaises(UserError):
            self._refund(tx, 60.0, user=self.refund_user, create_credit_note=True)
        self._refund(tx, 10.0, user=self.refund_user)
        with self._open_request(tx, user=self.refund_user) as form:
            self.assertFalse(form.can_create_credit_note)
            with self.assertRaises(AssertionError):
                form.create_credit_note = True
        with self.assertRaises(UserError):
            self._refund(tx, user=self.refund_user, create_credit_note=True)
        self.assertFalse(self._credit_notes_of(invoice))

    def test_creation_is_refused_for_an_invoice_paid_by_two_payments(self):
        invoice, txs = self._paid_invoice(40.0, 60.0)
        for tx in txs:
            self.assertTrue(tx._refund_proof_get_credit_note_blocker())
            with self.assertRaises(UserError):
                self._refund(tx, user=self.refund_user, create_credit_note=True)
        self.assertFalse(self._credit_notes_of(invoice))

    def test_creation_is_refused_when_the_invoice_has_a_credit_note(self):
        """A draft credit note already there: a second one would credit twice."""
        invoice, tx = self._paid_invoice(100.0)
        self._draft_credit_note(invoice)
        with self._open_request(tx, user=self.refund_user) as form:
            self.assertFalse(form.can_create_credit_note)
        with self.assertRaises(UserError):
            self._refund(tx, user=self.refund_user, create_credit_note=True)
        self.assertEqual(len(self._credit_notes_of(invoice)), 1)

    def test_creation_is_refused_without_invoice_or_manual(self):
        """A payment of no invoice, or a manual refund: no credit note created."""
        tx = self._create_paid_transaction(100.0)
        with self.assertRaises(UserError):
            self._refund(tx, user=self.refund_user, create_credit_note=True)
        invoice, tx = self._paid_invoice(100.0)
        with self.assertRaises(UserError):
            self._refund(
                tx, user=self.refund_user, create_credit_note=True, manual=True
            )
        self.assertFalse(self._credit_notes_of(invoice))
        self.assertFalse(tx.refund_ids)

    def test_creation_above_limit_waits_for_approval(self):
        """Above the user's limit: the credit note is created and posted, its open
        amount held by the refund awaiting approval."""
        invoice, tx = self._paid_invoice(100.0)
        refund = self._refund(tx, user=self.limited_accountant, create_credit_note=True)
        self.assertEqual(refund.state, "to_approve")
        credit_note = refund.credit_note_id
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note._refund_proof_get_open_amount(), 0.0)
        refund.with_user(self.refund_manager).action_approve()
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))


@tagged("-at_install", "post_install")
class TestCreditNoteLinkChatterAndApproval(CreditNoteLinkCase):
    def test_reason_and_note_posted_on_the_credit_note_escaped(self):
        """The refund's reason and note go to the credit note's chatter, the note
        escaped (the requester's text)."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice, amount=40.0)
        note = "<script>alert('x')</script> & <b>boxes</b>\nsecond line"
        with self._open_request(tx) as form:
            form.reason_id = self.reason_customer
            form.note = note
        refund = self._confirm(form)
        message = self._credit_note_messages(credit_note)
        self.assertEqual(len(message), 1)
        body = str(message.body)
        self.assertIn(refund.name, body)
        self.assertIn(self.reason_customer.name, body)
        self.assertNotIn("<script>", body)
        self.assertNotIn("<b>boxes", body)
        self.assertIn("&lt;b&gt;boxes&lt;/b&gt;", body)
        self.assertIn("second line", body)
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_note"))
        self.assertEqual(message.author_id, self.accountant.partner_id)

    def test_credit_note_wizard_posts_on_the_chatter_too(self):
        """The Refund to customer button's refunds post there as well, one each."""
        invoice, _txs = self._paid_invoice(40.0, 60.0)
        credit_note = self._credit_note(invoice)
        refunds = self._refund_credit_note(credit_note)
        messages = self._credit_note_messages(credit_note)
        self.assertEqual(len(messages), 2)
        for refund in refunds:
            self.assertTrue(any(refund.name in m.body for m in messages))

    def test_above_limit_holds_the_credit_note_until_approved(self):
        """Above the user's limit: awaiting approval, the credit note's open amount is
        held (a second request is refused); approved, done and reconciled."""
        invoice, tx = self._paid_invoice(100.0)
        credit_note = self._credit_note(invoice)
        with self._open_request(tx, user=self.limited_accountant) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            self.assertIn("above your refund limit", form.approval_reasons)
        refund = self._confirm(form)
        self.assertEqual(refund.state, "to_approve")
        self.assertEqual(refund.credit_note_id, credit_note)
        self.assertFalse(refund.transaction_ids)
        with self._open_request(tx) as form:
            self.assertFalse(form.available_credit_note_ids, "its amount is held")
        with self.assertRaises(UserError):
            self._refund(tx, 1.0, user=self.accountant, credit_note=credit_note)
        refund.with_user(self.refund_manager).action_approve()
        self.assertEqual(refund.state, "done")
        payment = self._settle(refund)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))


@tagged("-at_install", "post_install")
class TestCreditNoteLinkMultiCurrency(CreditNoteLinkCase):
    """An invoice in EUR in a company keeping its books in another currency."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.currency_euro
        cls.eur.active = True
        # The invoice is dated 2019-01-01 (init_invoice); its payment, credit note and
        # refund are today's, at another rate.
        cls.env["res.currency.rate"].create(
            [
                {
                    "name": "2019-01-01",
                    "rate": 2.0,
                    "currency_id": cls.eur.id,
                    "company_id": cls.env.company.id,
                },
                {
                    "name": fields.Date.today(),
                    "rate": 2.5,
                    "currency_id": cls.eur.id,
                    "company_id": cls.env.company.id,
                },
            ]
        )

    def test_eur_credit_note_refunded_in_a_usd_company(self):
        """The credit note (Odoo's reversal wizard, today's rate) is paid by the
        refund's payment alone, at the same rate: no exchange difference between
        them. The invoice, booked at 2019's rate and paid today, gets Odoo's exchange
        difference entry when its payment is reconciled (Odoo's own behaviour); the
        partner's receivable then balances to 0 in the company currency, exchange
        difference included, and to 0 in EUR."""
        company_currency = self.env.company.currency_id
        self.assertNotEqual(company_currency, self.eur)
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.partner,
            amounts=[100.0],
            taxes=[],
            post=True,
            currency=self.eur,
        )
        self.assertEqual(invoice.amount_total_signed, 50.0)
        tx = self._create_paid_transaction(
            100.0, currency_id=self.eur.id, invoice_ids=[Command.set(invoice.ids)]
        )
        self.assertEqual(tx.payment_id.currency_id, self.eur)
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        invoice_exchange = invoice.line_ids.matched_credit_ids.exchange_move_id
        self.assertEqual(len(invoice_exchange), 1, "Odoo books the rate difference")

        credit_note = self._credit_note(invoice)
        self.assertEqual(credit_note.currency_id, self.eur)
        self.assertEqual(credit_note.amount_total_signed, -40.0, "today's rate")
        with self._open_request(tx) as form:
            self.assertEqual(form.credit_note_id, credit_note)
            self.assertEqual(form.amount, 100.0)
        refund = self._confirm(form)
        self.assertEqual(refund.currency_id, self.eur)
        payment = self._settle(refund)
        self.assertEqual(payment.currency_id, self.eur)
        self.assertEqual(payment.amount, 100.0)
        self._assert_reconciled_with_only(payment, credit_note)
        self.assertEqual(credit_note.payment_state, self._paid_state(credit_note))
        self.assertTrue(self.eur.is_zero(credit_note.amount_residual))
        self.assertEqual(invoice.payment_state, self._paid_state(invoice))
        partials = credit_note.line_ids.matched_debit_ids
        self.assertFalse(partials.exchange_move_id, "same rate: no difference")

        lines = self.env["account.move.line"].search(
            [
                ("partner_id", "=", self.partner.commercial_partner_id.id),
                ("account_id.account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
            ]
        )
        self.assertIn(invoice_exchange, lines.move_id)
        self.assertTrue(company_currency.is_zero(sum(lines.mapped("balance"))))
        self.assertTrue(
            self.eur.is_zero(
                sum(
                    lines.filtered(lambda line: line.currency_id == self.eur).mapped(
                        "amount_currency"
                    )
                )
            )
        )
        self.assertTrue(all(line.reconciled for line in lines))
