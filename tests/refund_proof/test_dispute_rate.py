"""The dispute rate report (payment.dispute.rate.report): disputes of a month over its
paid transactions per company and provider, by reason, against the company's warning
threshold; what the pivot, graph and grouped list views read (read_group), who reads
it.

March 2024: 200 paid transactions, chargebacks Visa 13.1 and Visa 10.4, an inquiry
(Visa 13.1): 1.0%. April 2024: 400 paid transactions, chargebacks Visa 13.1 (gone to
pre-arbitration) and Mastercard 4853: 0.5%. The two months: 4 / 600 = 0.67% (an
average of the months' rates would say 0.75%).
"""

from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..json_rpc_client import JsonRpcMixin, RpcError
from ..refund_factories import RefundProofCommon

MARCH = datetime(2024, 3, 15, 12, 0)
APRIL = datetime(2024, 4, 15, 12, 0)
# When the disputed payments were made: before the months the tests read.
JANUARY = datetime(2024, 1, 10, 12, 0)
MEASURES = ["dispute_count:sum", "transaction_count:sum", "dispute_rate:avg"]


class DisputeRateCase(RefundProofCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Report = cls.env["payment.dispute.rate.report"]
        cls.company = cls.env.company
        cls.company.refund_tz = "UTC"
        cls.company.dispute_rate_threshold = 0.9
        cls.accountant = new_test_user(
            cls.env,
            login="rate_accountant",
            groups="base.group_user,account.group_account_readonly",
        )
        cls.portal_user = new_test_user(
            cls.env, login="rate_portal", groups="base.group_portal"
        )

    def _paid(self, count, when, provider=None, **values):
        """`count` payments of `provider` confirmed at `when` (created at once: the
        report reads their state, operation and dates)."""
        provider = provider or self.provider
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                [
                    {
                        "provider_id": provider.id,
                        "payment_method_id": (
                            provider.payment_method_ids[:1] or self.payment_method
                        ).id,
                        "reference": self._next_reference(),
                        "amount": 10.0,
                        "currency_id": self.currency.id,
                        "partner_id": self.partner.id,
                        "operation": "online_direct",
                        "state": "done",
                        "last_state_change": when,
                        **values,
                    }
                    for _index in range(count)
                ]
            )
        )

    def _dispute(self, when, network, code, kind="chargeback", provider=None):
        """A dispute the bank opened at `when`, reported by the provider's hook on a
        payment of January."""
        tx = self._paid(1, JANUARY, provider=provider)
        return tx._refund_proof_upsert_dispute(
            {
                "provider_reference": f"DP-{tx.reference}",
                "amount": 10.0,
                "card_network": network,
                "reason_code": code,
                "kind": kind,
                "opened_date": when,
            }
        )

    def _two_months(self, provider=None):
        """The months of the module docstring."""
        self._paid(200, MARCH, provider=provider)
        self._paid(400, APRIL, provider=provider)
        self._dispute(MARCH, "visa", "13.1", provider=provider)
        self._dispute(MARCH, "visa", "10.4", provider=provider)
        self._dispute(MARCH, "visa", "13.1", kind="inquiry", provider=provider)
        self._dispute(APRIL, "visa", "13.1", kind="pre_arbitration", provider=provider)
        self._dispute(APRIL, "mc", "4853", provider=provider)

    def _groups(self, groupby, domain=None, lazy=False, report=None, fields=None):
        report = report if report is not None else self.Report
        return report.read_group(
            [
                ("date", ">=", "2024-03-01"),
                ("date", "<", "2024-05-01"),
                *(domain or []),
            ],
            fields or MEASURES,
            groupby,
            lazy=lazy,
        )

    def _by(self, groups, key):
        return {
            (g[key][1] if isinstance(g[key], tuple | list) else g[key]): (
                g["dispute_count"],
                g["transaction_count"],
                round(g["dispute_rate"], 4)
                if g["dispute_rate"] is not False
                else False,
            )
            for g in groups
        }


