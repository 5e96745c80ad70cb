"""When the refund to the card fails: the customer chooses a bank transfer instead
(issue 26, first slice): the offer, the choice page, the new refund awaiting
approval."""

import re
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from odoo.addons.refund_proof.const import PAYOUT_REFUSAL_LIMIT
from odoo.addons.refund_proof.utils import mask_iban

from ..refund_factories import RefundProofCommon

GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"
BAD_IBAN = "FR76 3000 6000 0112 3456 7890 188"
# Valid IBANs of SEPA countries outside the EEA (their banks' published examples).
CH_IBAN = "CH93 0076 2011 6238 5295 7"
GB_IBAN = "GB29 NWBK 6016 1331 9268 19"


@tagged("-at_install", "post_install")
class TestRefundPayout(RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner.write({"email": "norbert.buyer@example.com"})

    def setUp(self):
        super().setUp()
        # The provider refuses the refund (an expired card): the refund fails.
        self.dummy_provider.support_refund = "partial"
        self.dummy_provider.payment_method_ids.support_refund = "partial"
        tx = self._create_paid_transaction(100.0, provider=self.dummy_provider)
        self.tx = tx
        self.failed = self._refund(tx, 40.0, reason=self.reason_customer)
        self.failed.transaction_ids._set_error("expired_or_canceled_card")
        self.assertEqual(self.failed.state, "failed")

    def _offer(self):
        self.failed.with_user(self.refund_manager).action_offer_payout()
        return self.failed.get_portal_url(suffix="/payout")

    def _form(self, url):
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        self.assertTrue(csrf, "the choice page has a form with its CSRF token")
        return csrf.group(1)

    def _post(self, url, iban, csrf=None, **values):
        data = {
            "csrf_token": csrf or self._form(url),
            "access_token": self.failed.access_token,
            "method": "bank_transfer",
            "holder": "Norbert Buyer",
            "iban": iban,
            "bic": "",
            **values,
        }
        return self.url_open(f"/my/refunds/{self.failed.id}/payout", data=data)

    def _replacements(self):
        return self.env["payment.refund"].search(
            [("replaced_refund_id", "=", self.failed.id)]
        )

    def test_mask_iban(self):
        """An IBAN shows its country, check digits and last four characters only."""
        self.assertEqual(mask_iban(GOOD_IBAN), "FR76 •••• •••• 0189")
        self.assertEqual(mask_iban("FR76"), "••••")

    def test_offer_queues_the_mail_with_the_link(self):
        """The offer e-mails the customer the choice page's link, and says so."""
        url = self._offer()
        self.assertTrue(self.failed.payout_offer_date)
        mail = self.env["mail.mail"].search(
            [
                ("model", "=", "payment.refund"),
                ("res_id", "=", self.failed.id),
                ("recipient_ids", "in", self.partner.ids),
            ]
        )
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing", "queued, sent after the commit")
        self.assertIn(
            f"/my/refunds/{self.failed.id}/payout?access_token="
            f"{self.failed.access_token}",
            mail.body_html,
        )
        self.assertIn(url, mail.body_html)

    def test_non_manager_cannot_offer(self):
        """A refund user (not a manager) cannot offer another way, over the ORM."""
        with self.assertRaises(AccessError):
            self.failed.with_user(self.refund_user).action_offer_payout()
        self.assertFalse(self.failed.payout_offer_date)

    def test_form_is_shown_with_the_token(self):
        """The link opens the choice form, bank transfer only for now."""
        url = self._offer()
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        self.assertIn('name="iban"', page.text)
        self.assertIn("bank transfer is the way offered for now", page.text)

    def test_no_form_before_an_offer(self):
        """Without an offer, the link shows nothing."""
        self.failed._portal_ensure_token()
        url = self.failed.get_portal_url(suffix="/payout")
        self.assertEqual(self.url_open(url).status_code, 404)

    def test_bad_iban_is_refused_and_nothing_is_created(self):
        """An IBAN whose check digits are wrong is refused with a clear message."""
        url = self._offer()
        response = self._post(url, BAD_IBAN)
        self.assertEqual(response.status_code, 400)
        self.assertIn("This IBAN is not valid", response.text)
        self.assertFalse(self._replacements())
        self.assertAlmostEqual(self.tx.refund_remaining_amount, 100.0)

    def test_good_iban_makes_a_refund_awaiting_approval(self):
        """A valid IBAN makes a new refund of the failed amount, awaiting a manager's
        approval with its reason, linked to the failed one, masked for the customer;
        the failed refund holds nothing, the new one reserves."""
        url = self._offer()
        response = self._post(url, GOOD_IBAN)
        self.assertEqual(response.status_code, 200)
        self.assertIn("FR76 •••• •••• 0189", response.text)
        self.assertNotIn("30006000011234567890189", response.text)
        new = self._replacements()
        self.assertEqual(len(new), 1)
        self.assertEqual(new.state, "to_approve")
        self.assertEqual(new.origin, "manual")
        self.assertEqual(new.manual_method, "bank_transfer")
        self.assertAlmostEqual(new.amount, 40.0)
        self.assertEqual(new.replaced_refund_id, self.failed)
        self.assertEqual(self.failed.replacement_refund_ids, new)
        self.assertIn("The customer typed the bank account", new.approval_reasons)
        self.assertEqual(new.payout_iban_display, "FR76 •••• •••• 0189")
        self.assertEqual(new.payout_account_holder, "Norbert Buyer")
        self.assertEqual(
            new.with_user(self.refund_manager).payout_iban,
            "FR7630006000011234567890189",
        )
        self.assertAlmostEqual(self.tx.refund_remaining_amount, 60.0)
        # Nothing of the IBAN in the chatter but its mask.
        messages = (self.failed | new).message_ids
        bodies = " ".join(messages.mapped("body"))
        self.assertIn("FR76 •••• •••• 0189", bodies)
        self.assertNotIn("3456", bodies)

    def test_iban_is_for_managers_only(self):
        """A refund user reads the masked IBAN, not the IBAN."""
        self._post(self._offer(), GOOD_IBAN)
        new = self._replacements().with_user(self.refund_user)
        self.assertEqual(new.payout_iban_display, "FR76 •••• •••• 0189")
        with self.assertRaises(AccessError):
            new.read(["payout_iban"])

    def test_second_post_is_refused(self):
        """One choice per offer: a second post is refused and creates nothing."""
        url = self._offer()
        csrf = self._form(url)
        self._post(url, GOOD_IBAN, csrf=csrf)
        second = self._post(url, "DE89 3704 0044 0532 0130 00", csrf=csrf)
        self.assertEqual(second.status_code, 409)
        self.assertIn("You already chose how to be paid back", second.text)
        self.assertEqual(len(self._replacements()), 1)

    def test_wrong_token_is_refused(self):
        """Another token (another customer's refund, or none) opens nothing."""
        url = self._offer()
        csrf = self._form(url)
        other_tx = self._create_paid_transaction(50.0, provider=self.dummy_provider)
        other = self._refund(other_tx, 10.0, manual=True)
        other._portal_ensure_token()
        for token in (other.access_token, "0" * 36, ""):
            page = self.url_open(
                f"/my/refunds/{self.failed.id}/payout?access_token={token}"
            )
            self.assertEqual(page.status_code, 404)
            response = self._post(url, GOOD_IBAN, csrf=csrf, access_token=token)
            self.assertEqual(response.status_code, 404)
        self.assertFalse(self._replacements())

    def test_approved_transfer_waits_for_its_confirmation(self):
        """A manager approves the customer's transfer like any request: it is then
        pending, with no proof and no "refunded" e-mail, until a manager confirms the
        transfer with the bank's reference; then it is done, the reference on it and
        its e-mail queued. The failed refund stays failed."""
        self._post(self._offer(), GOOD_IBAN)
        new = self._replacements()
        new.with_user(self.refund_manager).action_approve()
        self.assertEqual(new.state, "pending")
        self.assertFalse(new.customer_mail_pending)
        self.assertFalse(new.proof_pending)
        with self.assertRaises(AccessError):
            new.with_user(self.refund_user).action_confirm_transfer("FRBANK20261206")
        with self.assertRaisesRegex(UserError, "reference"):
            new.with_user(self.refund_manager).action_confirm_transfer(" ")
        self.assertEqual(new.state, "pending")
        new.with_user(self.refund_manager).action_confirm_transfer("FRBANK20261206")
        self.assertRecordValues(
            new,
            [{"state": "done", "arn": "FRBANK20261206", "arn_type": "bank_reference"}],
        )
        self.assertEqual(new.customer_mail_pending, "done")
        self.assertEqual(self.failed.state, "failed")
        with self.assertRaisesRegex(UserError, "not an approved bank transfer"):
            new.with_user(self.refund_manager).action_confirm_transfer("FRBANK2")

    def test_replaced_refund_is_not_retried(self):
        """A failed refund the customer's transfer replaces is not sent again."""
        self._post(self._offer(), GOOD_IBAN)
        with self.assertRaisesRegex(UserError, "which the customer chose"):
            self.failed.with_user(self.refund_user).action_retry()
        self.assertEqual(self.failed.state, "failed")

    def test_replacement_is_not_approved_once_the_card_refund_went_through(self):
        """The provider's late answer makes the failed refund done: its replacement
        can no longer be approved (the amount would go out twice)."""
        self._post(self._offer(), GOOD_IBAN)
        new = self._replacements()
        self.failed.transaction_ids._set_done(extra_allowed_states=("error",))
        self.assertEqual(self.failed.state, "done")
        with self.assertRaisesRegex(UserError, "no longer owed"):
            new.with_user(self.refund_manager).action_approve()
        self.assertEqual(new.state, "to_approve")

    def test_offer_and_page_in_the_customer_language(self):
        """A French customer gets the offer, the page and its errors in French."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["refund_proof"], ["fr_FR"], overwrite=True
        )
        self.partner.lang = "fr_FR"
        url = self._offer()
        mail = self.env["mail.mail"].search(
            [
                ("model", "=", "payment.refund"),
                ("res_id", "=", self.failed.id),
                ("recipient_ids", "in", self.partner.ids),
            ]
        )
        self.assertIn("Nous avons tenté de rembourser", mail.body_html)
        self.assertIn("n'a pas pu être versé sur votre carte", mail.subject)
        page = self.url_open(url)
        self.assertIn("Nous n'avons pas pu rembourser", page.text)
        response = self._post(url, BAD_IBAN)
        self.assertIn("vérifiez son code pays", response.text)

    # === ISSUE 26: METHODS, BIC, RATE LIMIT === #

    def test_core_offers_the_bank_transfer(self):
        """The core's ways to be paid back: a bank transfer."""
        self.assertEqual(
            [code for code, _label in self.failed._get_payout_methods()],
            ["bank_transfer"],
        )

    def test_method_not_offered_is_refused(self):
        """A method the page does not offer (or none) is refused, nothing created."""
        url = self._offer()
        csrf = self._form(url)
        for method in ("cash", "store_credit", ""):
            response = self._post(url, GOOD_IBAN, csrf=csrf, method=method)
            self.assertEqual(response.status_code, 400, method)
            self.assertIn("Please choose one of the ways", response.text)
        self.assertFalse(self._replacements())

    def test_hook_refuses_an_unknown_method(self):
        """Without a bridge for it, a method is refused by the bridges' hook."""
        with self.assertRaisesRegex(UserError, "Please choose one of the ways"):
            self.failed.sudo()._refund_proof_request_payout("cash")

    def test_bic_required_for_a_swiss_iban(self):
        """An IBAN of a SEPA country outside the EEA needs the BIC: refused without
        it, with a clear error and nothing created; accepted with it."""
        url = self._offer()
        csrf = self._form(url)
        response = self._post(url, CH_IBAN, csrf=csrf)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Please give the BIC of your bank", response.text)
        self.assertFalse(self._replacements())
        response = self._post(url, CH_IBAN, csrf=csrf, bic="UBSWCHZH80A")
        self.assertEqual(response.status_code, 200)
        new = self._replacements()
        self.assertRecordValues(
            new, [{"state": "to_approve", "payout_bic": "UBSWCHZH80A"}]
        )

    def test_bic_rules_by_country(self):
        """The BIC is required for the non-EEA SEPA countries (GB, CH...), optional
        in the EEA (FR)."""
        Refund = self.env["payment.refund"]
        for iban in (CH_IBAN, GB_IBAN):
            with self.assertRaisesRegex(UserError, "Please give the BIC"):
                Refund._validate_payout_account("Norbert Buyer", iban)
        account = Refund._validate_payout_account("Norbert Buyer", GOOD_IBAN)
        self.assertFalse(account["bic"])
        account = Refund._validate_payout_account("Norbert Buyer", GB_IBAN, "NWBKGB2L")
        self.assertEqual(account["bic"], "NWBKGB2L")

    def test_rate_limit_answers_429_and_creates_nothing(self):
        """After PAYOUT_REFUSAL_LIMIT refused posts within the hour, the page answers
        429 in the customer's language, even to a good post, and creates nothing;
        the count is the database's. Once the hour has passed, a good post works."""
        url = self._offer()
        csrf = self._form(url)
        for _attempt in range(PAYOUT_REFUSAL_LIMIT):
            response = self._post(url, BAD_IBAN, csrf=csrf)
            self.assertEqual(response.status_code, 400)
        self.failed.invalidate_recordset()
        self.assertEqual(self.failed.payout_refused_count, PAYOUT_REFUSAL_LIMIT)
        response = self._post(url, GOOD_IBAN, csrf=csrf)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many attempts", response.text)
        self.assertFalse(self._replacements())
        self.assertAlmostEqual(self.tx.refund_remaining_amount, 100.0)
        # The window ends an hour after the first refusal.
        self.failed.sudo().payout_refused_since -= timedelta(hours=1, minutes=1)
        self.failed.flush_recordset()
        response = self._post(url, GOOD_IBAN, csrf=csrf)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self._replacements()), 1)

    def test_rate_limit_in_the_customer_language(self):
        """The 429 page speaks French to a French customer."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["refund_proof"], ["fr_FR"], overwrite=True
        )
        self.partner.lang = "fr_FR"
        url = self._offer()
        self.failed.sudo().write(
            {
                "payout_refused_count": PAYOUT_REFUSAL_LIMIT,
                "payout_refused_since": fields.Datetime.now(),
            }
        )
        response = self._post(url, GOOD_IBAN)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Trop de tentatives", response.text)
        self.assertFalse(self._replacements())

    def test_proof_line_is_empty_by_default(self):
        """The core says nothing of how the money came back (bridges do)."""
        self.assertEqual(self.failed._get_payout_proof_line(), "")
