"""Store credit on the customer's eWallet when the refund to the card failed
(refund_proof_loyalty, issue 26): offered with an eWallet program only, chosen through
the choice page, done at once, the card credited through loyalty's models with its
history, one transaction with the refund's done state, the proof's sentence."""

import re
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools.misc import format_date

from ..refund_factories import RefundProofCommon

GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"


@tagged("-at_install", "post_install")
class TestLoyaltyPayout(RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com"})
        cls.program = cls.env["loyalty.program"].create(
            {
                "name": "Shop eWallet",
                "program_type": "ewallet",
                "trigger": "auto",
                "applies_on": "future",
                "currency_id": cls.currency.id,
                "reward_ids": [
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount_mode": "per_point",
                            "discount": 1,
                        }
                    )
                ],
                "rule_ids": [
                    Command.create(
                        {"reward_point_amount": "1", "reward_point_mode": "money"}
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        # The provider refuses the refund (an expired card): the refund fails.
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        self.tx = self._create_paid_transaction(100.0, provider=self.dummy_provider)
        self.failed = self._refund(self.tx, 40.0, reason=self.reason_customer)
        self.failed.transaction_ids._set_error("expired_or_canceled_card")
        self.assertEqual(self.failed.state, "failed")

    def _offer(self):
        self.failed.with_user(self.refund_manager).action_offer_payout()
        return self.failed.get_portal_url(suffix="/payout")

    def _form(self, url):
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _post(self, url, method="store_credit", csrf=None, **values):
        data = {
            "csrf_token": csrf or self._form(url),
            "access_token": self.failed.access_token,
            "method": method,
            "holder": "",
            "iban": "",
            "bic": "",
            **values,
        }
        return self.url_open(f"/my/refunds/{self.failed.id}/payout", data=data)

    def _replacements(self):
        return self.env["payment.refund"].search(
            [("replaced_refund_id", "=", self.failed.id)]
        )

    def _cards(self):
        return self.env["loyalty.card"].search(
            [("program_id", "=", self.program.id), ("partner_id", "=", self.partner.id)]
        )

    def test_store_credit_is_offered_with_an_ewallet_program(self):
        """With an active eWallet program, the page offers store credit beside the
        bank transfer, as radio buttons."""
        self.assertEqual(
            [code for code, _label in self.failed._get_payout_methods()],
            ["bank_transfer", "store_credit"],
        )
        page = self.url_open(self._offer())
        self.assertIn('value="store_credit"', page.text)
        self.assertIn('value="bank_transfer"', page.text)
        self.assertIn("Store credit (eWallet)", page.text)

    def test_store_credit_is_not_offered_without_an_ewallet_program(self):
        """Without an active eWallet program (archived, or in another currency),
        store credit is neither shown nor accepted."""
        self.program.active = False
        self.assertEqual(
            [code for code, _label in self.failed._get_payout_methods()],
            ["bank_transfer"],
        )
        url = self._offer()
        page = self.url_open(url)
        self.assertNotIn('value="store_credit"', page.text)
        response = self._post(url)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Please choose one of the ways", response.text)
        self.assertFalse(self._replacements())
        self.assertFalse(self._cards())
        self.program.active = True
        other = self.env.ref("base.EUR")
        if other == self.currency:
            other = self.env.ref("base.USD")
        self.program.currency_id = other
        self.assertNotIn("store_credit", dict(self.failed._get_payout_methods()))

    def test_store_credit_through_the_page(self):
        """Store credit chosen on the page: a new refund of the failed amount, done at
        once (no approval), linked to the failed one; the customer's eWallet card
        created and credited, its history naming the refund; the cap counts it; a
        second post is refused (409)."""
        url = self._offer()
        csrf = self._form(url)
        response = self._post(url, csrf=csrf)
        self.assertEqual(response.status_code, 200)
        new = self._replacements()
        self.assertEqual(len(new), 1)
        self.assertRecordValues(
            new,
            [
                {
                    "state": "done",
                    "origin": "manual",
                    "manual_method": "store_credit",
                    "amount": 40.0,
                    "replaced_refund_id": self.failed.id,
                    "approval_reasons": False,
                }
            ],
        )
        card = self._cards()
        self.assertEqual(len(card), 1)
        self.assertEqual(new.payout_loyalty_card_id, card)
        self.assertAlmostEqual(card.points, 40.0)
        self.assertEqual(len(card.history_ids), 1)
        self.assertRecordValues(
            card.history_ids,
            [
                {
                    "issued": 40.0,
                    "used": 0.0,
                    "order_model": "payment.refund",
                    "order_id": new.id,
                }
            ],
        )
        self.assertIn(new.name, card.history_ids.description)
        self.assertEqual(card.history_ids._get_order_portal_url(), new.get_portal_url())
        self.assertEqual(self.failed.state, "failed")
        self.assertAlmostEqual(self.tx.refund_remaining_amount, 60.0)
        self.assertIn(f"•••• {card.code[-4:]}", response.text)
        second = self._post(url, csrf=csrf)
        self.assertEqual(second.status_code, 409)
        self.assertIn("You already chose how to be paid back", second.text)
        self.assertEqual(len(self._replacements()), 1)
        self.assertAlmostEqual(card.points, 40.0)

    def test_existing_card_is_credited(self):
        """The customer's eWallet card, when they have one, is the one credited."""
        card = self.env["loyalty.card"].create(
            {"program_id": self.program.id, "partner_id": self.partner.id, "points": 10}
        )
        self._post(self._offer())
        self.assertEqual(self._cards(), card)
        self.assertAlmostEqual(card.points, 50.0)
        self.assertEqual(self._replacements().payout_loyalty_card_id, card)

    def test_bank_transfer_is_still_offered(self):
        """Beside store credit, a bank transfer still waits for approval."""
        response = self._post(
            self._offer(),
            method="bank_transfer",
            holder="Norbert Buyer",
            iban=GOOD_IBAN,
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self._replacements().state, "to_approve")
        self.assertFalse(self._cards())

    def test_crediting_fails_nothing_is_done(self):
        """If crediting the eWallet fails, the refund is not done either: no refund,
        no card line, no points, and the customer may choose again."""
        self._offer()
        History = self.registry["loyalty.history"]
        create = History.create

        def create_then_fail(records, vals_list):
            create(records, vals_list)
            raise UserError("The eWallet is closed for maintenance.")

        with patch.object(History, "create", create_then_fail):
            answer = self.failed.sudo()._post_payout_choice("store_credit")
        self.assertEqual(answer["status"], 400)
        self.assertIn("closed for maintenance", answer["error"])
        self.assertFalse(self._replacements())
        self.assertFalse(
            self.env["loyalty.history"].search([("order_model", "=", "payment.refund")])
        )
        self.assertFalse(self._cards())
        self.assertAlmostEqual(self.tx.refund_remaining_amount, 100.0)
        answer = self.failed.sudo()._post_payout_choice("store_credit")
        self.assertEqual(answer["status"], 200)
        self.assertEqual(answer["refund"].state, "done")

    def test_proof_line_of_store_credit(self):
        """The proof's sentence names the masked card and the date."""
        card = self.env["loyalty.card"].create(
            {
                "program_id": self.program.id,
                "partner_id": self.partner.id,
                "code": "044-TEST-8842",
            }
        )
        self._offer()
        new = self.failed.sudo()._post_payout_choice("store_credit")["refund"]
        self.assertEqual(new.payout_loyalty_card_id, card)
        self.assertEqual(
            new._get_payout_proof_line(),
            "Credited to your store credit (card •••• 8842) on "
            f"{format_date(self.env, new.refund_date)}. Replaces refund "
            f"{self.failed.name} to {self.failed.payment_method_display}, which "
            f"failed: {self.failed._get_payout_failure_words()}.",
        )
        self.assertEqual(self.failed._get_payout_proof_line(), "")

    def test_store_credit_in_the_customer_language(self):
        """A French customer's page offers "Avoir en boutique", and the eWallet's
        history line and the proof's sentence are in French."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["refund_proof", "refund_proof_loyalty"], ["fr_FR"], overwrite=True
        )
        self.partner.lang = "fr_FR"
        url = self._offer()
        page = self.url_open(url)
        self.assertIn("Avoir en boutique (eWallet)", page.text)
        response = self._post(url)
        self.assertEqual(response.status_code, 200)
        new = self._replacements()
        self.assertIn(
            "le remboursement sur votre carte", self._cards().history_ids.description
        )
        line = new.with_context(lang="fr_FR")._get_payout_proof_line()
        self.assertTrue(
            line.startswith("Crédité sur votre avoir en boutique (carte ••••"), line
        )