@tagged("-at_install", "post_install")
class TestDisputeRate(DisputeRateCase):
    # --- counts and rates --- #

    def test_rate_per_month_is_disputes_over_paid_transactions(self):
        """Per month: the month's chargebacks over its paid transactions; the
        inquiry is counted apart."""
        self._two_months()
        groups = self._groups(["date:month"], fields=[*MEASURES, "inquiry_count:sum"])
        self.assertEqual(
            self._by(groups, "date:month"),
            {"March 2024": (2, 200, 1.0), "April 2024": (2, 400, 0.5)},
        )
        self.assertEqual([g["inquiry_count"] for g in groups], [1, 0])

    def test_months_as_the_clock_made_them(self):
        """With a frozen clock, payments confirmed through the provider's flow and
        disputes reported without a date of their own (opened now) fall in the month
        the clock says: 1 dispute over 2 payments in May 2024, none over 1 in June."""
        with freeze_time("2024-05-20 10:00:00"):
            paid = self._create_paid_transaction(50.0)
            self._create_paid_transaction(60.0)
            paid._refund_proof_upsert_dispute(
                {"provider_reference": "DP-CLOCK", "card_network": "visa"}
            )
        with freeze_time("2024-06-02 09:00:00"):
            self._create_paid_transaction(70.0)
        groups = self.Report.read_group(
            [("date", ">=", "2024-05-01"), ("date", "<", "2024-07-01")],
            MEASURES,
            ["date:month"],
            lazy=False,
        )
        self.assertEqual(
            [
                (g["date:month"], g["dispute_count"], g["transaction_count"])
                for g in groups
            ],
            [("May 2024", 1, 2), ("June 2024", 0, 1)],
        )
        self.assertAlmostEqual(groups[0]["dispute_rate"], 50.0)
        self.assertAlmostEqual(groups[1]["dispute_rate"], 0.0)

    def test_rate_of_all_months_is_a_ratio_of_sums_not_an_average(self):
        """The total of the two months is 4 / 600, not the average of 1.0 and
        0.5."""
        self._two_months()
        (total,) = self._groups([])
        self.assertEqual((total["dispute_count"], total["transaction_count"]), (4, 600))
        self.assertAlmostEqual(total["dispute_rate"], 4 * 100 / 600)

    def test_rate_per_reason_divides_by_the_months_transactions(self):
        """Per reason, a reason has no transactions of its own: its disputes over
        every paid transaction of the months."""
        self._two_months()
        self.assertEqual(
            self._by(self._groups(["reason"]), "reason"),
            {
                "13.1 — Merchandise/services not received": (2, 600, 0.3333),
                "10.4 — Other fraud: card-absent environment": (1, 600, 0.1667),
                "4853 — Cardholder dispute": (1, 600, 0.1667),
            },
        )

    def test_rate_per_month_and_reason_divides_by_that_months_transactions(self):
        """The pivot's cells (month x reason code): each divides by its month's
        transactions."""
        self._two_months()
        cells = {
            (g["date:month"], g["reason_code"]): (
                g["dispute_count"],
                g["transaction_count"],
                round(g["dispute_rate"], 4),
            )
            for g in self._groups(["date:month", "reason_code"])
        }
        self.assertEqual(
            cells,
            {
                ("March 2024", "10.4"): (1, 200, 0.5),
                ("March 2024", "13.1"): (1, 200, 0.5),
                ("April 2024", "13.1"): (1, 400, 0.25),
                ("April 2024", "4853"): (1, 400, 0.25),
            },
        )

    def test_filter_on_network_keeps_the_months_transactions(self):
        """Filtered on Visa (or not Visa), a month keeps all its transactions: the
        network's disputes over them."""
        self._two_months()
        self.assertEqual(
            self._by(
                self._groups(["date:month"], [("card_network", "=", "visa")]),
                "date:month",
            ),
            {"March 2024": (2, 200, 1.0), "April 2024": (1, 400, 0.25)},
        )
        self.assertEqual(
            self._by(
                self._groups(["date:month"], ["!", ("card_network", "=", "visa")]),
                "date:month",
            ),
            {"April 2024": (1, 400, 0.25)},
        )

    def test_lazy_groups_of_the_list_view(self):
        """The grouped list reads lazily: month groups, then the reasons of a month
        in its domain."""
        self._two_months()
        months = self._groups(["date:month", "card_network"], lazy=True)
        self.assertEqual(
            self._by(months, "date:month"),
            {"March 2024": (2, 200, 1.0), "April 2024": (2, 400, 0.5)},
        )
        april = months[1]
        networks = self.Report.read_group(
            april["__domain"], MEASURES, april["__context"]["group_by"], lazy=True
        )
        self.assertEqual(
            self._by(networks, "card_network"),
            {"visa": (1, 400, 0.25), "mastercard": (1, 400, 0.25)},
        )

    def test_graph_fills_months_without_disputes_of_the_filter(self):
        """The graph reads through web_read_group with fill_temporal: filtered on
        Visa, a month without Visa disputes is filled in, with its transactions
        and a rate of 0."""
        may = datetime(2024, 5, 15, 12, 0)
        for when in (MARCH, APRIL, may):
            self._paid(100, when)
        self._dispute(MARCH, "visa", "13.1")
        self._dispute(APRIL, "mc", "4853")
        self._dispute(may, "visa", "13.1")
        result = self.Report.with_context(fill_temporal=True).web_read_group(
            [("date", ">=", "2024-03-01"), ("card_network", "=", "visa")],
            ["dispute_rate:avg"],
            ["date:month"],
            lazy=False,
        )
        self.assertEqual(
            [(g["date:month"], round(g["dispute_rate"], 4)) for g in result["groups"]],
            [("March 2024", 1.0), ("April 2024", 0.0), ("May 2024", 1.0)],
        )

    def test_payments_counted_once_refunds_and_validations_never(self):
        """A payment captured in two parts is one payment, confirmed or still
        authorized; refunds, card validations and unconfirmed payments are not
        paid transactions."""
        (captured,) = self._paid(1, MARCH)
        self._paid(2, MARCH, source_transaction_id=captured.id)
        (authorized,) = self._paid(1, MARCH, state="authorized")
        self._paid(2, MARCH, source_transaction_id=authorized.id)
        self._paid(1, MARCH, operation="refund", amount=-10.0)
        self._paid(1, MARCH, operation="validation", amount=0.0)
        self._paid(1, MARCH, state="pending")
        self._paid(1, MARCH, state="error")
        (march,) = self._groups(["date:month"])
        self.assertEqual(march["transaction_count"], 2)

    def test_month_of_a_payment_in_the_company_time_zone(self):
        """Months are cut in the company's time zone: 31 March 23:30 UTC is April
        in Paris."""
        self._paid(1, datetime(2024, 3, 31, 23, 30))
        self.assertEqual(
            self._by(self._groups(["date:month"]), "date:month"),
            {"March 2024": (0, 1, 0.0)},
        )
        self.company.refund_tz = "Europe/Paris"
        self.assertEqual(
            self._by(self._groups(["date:month"]), "date:month"),
            {"April 2024": (0, 1, 0.0)},
        )

    # --- the warning threshold --- #

    def _month_lines(self):
        self.Report.invalidate_model()  # the lines of the view read again
        lines = self.Report.search(
            [("line_type", "=", "month"), ("date", ">=", "2024-03-01")],
            order="date",
        )
        return [(line.month, line.above_threshold) for line in lines]

    def test_above_threshold_flips_with_the_company_threshold(self):
        """March (1.0%) is above 0.9% and April (0.5%) below; at 1.1% neither, at
        0.5% both (the threshold reached is above); 0 turns the warning off."""
        self._two_months()
        self.assertEqual(self._month_lines(), [("2024-03", True), ("2024-04", False)])
        self.company.dispute_rate_threshold = 1.1
        self.assertEqual(self._month_lines(), [("2024-03", False), ("2024-04", False)])
        self.company.dispute_rate_threshold = 0.5
        self.assertEqual(self._month_lines(), [("2024-03", True), ("2024-04", True)])
        self.company.dispute_rate_threshold = 0
        self.assertEqual(self._month_lines(), [("2024-03", False), ("2024-04", False)])

    def test_month_of_disputes_without_payments_is_above(self):
        """A month with a chargeback and no paid transaction has no rate (False, as
        Odoo's empty aggregates), and is above the threshold."""
        self._dispute(MARCH, "visa", "13.1")
        (march,) = self._groups(["date:month"])
        self.assertEqual((march["dispute_count"], march["transaction_count"]), (1, 0))
        self.assertIs(march["dispute_rate"], False)
        (reason,) = self._groups(["reason"])
        self.assertEqual((reason["dispute_count"], reason["transaction_count"]), (1, 0))
        self.assertIs(reason["dispute_rate"], False)
        self.assertEqual(self._month_lines(), [("2024-03", True)])

    def test_reason_lines_carry_their_months_warning(self):
        """A reason line shows its disputes, its month's transactions and share,
        and whether its month is above the threshold."""
        self._two_months()
        line = self.Report.search(
            [
                ("line_type", "=", "reason"),
                ("month", "=", "2024-03"),
                ("reason_code", "=", "10.4"),
            ]
        )
        self.assertRecordValues(
            line,
            [
                {
                    "card_network": "visa",
                    "reason": "10.4 — Other fraud: card-absent environment",
                    "dispute_count": 1,
                    "transaction_count": 200,
                    "dispute_rate": 0.5,
                    "threshold": 0.9,
                    "above_threshold": True,
                }
            ],
        )

    # --- who reads it --- #

    def test_refund_user_and_accountant_read_the_report(self):
        """Refund users and read-only accountants read the report; a portal user
        cannot."""
        self._two_months()
        for user in (self.refund_user, self.accountant):
            with self.subTest(user=user.login):
                self.assertEqual(
                    self._by(
                        self._groups(
                            ["date:month"], report=self.Report.with_user(user)
                        ),
                        "date:month",
                    ),
                    {"March 2024": (2, 200, 1.0), "April 2024": (2, 400, 0.5)},
                )
        with self.assertRaises(AccessError):
            self._groups(["date:month"], report=self.Report.with_user(self.portal_user))
        with self.assertRaises(AccessError):
            self.Report.with_user(self.portal_user).search([])

    def test_user_of_another_company_sees_only_its_own(self):
        """The multi-company rule: a refund user of company B reads B's months
        only, and none of A's lines."""
        self._two_months()
        company_b = self.env["res.company"].create({"name": "Company B"})
        company_b.refund_tz = "UTC"
        provider_b = self._prepare_provider("demo", company=company_b)
        self._paid(100, MARCH, provider=provider_b)
        self._dispute(MARCH, "visa", "13.6", provider=provider_b)
        user_b = new_test_user(
            self.env,
            login="rate_user_b",
            groups="base.group_user,refund_proof.group_refund_user",
            company_id=company_b.id,
            company_ids=[company_b.id],
        )
        report_b = self.Report.with_user(user_b)
        self.assertEqual(
            self._by(self._groups(["date:month"], report=report_b), "date:month"),
            {"March 2024": (1, 100, 1.0)},
        )
        self.assertEqual(
            self._by(self._groups(["reason"], report=report_b), "reason"),
            {"13.6 — Credit not processed": (1, 100, 1.0)},
        )
        self.assertEqual(report_b.search([]).company_id, company_b)
        a_line = self.Report.search([("company_id", "=", self.company.id)], limit=1)
        with self.assertRaises(AccessError):
            a_line.with_user(user_b).read(["dispute_count"])

    # --- views --- #

    def test_views_load(self):
        """The pivot, graph, list and search views and the action load for a refund
        user."""
        views = self.Report.with_user(self.refund_user).get_views(
            [(False, "pivot"), (False, "graph"), (False, "list"), (False, "search")]
        )
        for view_type in ("pivot", "graph", "list", "search"):
            self.assertIn(view_type, views["views"])
        self.assertIn('name="dispute_rate"', views["views"]["pivot"]["arch"])
        self.assertIn("above_threshold", views["views"]["list"]["arch"])
        action = self.env.ref("refund_proof.action_payment_dispute_rate_report")
        self.assertEqual(action.res_model, "payment.dispute.rate.report")


