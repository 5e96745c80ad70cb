from unittest import TestCase as PlainTestCase
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.refund_proof.utils import (
    ARN,
    BANK_REFERENCE,
    classify_arn,
    format_arn,
    normalize_arn,
)

from ..refund_factories import RefundProofCommon

VALID_ARN = "74612345678901234567893"  # Luhn mod-10 over its 23 digits


class TestArnRules(PlainTestCase):
    """The pure ARN rules, without Odoo."""

    def test_normalize_strips_spaces_and_dashes(self):
        self.assertEqual(normalize_arn(" 7 461234-5678 9012-3456 7893 "), VALID_ARN)
        self.assertEqual(normalize_arn("ab-cd 1234 56"), "ABCD123456")
        self.assertFalse(normalize_arn(" - "))
        self.assertFalse(normalize_arn(False))

    def test_every_single_digit_typo_is_refused(self):
        """The Luhn check over the 23 digits catches any one mistyped digit."""
        for position, digit in enumerate(VALID_ARN):
            for typo in set("0123456789") - {digit}:
                value = VALID_ARN[:position] + typo + VALID_ARN[position + 1 :]
                with self.subTest(value=value):
                    self.assertIsNone(classify_arn(value))

    def test_classify(self):
        cases = {
            VALID_ARN: ARN,
            "24500006000123456789017": ARN,
            "74612345678901234567894": None,  # 23 digits, wrong check digit: a typo
            "RE1A2B3C4D": BANK_REFERENCE,
            "12345678": BANK_REFERENCE,  # 8 characters: the shortest reference
            "1234567": None,
            "A" * 30: BANK_REFERENCE,
            "A" * 31: None,
            "ABC.12345": None,
            "ÉCLAIR12345": None,
            "٧٤٦١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٣": None,  # digits, but not ASCII ones
        }
        for value, expected in cases.items():
            with self.subTest(value=value):
                self.assertEqual(classify_arn(value), expected)

    def test_format_groups_an_arn(self):
        self.assertEqual(format_arn(VALID_ARN), "7 461234 5678 90123456789 3")
        self.assertEqual(format_arn("RE1A2B3C4D"), "RE1A2B3C4D")
        self.assertEqual(format_arn(False), "")


@tagged("-at_install", "post_install")
class TestRefundArn(RefundProofCommon):
    def test_arn_given_with_the_refund_is_normalized(self):
        """An ARN typed with spaces and dashes is stored as 23 digits, labelled ARN."""
        refund = self._refund(
            self._create_paid_transaction(), 10.0, arn="7461 2345-6789 0123 4567 893"
        )
        self.assertEqual(refund.arn, VALID_ARN)
        self.assertEqual(refund.arn_type, "arn")
        self.assertEqual(refund.arn_display, "7 461234 5678 90123456789 3")

    def test_arn_added_days_later(self):
        """The ARN usually arrives later: it can be filled on a done refund."""
        refund = self._refund(self._create_paid_transaction(), 10.0)
        self.assertFalse(refund.arn)
        refund.with_user(self.refund_user).arn = VALID_ARN
        self.assertEqual(refund.arn_type, "arn")

    def test_bank_reference_is_not_called_an_arn(self):
        """Another reference of 8-30 letters and digits is a bank reference."""
        refund = self._refund(
            self._create_paid_transaction(), 10.0, arn="ref-2026-ab12"
        )
        self.assertEqual(
            (refund.arn, refund.arn_type), ("REF2026AB12", "bank_reference")
        )

    def test_bad_arns_are_refused_with_a_clear_message(self):
        """A mistyped ARN or a non-reference is refused, the refund unchanged."""
        refund = self._refund(self._create_paid_transaction(), 10.0)
        for value, message in (
            ("74612345678901234567894", "check digit does not match"),
            ("1234567", "neither an ARN"),
            ("X" * 31, "neither an ARN"),
            ("<script>x</script>", "neither an ARN"),
        ):
            with (
                self.subTest(value=value),
                self.assertRaisesRegex(ValidationError, message),
            ):
                with self.cr.savepoint():
                    refund.with_user(self.refund_user).arn = value
            self.assertFalse(refund.arn)

    def test_provider_hook_fills_the_arn(self):
        """Provider glue returning an ARN from a notification fills the refund's."""
        tx = self._create_paid_transaction()
        Transaction = self.registry["payment.transaction"]
        with patch.object(
            Transaction, "_get_refund_arn_from_notification", return_value=VALID_ARN
        ):
            refund = self._refund(tx, 10.0)
        self.assertEqual(refund.arn, VALID_ARN)

    def test_provider_hook_with_a_bad_arn_does_not_break_the_refund(self):
        """An invalid ARN from a provider is ignored; the refund is still recorded."""
        tx = self._create_paid_transaction()
        Transaction = self.registry["payment.transaction"]
        with patch.object(
            Transaction, "_get_refund_arn_from_notification", return_value="bad!"
        ):
            refund = self._refund(tx, 10.0)
        self.assertEqual(refund.state, "done")
        self.assertFalse(refund.arn)

    def test_search_by_part_of_the_arn(self):
        """Support staff find a refund from part of the ARN the customer reads out."""
        refund = self._refund(self._create_paid_transaction(), 10.0, arn=VALID_ARN)
        found = (
            self.env["payment.refund"]
            .with_user(self.refund_user)
            .search([("arn", "ilike", "5678901234")])
        )
        self.assertEqual(found, refund)
