import xmlrpc.client
from datetime import datetime

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .test_refund_proof import ProofCommon

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@tagged("-at_install", "post_install")
class TestHostileInput(ProofCommon, HttpCase):
    def test_bad_amounts_table(self):
        """Every bad amount is refused with a clear error and nothing is written."""
        tx = self._create_paid_transaction(100.0)
        cases = [
            (0, ValidationError, "must be positive"),
            (-0.01, ValidationError, "must be positive"),
            (-1e12, ValidationError, "must be positive"),
            (0.004, ValidationError, "must be positive"),
            (100.006, ValidationError, "can still be refunded"),
            (1e15, ValidationError, "can still be refunded"),
            (float("inf"), ValidationError, "must be a number"),
            (float("nan"), ValidationError, "must be a number"),
            # JSON booleans and strings reach `action_refund` from any RPC client:
            # true was refunded as 1.00.
            (True, ValidationError, "must be a number"),
            (False, ValidationError, "must be a number"),
            ("12", ValidationError, "must be a number"),
        ]
        for amount, error, message in cases:
            with self.subTest(amount=amount), self.assertRaisesRegex(error, message):
                with self.cr.savepoint():
                    self._refund(tx, amount)
        self.assertFalse(tx.refund_ids)

    def test_bad_arns_table(self):
        """ARNs: typos, wrong lengths, punctuation and markup are refused."""
        refund = self._done_refund()
        for value in (
            "74612345678901234567894",
            "123",
            "A" * 31,
            "ref;drop table",
            SCRIPT,
            "ＡＢＣＤ１２３４５６７８",
            "٧٤٦١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٣",  # 23 Arabic-Indic digits
            # Other scripts are never case-folded into ASCII: "STRASSE1234",
            # "IABCDEFGH1" would pass as bank references.
            "straße 1234",
            "ıabcdefgh1",
            "ﬀ12345678",
        ):
            with self.subTest(arn=value), self.assertRaises(ValidationError):
                with self.cr.savepoint():
                    refund.with_user(self.refund_user).arn = value
        self.assertFalse(refund.arn)

    def test_amount_as_json_boolean_over_rpc_is_refused(self):
        """`action_refund(amount_to_refund=true)` over XML-RPC: refused, nothing
        refunded (it made a 1.00 refund)."""
        tx = self._create_paid_transaction(100.0)
        self._give_groups(self.refund_user, "account.group_account_invoice")
        with (
            mute_logger("odoo.http"),
            self.assertRaisesRegex(xmlrpc.client.Fault, "must be a number"),
        ):
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                self.refund_user.id,
                self.refund_user.login,
                "payment.transaction",
                "action_refund",
                [[tx.id]],
                {"amount_to_refund": True},
            )
        self.assertFalse(tx.refund_ids)

    def test_manual_refund_date_between_the_payment_and_now(self):
        """A manual refund is paid between the payment and now: 2099 and 1999 are
        refused with the dates in the message, nothing written; the payment's minute
        and now are accepted."""
        tx = self._create_paid_transaction(100.0)
        paid_on = tx.last_state_change
        for date in (datetime(2099, 1, 1), datetime(1999, 1, 1)):
            with (
                self.subTest(date=date),
                self.assertRaisesRegex(ValidationError, "between the payment"),
                self.cr.savepoint(),
            ):
                self._refund(tx, 1.0, manual=True, refund_date=date)
        self.assertFalse(tx.refund_ids)
        refund = self._refund(
            tx, 1.0, user=self.refund_manager, manual=True, refund_date=paid_on
        )
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.refund_date, paid_on)

    def test_currency_of_another_payment_cannot_be_forced(self):
        """A refund is in the source payment's currency; a manager cannot change it."""
        tx = self._create_paid_transaction(100.0)
        refund = self._refund(tx, 10.0)
        other = (
            self.currency_usd
            if tx.currency_id != self.currency_usd
            else self.currency_euro
        )
        for field, value in (
            ("currency_id", other.id),
            ("amount", 1.0),
            ("partner_id", self.partner.id),
            ("company_id", self.env.company.id),
            ("source_transaction_id", tx.id),
        ):
            with (
                self.subTest(field=field),
                self.assertRaisesRegex(UserError, "cannot be changed"),
                self.cr.savepoint(),
            ):
                refund.with_user(self.refund_manager).write({field: value})
        self.assertEqual(refund.currency_id, tx.currency_id)
        self.assertNotEqual(tx.currency_id, other)

    def test_markup_in_notes_and_reasons_is_escaped_everywhere(self):
        """HTML/JS typed in a note or a reason is shown as text on the proof, the
        portal and the verification page."""
        reason = (
            self.env["payment.refund.reason"]
            .with_user(self.refund_manager)
            .create({"name": SCRIPT})
        )
        tx = self._create_paid_transaction(100.0, partner_id=self.portal_partner.id)
        refund = self._refund(tx, 10.0, reason=reason, note=SCRIPT + "x" * 20000)
        self.assertEqual(
            len(refund.note), len(SCRIPT) + 20000, "long notes are kept whole"
        )
        proof = self._html(refund)
        self.assertNotIn("<script>alert", proof)
        self.assertIn("&lt;script&gt;", proof)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for url in (f"/my/refunds/{refund.id}", "/my/refunds", refund.verification_url):
            with self.subTest(url=url):
                page = self.url_open(url).text
                self.assertNotIn("<script>alert", page)
                self.assertNotIn("onerror=alert", page.replace("&lt;img", ""))

    def test_forged_truncated_replayed_tokens(self):
        """Forged or truncated tokens get 404; replayed after revocation: Revoked."""
        refund = self._done_refund()
        token = refund._get_verification_token()
        for bad in (
            token[:-1],
            token + "0",
            token.upper(),
            token.replace(".", ""),
            "../" + token,
            f"{token}%00",
            "%s" % ("a" * 5000),
        ):
            with self.subTest(token=bad[:40]):
                response = self.url_open(f"/refund-proof/verify/{bad}")
                self.assertEqual(response.status_code, 404)
        refund.transaction_ids._set_error("Reversed", extra_allowed_states=("done",))
        self.assertIn("Revoked", self.url_open(f"/refund-proof/verify/{token}").text)

    def test_portal_id_enumeration_gives_nothing(self):
        """Walking refund ids on the portal never shows another customer's refund."""
        others = [
            self._refund(self._create_paid_transaction(50.0), 5.0) for _i in range(3)
        ]
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for refund_id in [r.id for r in others] + [others[-1].id + 1000, 0, -1]:
            with self.subTest(refund_id=refund_id):
                response = self.url_open(
                    f"/my/refunds/{refund_id}", allow_redirects=False
                )
                self.assertIn(response.status_code, (303, 404))
                self.assertNotIn("RF/", response.text)

    @mute_logger("odoo.http")
    def test_private_methods_are_not_reachable_over_rpc(self):
        """RPC cannot call the private paths, even for a refund manager."""
        refund = self._done_refund()
        uid = self.refund_manager.id
        for model, method, args in (
            ("payment.refund", "_send_to_provider", [[refund.id]]),
            ("payment.refund", "_issue", [[refund.id]]),
            ("payment.refund", "_cron_send_customer_mails", []),
            ("payment.refund", "_get_by_verification_token", ["x"]),
            ("payment.refund", "_demo_populate", []),
            (
                "payment.transaction",
                "_lock_for_refund",
                [[refund.source_transaction_id.id]],
            ),
        ):
            with self.subTest(method=method):
                with self.assertRaisesRegex(xmlrpc.client.Fault, "Private methods"):
                    self.xmlrpc_object.execute_kw(
                        self.env.cr.dbname,
                        uid,
                        self.refund_manager.login,
                        model,
                        method,
                        args,
                        {},
                    )

    def test_reason_requiring_a_note_cannot_be_bypassed_on_approval(self):
        """A note-requiring reason is checked whatever the entry point."""
        with self.assertRaisesRegex(ValidationError, "requires a note"):
            with self.cr.savepoint():
                self._refund(
                    self._create_paid_transaction(), 10.0, reason=self.reason_fraud
                )

    def test_plain_user_cannot_read_refunds(self):
        """An employee without refund or accounting rights cannot read refunds."""
        refund = self._done_refund()
        with self.assertRaises(AccessError):
            refund.with_user(self.plain_user).read(["amount"])