@tagged("-at_install", "post_install")
class TestDisputeRateRpc(JsonRpcMixin, DisputeRateCase, HttpCase):
    """The report's read_group through Odoo's real JSON-RPC, as the pivot calls it."""

    def test_views_render_in_the_browser(self):
        """A refund user opens Dispute Rate: the graph draws, the pivot shows this
        month's 2 disputes over 200 payments (1.00%), the list shows the month in
        red (above 0.9%)."""
        now = datetime.now()
        self._paid(200, now)
        self._dispute(now, "visa", "13.1")
        self._dispute(now, "mc", "4853")
        self.browser_js(
            "/odoo/action-refund_proof.action_payment_dispute_rate_report",
            """
            (async () => {
                const until = async (check, what) => {
                    for (let i = 0; i < 200; i++) {
                        if (check()) return;
                        await new Promise((resolve) => setTimeout(resolve, 50));
                    }
                    throw new Error(`never: ${what}`);
                };
                const text = (selector) =>
                    document.querySelector(selector)?.innerText || "";
                document.querySelector(".o_switch_view.o_pivot").click();
                await until(
                    () => /200/.test(text(".o_pivot table"))
                        && /1\\.00/.test(text(".o_pivot table")),
                    "the pivot's 2 / 200 = 1.00",
                );
                document.querySelector(".o_switch_view.o_list").click();
                await until(
                    () => document.querySelector(
                        ".o_list_view .o_data_row.text-danger"
                    ),
                    "a month line in red",
                );
                console.log("test successful");
            })().catch((error) => console.error(error.message));
            """,
            ready="!!document.querySelector('.o_graph_view canvas')",
            login=self.refund_user.login,
        )

    def test_read_group_over_rpc(self):
        """A refund user reads the rates per reason over JSON-RPC; a portal user is
        refused."""
        self._two_months()
        domain = [("date", ">=", "2024-03-01"), ("date", "<", "2024-05-01")]
        groups = self._rpc(
            self.refund_user,
            "payment.dispute.rate.report",
            "read_group",
            domain,
            MEASURES,
            ["card_network"],
            lazy=False,
        )
        self.assertEqual(
            self._by(groups, "card_network"),
            {"visa": (3, 600, 0.5), "mastercard": (1, 600, 0.1667)},
        )
        with self.assertRaises(RpcError) as caught:
            self._rpc(
                self.portal_user,
                "payment.dispute.rate.report",
                "read_group",
                domain,
                MEASURES,
                ["card_network"],
            )
        self.assertIn("AccessError", caught.exception.name)
