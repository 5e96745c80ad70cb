"""What the limits and the refund day stand on: settings no user changes on themselves.

Issue 22, findings 5, 6 and 7, tried as each role would over Odoo's real JSON-RPC:

- a refund user's limits are in a currency of their own (`refund_limit_currency_id`),
  set by refund managers with the limits, not their company's, which they change on
  themselves (findings 5);
- the refund day (daily limit) and the refund window are counted in the company's
  refund time zone (`refund_tz`), a setting, not its partner's contact time zone, which
  any user with Odoo's Contact Creation right writes (finding 6);
- refund_proof's company settings are written by administrators only (or the server),
  and each change is logged;
- a refund manager sets limits only on users whose every company is one of theirs
  (finding 7).
"""

import logging

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..json_rpc_client import JsonRpcMixin, RpcError
from ..refund_factories import RefundProofCommon

SETTINGS_LOGGER = "odoo.addons.refund_proof.models.res_company"
# A number, not "INFO": Odoo names its level 25 "INFO" too (odoo.netsvc), and
# assertLogs would take that one, above the settings log's.


@tagged("-at_install", "post_install")
class TestRefundSettingsGuards(JsonRpcMixin, RefundProofCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        # 1 USD = 0.307 KWD (100 KWD ≈ 325.73 USD); 1 USD = 2 EUR (100 EUR = 50 USD).
        cls.kwd = cls.setup_other_currency("KWD", rates=[("2016-01-01", 0.307)])
        cls.eur = cls.setup_other_currency("EUR", rates=[("2016-01-01", 2.0)])
        cls.kwd_company = cls.env["res.company"].create(
            {"name": "Souq Kuwait", "currency_id": cls.kwd.id}
        )
        cls.company_b = cls.env["res.company"].create({"name": "Shop B"})
        refund_user_groups = "base.group_user,refund_proof.group_refund_user"
        # The figures: 100 a refund, 300 a day, in the company's currency.
        cls.two_company_user = new_test_user(
            cls.env,
            login="two_company_user",
            name="Tariq Two",
            tz="UTC",
            groups=refund_user_groups,
            company_id=company.id,
            company_ids=[Command.set((company | cls.kwd_company).ids)],
            refund_limit=100.0,
            refund_daily_limit=300.0,
        )
        cls.daily_user = new_test_user(
            cls.env,
            login="daily_user",
            name="Dana Daily",
            tz="UTC",
            groups=refund_user_groups,
            refund_limit=1000.0,
            refund_daily_limit=300.0,
        )
        cls.contact_manager = new_test_user(
            cls.env,
            login="contact_manager",
            name="Connie Contacts",
            groups="base.group_user,base.group_partner_manager",
        )
        cls.access_admin = new_test_user(
            cls.env,
            login="access_admin",
            name="Ada Access",
            groups="base.group_user,base.group_erp_manager",
        )
        cls.settings_admin = new_test_user(
            cls.env,
            login="settings_admin",
            name="Sid Settings",
            groups="base.group_user,base.group_system",
        )
        cls.user_b = new_test_user(
            cls.env,
            login="refund_user_b",
            name="Bea B",
            groups=refund_user_groups,
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
            refund_limit=10.0,
        )
        cls.user_ab = new_test_user(
            cls.env,
            login="refund_user_ab",
            name="Abel AB",
            groups=refund_user_groups,
            company_id=company.id,
            company_ids=[Command.set((company | cls.company_b).ids)],
            refund_limit=10.0,
        )

    def _assert_rpc_refused(self, user, model, method, *args, **kwargs):
        with self.assertRaises(RpcError) as caught:
            self._rpc(user, model, method, *args, **kwargs)
        self.assertEqual(caught.exception.name, "odoo.exceptions.AccessError")
        return caught.exception

    # === FINDING 5: THE LIMITS' CURRENCY === #

    def test_own_company_switch_keeps_the_limits_currency(self):
        """A refund user of two companies switching their own company to one in KWD
        keeps their limits of 100 and 300 a day in USD: before, they became 100 and
        300 KWD and 640 USD went out in a day without approval."""
        user = self.two_company_user
        self.assertEqual(user.refund_limit_currency_id, self.currency)
        # What any user may do on themselves (Odoo's SELF_WRITEABLE_FIELDS).
        self._rpc(
            user, "res.users", "write", [user.id], {"company_id": self.kwd_company.id}
        )
        self.env.invalidate_all()
        self.assertEqual(user.company_id, self.kwd_company, "the premise")

        large = [
            self._refund(self._create_paid_transaction(320.0), 320.0, user=user)
            for _i in range(2)
        ]
        self.assertEqual(
            [refund.state for refund in large],
            ["to_approve"] * 2,
            "640 USD out alone in a day",
        )
        for refund in large:
            self.assertIn("above your refund limit", refund.approval_reasons)
        within = [
            self._refund(self._create_paid_transaction(100.0), 100.0, user=user)
            for _i in range(3)
        ]
        self.assertEqual([refund.state for refund in within], ["done"] * 3)
        fourth = self._refund(self._create_paid_transaction(100.0), 100.0, user=user)
        self.assertEqual(fourth.state, "to_approve")
        self.assertIn("daily limit", fourth.approval_reasons)

        self.assertEqual(user.refund_limit_currency_id, self.currency)
        # Nor does the user set the limits' currency on themselves.
        self._assert_rpc_refused(
            user,
            "res.users",
            "write",
            [user.id],
            {"refund_limit_currency_id": self.kwd.id},
        )

    def test_new_users_limits_are_in_their_company_currency(self):
        """A new user's limits are in their company's currency, fixed when created;
        the users of the installation got theirs at install or upgrade."""
        user = new_test_user(
            self.env,
            login="kuwait_user",
            groups="base.group_user,refund_proof.group_refund_user",
            company_id=self.kwd_company.id,
            company_ids=[Command.set(self.kwd_company.ids)],
        )
        self.assertEqual(user.refund_limit_currency_id, self.kwd)
        admin = self.env.ref("base.user_admin")
        self.assertEqual(admin.refund_limit_currency_id, admin.company_id.currency_id)

    def test_managers_set_the_limits_currency_with_the_limits(self):
        """A refund manager sets a user's limits with their currency: 100 EUR a
        refund and 300 EUR a day are 50 and 150 USD on a USD payment."""
        user = self.daily_user
        self.assertEqual(self.currency.name, "USD", "the premise")
        self._rpc(
            self.refund_manager,
            "res.users",
            "write",
            [user.id],
            {"refund_limit": 100.0, "refund_limit_currency_id": self.eur.id},
        )
        self.env.invalidate_all()
        self.assertRecordValues(
            user,
            [
                {
                    "refund_limit": 100.0,
                    "refund_daily_limit": 300.0,
                    "refund_limit_currency_id": self.eur.id,
                }
            ],
        )
        self.assertEqual(self.env.company.currency_id, self.currency, "unchanged")
        limits = (
            self.env["payment.refund"]
            .with_user(user)
            ._get_user_limits(self.env.company)
        )
        self.assertEqual(limits, (50.0, 150.0))
        held = self._refund(self._create_paid_transaction(60.0), 60.0, user=user)
        self.assertEqual(held.state, "to_approve")
        self.assertIn("above your refund limit", held.approval_reasons)
        done = self._refund(self._create_paid_transaction(40.0), 40.0, user=user)
        self.assertEqual(done.state, "done")

    # === FINDING 6: THE REFUND DAY AND WINDOW === #

    def _move_company_partner_midnight(self):
        """The contact manager writes the company partner's time zone over RPC: 10:00
        UTC is midnight in Kiritimati (UTC+14)."""
        company = self.env.company
        self.assertEqual(company.partner_id.tz, False, "the premise: UTC")
        self._rpc(
            self.contact_manager,
            "res.partner",
            "write",
            [company.partner_id.id],
            {"tz": "Pacific/Kiritimati"},
        )
        self.env.invalidate_all()
        self.assertEqual(company.partner_id.tz, "Pacific/Kiritimati", "Odoo's right")

    def test_company_partner_tz_moves_no_daily_limit_day(self):
        """A user with the Contact Creation right writing the company partner's time
        zone starts no new refund day: before, a user limited to 300 a day issued
        350 within minutes."""
        with freeze_time("2026-01-15 09:58"):
            first = self._refund(
                self._create_paid_transaction(250.0), 250.0, user=self.daily_user
            )
            self.assertEqual(first.state, "done")
        self._move_company_partner_midnight()
        with freeze_time("2026-01-15 10:02"):
            held = self._refund(
                self._create_paid_transaction(100.0), 100.0, user=self.daily_user
            )
            self.assertEqual(held.state, "to_approve", "350 issued alone in a day")
            self.assertIn("daily limit", held.approval_reasons)
        self.assertEqual(self.env.company._get_refund_timezone(), "UTC")

    def test_company_partner_tz_moves_no_refund_window(self):
        """Nor does it bring a payment back inside the refund window: paid on 15
        December at 10:30 UTC, refunded on 15 January at 09:00 UTC, 31 days with a
        window of 30 (30 days in Kiritimati's calendar)."""
        self.env.company.refund_window_days = 30
        with freeze_time("2025-12-15 10:30"):
            tx = self._create_paid_transaction(100.0)
        self._move_company_partner_midnight()
        with freeze_time("2026-01-15 09:00"):
            within, verdict = self.env["payment.refund"]._get_policy_verdict(tx)
            self.assertFalse(within, verdict)
            self.assertIn("31 days", verdict)
            refund = self._refund(tx, 10.0)  # refund_user's limit is 1,000,000
            self.assertEqual(refund.state, "to_approve")
            self.assertIn("Outside policy: 31 days", refund.approval_reasons)

    def test_refund_day_follows_the_refund_time_zone(self):
        """The refund day is the company's refund time zone's: midnight in Bucharest
        (22:00 UTC in January) starts a new day."""
        self.env.company.refund_tz = "Europe/Bucharest"
        with freeze_time("2026-01-15 21:50"):
            first = self._refund(
                self._create_paid_transaction(250.0), 250.0, user=self.daily_user
            )
            self.assertEqual(first.state, "done")
        with freeze_time("2026-01-15 22:05"):  # 00:05 on the 16th in Bucharest
            second = self._refund(
                self._create_paid_transaction(250.0), 250.0, user=self.daily_user
            )
            self.assertEqual(second.state, "done")

    def test_new_company_refund_tz_from_its_partner(self):
        """A new company's refund time zone is its partner's at creation, else UTC;
        the partner's changes later move it no more."""
        partner = self.env["res.partner"].create(
            {"name": "Shop Tokyo", "is_company": True, "tz": "Asia/Tokyo"}
        )
        tokyo = self.env["res.company"].create(
            {"name": "Shop Tokyo", "partner_id": partner.id}
        )
        self.assertEqual(tokyo.refund_tz, "Asia/Tokyo")
        partner.tz = "Europe/Paris"
        self.assertEqual(tokyo._get_refund_timezone(), "Asia/Tokyo")
        self.assertEqual(self.company_b.refund_tz, "UTC")

    # === ADMINISTRATORS ONLY, EACH CHANGE LOGGED === #

    def test_only_administrators_write_refund_settings(self):
        """A user administrator (Access Rights), who may write companies, may not write
        their refund settings; Odoo's own company fields stay theirs to write."""
        company = self.env.company
        before = company.refund_window_days
        self._assert_rpc_refused(
            self.access_admin,
            "res.company",
            "write",
            [company.id],
            {"refund_window_days": 400},
        )
        self.env.invalidate_all()
        self.assertEqual(company.refund_window_days, before)
        settings = self.env["res.company"]._refund_settings_fields()
        self.assertIn("refund_tz", settings)
        self.assertIn("dispute_rate_threshold", settings)
        self.assertNotIn("name", settings)
        values = {
            "refund_window_days": 400,
            "refund_tz": "Pacific/Kiritimati",
            "refund_statement_descriptor": "FORGED",
            "refund_support_email": "forged@example.com",
            "refund_proof_send_email": False,
            "refund_pending_alert_days": 0,
            "dispute_rate_threshold": 99.0,
        }
        for fname in settings:
            with self.subTest(field=fname):
                value = values.get(fname, company[fname])
                with self.assertRaises(AccessError):
                    company.with_user(self.access_admin).write({fname: value})
        with self.assertRaises(AccessError):
            company.with_user(self.access_admin).write(
                {"sequence": 7, "refund_window_days": 400}
            )
        company.with_user(self.access_admin).write({"sequence": 7})
        self.assertEqual(company.sequence, 7)
        self.assertEqual(company.refund_window_days, before)
        self.assertEqual(company.refund_tz, "UTC")

    def test_administrators_change_refund_settings_with_a_log(self):
        """An administrator changes the refund settings in Settings; each change is
        logged with the company, the field, the old and new values and the user."""
        company = self.env.company
        company.refund_window_days = 30
        settings = self.env["res.config.settings"].with_user(self.settings_admin)
        with self.assertLogs(SETTINGS_LOGGER, logging.INFO) as logs:
            settings.create({"refund_window_days": 45}).execute()
        self.assertEqual(company.refund_window_days, 45)
        self.assertEqual(len(logs.records), 1, logs.output)
        line = logs.records[0].getMessage()
        for part in (
            f"Company {company.name} (id {company.id})",
            "refund setting refund_window_days changed: 30 -> 45",
            f"by settings_admin (uid {self.settings_admin.id})",
        ):
            self.assertIn(part, line)

        with self.assertLogs(SETTINGS_LOGGER, logging.INFO) as logs:
            settings.create({"refund_tz": "Europe/Paris"}).execute()
        self.assertEqual(company._get_refund_timezone(), "Europe/Paris")
        self.assertEqual(len(logs.records), 1, logs.output)
        self.assertIn(
            "refund setting refund_tz changed: 'UTC' -> 'Europe/Paris'",
            logs.records[0].getMessage(),
        )
        # Writing a setting's current value changes nothing: nothing logged.
        with self.assertNoLogs(SETTINGS_LOGGER, logging.INFO):
            company.with_user(self.settings_admin).write({"refund_window_days": 45})

    def test_server_writes_refund_settings_with_a_log(self):
        """The server (sudo) writes them too, logged as well."""
        company = self.env.company
        company.refund_window_days = 30
        with self.assertLogs(SETTINGS_LOGGER, logging.INFO) as logs:
            company.sudo().refund_window_days = 60
        self.assertIn("30 -> 60", logs.output[0])
        self.assertEqual(company.refund_window_days, 60)

    # === FINDING 7: LIMITS ACROSS COMPANIES === #

    def test_managers_set_limits_only_on_users_of_their_companies(self):
        """A refund manager of company A only cannot set the limits of a user of
        company B only, nor of one of A and B (the limits apply in B too); they still
        set those of users of their own companies."""
        manager = self.refund_manager
        self.assertEqual(manager.company_ids, self.env.company, "the premise")
        for user in (self.user_b, self.user_ab):
            for values in (
                {"refund_limit": 1e9},
                {"refund_daily_limit": 1e9},
                {"refund_limit_currency_id": self.kwd.id},
            ):
                with self.subTest(user=user.login, values=values):
                    self._assert_rpc_refused(
                        manager, "res.users", "write", [user.id], values
                    )
        self.env.invalidate_all()
        self.assertEqual(self.user_b.refund_limit, 10.0)
        self.assertEqual(self.user_ab.refund_limit, 10.0)
        self._rpc(
            manager,
            "res.users",
            "write",
            [self.daily_user.id],
            {"refund_limit": 75.0, "refund_daily_limit": 200.0},
        )
        self.env.invalidate_all()
        self.assertRecordValues(
            self.daily_user, [{"refund_limit": 75.0, "refund_daily_limit": 200.0}]
        )
        # A manager of both companies sets them.
        manager.company_ids = [Command.link(self.company_b.id)]
        self._rpc(
            manager, "res.users", "write", [self.user_ab.id], {"refund_limit": 20.0}
        )
        self.env.invalidate_all()
        self.assertEqual(self.user_ab.refund_limit, 20.0)
