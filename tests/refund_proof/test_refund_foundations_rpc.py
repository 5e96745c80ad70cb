"""A hostile client of Odoo's real JSON-RPC endpoint against what a refund stands on.

test_refund_guards_rpc.py holds `payment.refund` itself to its verdict tables. But a
refund's promises are computed from records next to it: the paid payment (amount,
currency, state, date, customer, provider and company), its refund attempts, the
company's settings and time zone, the users' limits and their currency, and the issued
proof's file. Issue 22 found each of them writable by some role. These tests enumerate
those records' fields at run time (`_fields`: a field Odoo or a module adds later is
attacked by itself), write a plausible hostile value in each as each role over
`/jsonrpc`, and after every call check the refund promises from the database:

- the cap: what was paid (amount, currency, state) and what remains refundable;
- the refund window's verdict of each payment;
- each limited user's single and daily limits, in the company currency, the total
  they issued today (the refund day) and their refund rights;
- each refund's customer, company, currency, state and amount;
- the issued proof's bytes (their SHA-256 equal to the stored one).

The verdicts are issue 22's decisions (/tmp/issue22/design.md): users never write
`payment.transaction` (1); the limits' currency is the users' own setting, and a
manager sets limits only on users of their own companies (2); refund_proof's company
settings are written by administrators only (3); an issued proof's and an evidence
pack's files are immutable (4). Fields no decision covers (a contact's fields, a user's
language) may be written: the promises must hold whatever is written.

Each case runs inside a savepoint of the test transaction rolled back after it (the
HTTP server works on the same transaction, HttpCase's test cursor): every case starts
from the same fixtures. Findings 1-7 of the issue are reproduced one test each, as the
issue tells them; findings 8 and 9 are test_refund_proof_files.py's.
"""

import base64
import hashlib
import inspect
import itertools
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from unittest.mock import patch

import pytz

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from ..json_rpc_client import JsonRpcMixin
from ..refund_factories import RefundProofCommon

GROUP_BILLING = "account.group_account_invoice"
GROUP_REFUND_USER = "refund_proof.group_refund_user"
GROUP_REFUND_MANAGER = "refund_proof.group_refund_manager"
NOW = "now"  # Placeholder of a hostile datetime: the moment of the call.

# Fields of res.company and res.users that the rules read besides refund_proof's own
# (found by their module at run time): the currency of limits and caps, the company's
# partner (its time zone was the refund day's), a user's companies, groups, language
# and time zone.
COMPANY_RULE_FIELDS = ("currency_id", "partner_id")
# Modules whose methods every model has (the ORM's extensions), not enumerated.
GENERIC_MODEL_MODULES = ("odoo.addons.base.", "odoo.addons.web.", "odoo.addons.mail.")
# Entry points that make refunds (within the promises, tested by the refund suites).
TX_REFUND_ENTRY_POINTS = frozenset({"action_refund", "action_open_refund_wizard"})
USER_RULE_FIELDS = (
    "company_id",
    "company_ids",
    "groups_id",
    "tz",
    "lang",
    "active",
    "partner_id",
)


def _tz_at_local_hour(names, low, high):
    """The first time zone of `names` whose local time now is in [low, high) hours."""
    now = datetime.now(pytz.utc)
    for name in names:
        try:
            local = now.astimezone(pytz.timezone(name))
        except pytz.UnknownTimeZoneError:
            continue
        if low <= local.hour + local.minute / 60 < high:
            return name
    raise AssertionError(f"no time zone at local hour {low}-{high}")


def _is_current(field, current, value):
    """Whether writing `value` in `field` would leave its `current` value as is."""
    if field.type == "many2one":
        return value == (current.id or False)
    if field.relational:
        return False
    if value is False:
        return not current
    return value == current


class FoundationsCase(JsonRpcMixin, RefundProofCommon, HttpCase):
    """The world every family attacks: company A (USD) and company B (KWD) with a
    provider each; paid payments of Camille with a done (proof issued), a pending and
    a failed refund, their attempts; limited refund users with refunds issued earlier
    today; the refund day in a time zone where it is about noon, the payments paid
    one day outside the refund window."""

    # A hostile value may make the ORM crash: its SQL error is logged too.
    _rpc_muted_loggers = ("odoo.http", "odoo.sql_db")
    # Whether the proof is rendered (wkhtmltopdf) or its PDF made up.
    render_proof = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("report.url", cls.base_url())
        cls.company_a = env.company
        cls.usd = cls.company_a.currency_id
        cls.eur = cls._prepare_currency("EUR")
        cls.kwd = cls._prepare_currency("KWD")
        # 1 USD = 0.35 KWD: 100 KWD is about 285 USD (the figures).
        env["res.currency.rate"].create(
            {"currency_id": cls.kwd.id, "rate": 0.35, "name": "2020-01-01"}
        )
        cls.company_b = env["res.company"].create(
            {"name": "Kuwait Shop B", "currency_id": cls.kwd.id}
        )
        cls.provider_b = cls._prepare_provider("demo", company=cls.company_b)
        cls.other_provider_a = cls.dummy_provider  # Another provider of company A.

        # The refund day at about noon; the attackers' time zones: just past midnight,
        # late in the evening.
        tz_names = [
            key
            for key, _label in env["res.partner"]
            ._fields["tz"]
            ._description_selection(env)
        ]
        cls.tz_noon = _tz_at_local_hour(tz_names, 10, 14)
        cls.tz_midnight = _tz_at_local_hour(tz_names, 0, 1)
        cls.tz_late = _tz_at_local_hour(tz_names, 20, 23)
        # What an attacker writes in a time zone field: a new refund day that just
        # began (the limits' day), a day boundary that moves a payment's age (the
        # window).
        cls.hostile_tzs = [cls.tz_midnight, cls.tz_late]
        cls._set_refund_tz(cls.company_a, cls.tz_noon)

        # Customers.
        cls.camille = new_test_user(
            env, login="camille", name="Camille Customer", groups="base.group_portal"
        )
        cls.emma = new_test_user(
            env, login="emma", name="Emma Other", groups="base.group_portal"
        )
        cls.camille.partner_id.email = "camille@example.com"
        cls.emma.partner_id.email = "emma@example.com"

        # Roles. Company A only, unless said.
        cls.refund_billing = new_test_user(
            env,
            login="refund_billing",
            name="Rolf Refund-Billing",
            groups=f"base.group_user,{GROUP_BILLING},{GROUP_REFUND_USER}",
            refund_limit=1000,
            refund_daily_limit=5000,
        )
        cls.manager_billing = new_test_user(
            env,
            login="manager_billing",
            name="Mona Manager-Billing",
            groups=f"base.group_user,{GROUP_BILLING},{GROUP_REFUND_MANAGER}",
        )
        cls.erp_manager = new_test_user(
            env,
            login="erp_manager",
            name="Ed Access-Rights",
            groups="base.group_user,base.group_erp_manager",
        )
        cls.admin_user = new_test_user(
            env,
            login="admin_user",
            name="Ada Administrator",
            groups="base.group_user,base.group_system",
        )
        cls.accountant = new_test_user(
            env,
            login="accountant",
            name="Al Accountant",
            groups="base.group_user,account.group_account_manager",
        )
        cls.contact_creator = new_test_user(
            env,
            login="contact_creator",
            name="Cora Contacts",
            groups="base.group_user,base.group_partner_manager",
        )
        # A refund user in companies A and B (finding 5): limits in USD.
        cls.two_company_user = new_test_user(
            env,
            login="two_company_user",
            name="Tom Two-Companies",
            groups=f"base.group_user,{GROUP_REFUND_USER}",
            company_id=cls.company_a.id,
            company_ids=[Command.set((cls.company_a | cls.company_b).ids)],
            refund_limit=100,
            refund_daily_limit=300,
        )
        # A refund user of company B only (finding 7): limits in KWD.
        cls.user_b = new_test_user(
            env,
            login="user_b",
            name="Bea Company-B",
            groups=f"base.group_user,{GROUP_REFUND_USER}",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
            refund_limit=100,
            refund_daily_limit=300,
        )
        cls.limited_users = cls.refund_billing | cls.two_company_user
        for user in cls.limited_users | cls.user_b:
            cls._init_limit_currency(user)

        # Payments and refunds.
        cls.payments = {}
        cls.pay_done = cls._paid(152.0)
        cls.refund_done = cls._refund_as(cls.pay_done, 10.0, cls.refund_billing)
        cls.pay_pending = cls._paid(100.0)
        attempt = cls.pay_pending._create_child_transaction(7.0, is_refund=True)
        attempt._set_pending()
        cls.refund_pending = cls.pay_pending.refund_ids
        cls.pay_failed = cls._paid(100.0)
        cls.refund_failed = cls._refund_as(cls.pay_failed, 4.0, cls.refund_billing)
        cls.refund_failed.sudo().transaction_ids._set_error(
            "Reversed by the bank", extra_allowed_states=("done",)
        )
        cls.pay_two = cls._paid(250.0)
        cls.refund_two = cls._refund_as(cls.pay_two, 50.0, cls.two_company_user)
        cls.pay_other = cls._paid(80.0, partner=cls.emma.partner_id)  # No refund.
        cls.payments = {
            "payment with a done refund": cls.pay_done,
            "payment with a pending refund": cls.pay_pending,
            "payment with a failed refund": cls.pay_failed,
            "payment of a two-company user's refund": cls.pay_two,
            "payment without refund": cls.pay_other,
        }
        cls.refunds = (
            cls.refund_done | cls.refund_pending | cls.refund_failed | cls.refund_two
        )
        cls.attempts = {
            "done refund attempt": cls.refund_done.transaction_ids,
            "pending refund attempt": cls.refund_pending.transaction_ids,
            "failed refund attempt": cls.refund_failed.transaction_ids,
        }
        env.invalidate_all()
        for state, refund in (
            ("done", cls.refund_done),
            ("pending", cls.refund_pending),
            ("failed", cls.refund_failed),
            ("done", cls.refund_two),
        ):
            assert refund.state == state, f"fixture {refund.name} is {refund.state}"
        for label, attempt in cls.attempts.items():
            assert len(attempt) == 1 and attempt.operation == "refund", label

        # The refunds counted today were issued two hours ago (in the company's day,
        # not in the attacker's); the payments were paid a day too long ago.
        cls._backdate_limit_dates(cls.refunds, timedelta(hours=2))
        cls.paid_on = cls._window_border(cls.company_a.refund_window_days)
        cls._backdate_payments(list(cls.payments.values()), cls.paid_on)

        # The issued proof of the done refund: rendered through the issue path where
        # its file is what the family attacks, else stored as the issue path stores
        # one (a real render takes seconds).
        if cls.render_proof:
            cls.proof = cls.refund_done.with_context(
                force_report_rendering=True
            )._ensure_proof()
        else:
            cls.proof = cls.env["payment.refund.proof"]._store(
                cls.refund_done,
                b"%PDF-1.4 proof of refund " + cls.refund_done.name.encode(),
            )
        assert cls.proof.attachment_id.raw.startswith(b"%PDF"), "no proof issued"
        cls.proofs = cls.proof
        env.flush_all()
        # The promises are sensitive to what the attacks move: each payment one day
        # outside its window, refunds counted in today's totals.
        Refund = env["payment.refund"].sudo()
        for label, tx in cls.payments.items():
            assert not Refund._get_policy_verdict(tx)[0], f"{label} in its window"
        for user in cls.limited_users:
            issued = (
                env["payment.refund"]
                .with_user(user)
                ._get_issued_today(cls.usd, cls.company_a)
            )
            assert issued > 0, f"nothing counted today for {user.login}"

    # === FIXTURES === #

    @classmethod
    def _set_refund_tz(cls, company, tz):
        """The company's refund day time zone, wherever the code reads it: its own
        setting (decision 3) and its partner's tz (before it)."""
        company.partner_id.tz = tz
        if "refund_tz" in company._fields:
            company.refund_tz = tz

    @classmethod
    def _init_limit_currency(cls, user):
        """Limits are in the user's company currency at creation (decision 2's
        initialisation), wherever the field is stored."""
        field = user._fields.get("refund_limit_currency_id")
        if field is not None and field.store and not field.related:
            user.sudo().refund_limit_currency_id = user.company_id.currency_id

    @classmethod
    def _paid(cls, amount, partner=None, provider=None):
        """A demo payment of Camille, confirmed by the provider's notification and
        post-processed (its account.payment exists)."""
        provider = provider or cls.provider
        tx = (
            cls.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id
                    or cls.payment_method_id,
                    "amount": amount,
                    "currency_id": provider.company_id.currency_id.id,
                    "reference": cls._next_reference(),
                    "operation": "online_direct",
                    "partner_id": (partner or cls.camille.partner_id).id,
                }
            )
        )
        tx._handle_notification_data(
            "demo", {"reference": tx.reference, "simulated_state": "done"}
        )
        tx._post_process()
        return tx

    @classmethod
    def _refund_as(cls, tx, amount, user):
        refund = tx.with_user(user)._request_refund(amount_to_refund=amount)
        return refund.with_env(cls.env)

    @classmethod
    def _backdate_limit_dates(cls, refunds, delta):
        cls.env.flush_all()
        cls.env.cr.execute(
            SQL(
                "UPDATE payment_refund SET limit_date = limit_date - %s "
                "WHERE id IN %s AND limit_date IS NOT NULL",
                delta,
                tuple(refunds.ids),
            )
        )
        cls.env.invalidate_all()

    @classmethod
    def _backdate_payments(cls, txs, when):
        cls.env.flush_all()
        cls.env.cr.execute(
            SQL(
                "UPDATE payment_transaction SET last_state_change = %s, "
                "create_date = %s WHERE id IN %s",
                when,
                when,
                tuple(tx.id for tx in txs),
            )
        )
        cls.env.invalidate_all()

    @classmethod
    def _window_border(cls, window):
        """A payment time (naive UTC) whose refund today is one day outside a
        `window`-day refund window in the company's noon time zone, and inside it in
        the attackers' late-evening one (the day boundary is elsewhere)."""
        now = datetime.now(pytz.utc)

        def days(paid, tz):
            tz = pytz.timezone(tz)
            return (now.astimezone(tz).date() - paid.astimezone(tz).date()).days

        for half_hours in range(0, 96):
            paid = now - timedelta(days=window, minutes=30 * half_hours)
            if (
                days(paid, cls.tz_noon) == window + 1
                and days(paid, cls.tz_late) == window
            ):
                return paid.replace(tzinfo=None, microsecond=0)
        raise AssertionError("no payment time on the window's border")

    # === HELPERS: THE PROMISES === #

    def _has_group(self, user, xmlid):
        """Group membership read from the database (implied groups are stored), not
        through has_group's cache, which a rolled-back write may have left behind."""
        self.env.cr.execute(
            SQL(
                "SELECT 1 FROM res_groups_users_rel WHERE uid = %s AND gid = %s",
                user.id,
                self.env.ref(xmlid).id,
            )
        )
        return bool(self.env.cr.fetchone())

    def _promises(self):
        """{promise: value}, computed from the database by the code's own rules."""
        self.env.flush_all()
        self.env.invalidate_all()
        Refund = self.env["payment.refund"].sudo()
        promises = {}
        for label, tx in self.payments.items():
            tx = tx.sudo()
            promises[f"{label}: paid"] = (
                tx.amount,
                tx.currency_id.name,
                tx.state,
                tx.operation,
                tx.company_id.id,
                tx.provider_id.id,
                tx.source_transaction_id.id,
            )
            promises[f"{label}: remaining refundable"] = tx.refund_remaining_amount
            promises[f"{label}: refund window"] = Refund._get_policy_verdict(tx)
        for refund in self.refunds.sudo():
            promises[f"refund {refund.name}: customer, company"] = (
                refund.partner_id.id,
                refund.company_id.id,
                refund.currency_id.name,
                refund.source_transaction_id.id,
            )
            promises[f"refund {refund.name}: state, amount, attempts"] = (
                refund.state,
                refund.amount,
                tuple(
                    (t.id, t.amount, t.state, t.operation, t.source_transaction_id.id)
                    for t in refund.transaction_ids
                ),
            )
        for user, company, where in self._limit_subjects():
            as_user = self.env["payment.refund"].with_user(user)
            promises[f"{user.login}: limits in {where}"] = as_user._get_user_limits(
                company
            )
            promises[f"{user.login}: issued today in {where}"] = round(
                as_user._get_issued_today(company.currency_id, company), 2
            )
            promises[f"{user.login}: refund rights"] = (
                self._has_group(user, GROUP_REFUND_USER),
                self._has_group(user, GROUP_REFUND_MANAGER),
            )
        for proof in self.proofs.sudo():
            if not proof.exists():  # Deleted with its attachment.
                promises[f"proof {proof.id}: bytes"] = "deleted"
                continue
            raw = proof.attachment_id.raw or b""
            promises[f"proof {proof.id}: bytes"] = (
                proof.attachment_id.id,
                proof.sha256,
                hashlib.sha256(raw).hexdigest() == proof.sha256,
            )
        return promises

    def _limit_subjects(self):
        return [
            (self.refund_billing, self.company_a, "company A"),
            (self.two_company_user, self.company_a, "company A"),
            (self.user_b, self.company_b, "company B"),
        ]

    def _broken_promises(self, before):
        """The promises that differ from `before`, each told in at most 160
        characters."""
        after = self._promises()
        return [
            f"{key}: {before.get(key)!r} -> {after.get(key)!r}"[:160]
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]

    # === HELPERS: WHAT CHANGED === #

    def _snapshot(self, records):
        """{(model, id): {field: value}} of every stored field but write_date and
        write_uid, read fresh from the database in sudo; None for a deleted
        record."""
        self.env.flush_all()
        self.env.invalidate_all()
        values = {}
        for record in records:
            record = record.sudo().with_context(active_test=False)
            key = (record._name, record.id)
            if not record.exists():
                values[key] = None
                continue
            row = {}
            for name, field in record._fields.items():
                # Who wrote last and when: a write of the same values is no change.
                if not field.store or name in ("write_date", "write_uid"):
                    continue
                value = record[name]
                if field.relational:
                    value = tuple(sorted(value.ids))
                row[name] = value
            values[key] = row
        return values

    def _changed(self, before, records):
        after = self._snapshot(records)
        changes = []
        for key, row in before.items():
            new = after.get(key)
            if new is None:
                changes.append(f"{key[0]}({key[1]}) deleted")
                continue
            changes += [
                f"{key[0]}({key[1]}).{name}" for name in row if row[name] != new[name]
            ]
        return changes

    def _assert_no_failures(self, failures, what):
        """Fail with every gap found, (subject, where, problem) grouped one line per
        subject and problem."""
        if not failures:
            return
        grouped = defaultdict(lambda: defaultdict(list))
        for subject, where, problem in failures:
            grouped[subject][problem].append(where)
        lines = [
            f"{subject}: "
            + " | ".join(
                f"{', '.join(wheres)}: {problem}"
                for problem, wheres in problems.items()
            )
            for subject, problems in grouped.items()
        ]
        self.fail(
            f"{len(failures)} {what}:\n" + "\n".join(f"- {line}" for line in lines)
        )

    # === HELPERS: HOSTILE VALUES === #

    def _pool(self, comodel_name):
        """Records of `comodel_name` to link or point to (at least 2), created before
        the savepoints."""
        # Per test: the records made here are rolled back with the test.
        pool = self.__dict__.setdefault("_pools", {})
        if comodel_name not in pool:
            Model = self.env[comodel_name].sudo().with_context(active_test=False)
            records = Model.search([], limit=3, order="id desc")
            if len(records) < 2:
                records |= self._make_record(comodel_name)
            pool[comodel_name] = records
        return pool[comodel_name]

    def _make_record(self, comodel_name):
        Model = self.env[comodel_name].sudo()
        if comodel_name == "payment.dispute":
            return self.pay_other._refund_proof_upsert_dispute(
                {"provider_reference": "du_POOL", "card_network": "visa"}
            )
        if comodel_name == "payment.token":
            return Model.create(
                {
                    "provider_id": self.provider.id,
                    "payment_method_id": self.payment_method_id,
                    "partner_id": self.emma.partner_id.id,
                    "payment_details": "6666",
                    "provider_ref": "hostile-token",
                }
            )
        if comodel_name == "sale.order":
            return Model.create({"partner_id": self.emma.partner_id.id})
        if comodel_name == "res.partner.bank":
            return Model.create(
                {
                    "acc_number": "FR7630006000011234567890189",
                    "partner_id": self.emma.partner_id.id,
                }
            )
        if comodel_name == "payment.refund.payout.export":
            return Model.create(
                [
                    {"name": f"hostile-{i}.xml", "company_id": self.env.company.id}
                    for i in range(2)
                ]
            )
        records = Model
        if "name" in Model._fields:
            for i in range(2):
                try:
                    with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                        records |= Model.create({"name": f"Hostile {i}"})
                except Exception:  # noqa: BLE001 - a model that needs more than a name
                    break
        # None made: x2many fields get a clear, many2one fields none.
        return records

    def _generic_values(self, record, name):
        """Plausible hostile values of a field, from its type, each different from
        the record's current value."""
        record = record.sudo().with_context(active_test=False)
        field = record._fields[name]
        current = record[name]
        kind = field.type
        if kind in ("char", "text", "html"):
            values = ["<b>FORGED</b>", "NOT THE SHOP"]
        elif kind == "boolean":
            values = [not current]
        elif kind in ("integer", "many2one_reference"):
            values = [42, 0, -1]
        elif kind in ("float", "monetary"):
            values = [5000.0, -4000.0, 0.0]
        elif kind == "date":
            values = [fields.Date.to_string(fields.Date.today()), "2099-01-01", False]
        elif kind == "datetime":
            values = [NOW, "2099-01-01 00:00:00", False, "1999-01-01 00:00:00"]
        elif kind == "selection":
            values = [
                key
                for key, _label in field._description_selection(self.env)
                if key != current
            ] + ([False] if current and not field.required else [])
        elif field.relational:
            values = self._relational_values(field, current) or [
                False if kind == "many2one" else [Command.clear()]
            ]
        elif kind in ("binary", "image"):
            values = [base64.b64encode(b"%PDF-1.4 forged").decode()]
        elif kind == "reference":
            values = [f"res.partner,{self.emma.partner_id.id}"]
        elif kind == "json":
            values = [{"hostile": True}]
        elif kind == "properties":
            values = [[]]
        else:
            self.fail(f"No hostile value for {record._name}.{name} ({kind}): add one.")
        return [v for v in values if not _is_current(field, current, v)] or values[:1]

    def _relational_values(self, field, current):
        """Another record for a many2one (or none); for x2many, links to others, a
        clear, a replacement."""
        others = self._pool(field.comodel_name) - current
        if field.type == "many2one":
            values = others.ids
            if current and not field.required:
                values.append(False)
            return values
        values = [[Command.link(others[:1].id)]] if others else []
        if current:
            values.append([Command.clear()])
        if field.type == "many2many" and others:
            values.append([Command.set(others.ids)])
        return values

    @staticmethod
    def _at_call(value):
        if value == NOW:
            return fields.Datetime.to_string(fields.Datetime.now())
        return value

    @staticmethod
    def _pick(values, *indexes):
        """One of `values`, rotating with the case's indexes (user, target): across
        the cases of a field every value is tried, without multiplying them."""
        return values[sum(indexes) % len(values)]


@tagged("-at_install", "post_install")
class FieldsAttackHelpers:
    """FoundationsCase's snapshot and hostile-value helpers, as they are (they read
    any model's `_fields`), for the suites of other models
    (test_payout_export_guards_rpc.py, refund_proof_batch's test_batch_guards_rpc.py).
    First among a test class's bases."""

    # A hostile value may make the ORM crash: its SQL error is logged too.
    _rpc_muted_loggers = ("odoo.http", "odoo.sql_db")

    _snapshot = FoundationsCase._snapshot
    _changed = FoundationsCase._changed
    _assert_no_failures = FoundationsCase._assert_no_failures
    _pool = FoundationsCase._pool
    _make_record = FoundationsCase._make_record
    _generic_values = FoundationsCase._generic_values
    _relational_values = FoundationsCase._relational_values
    _at_call = staticmethod(FoundationsCase._at_call)
    _pick = staticmethod(FoundationsCase._pick)


class TestPaymentTransactionFoundationsRpc(FoundationsCase):
    """Decision 1: users never write `payment.transaction` (payments and refund
    attempts, any field, any state); create only drafts. Findings 1-4."""

    render_proof = True

    def _targets(self):
        """[(label, transaction)]: the payments with a done, pending and failed
        refund, and the attempts of each."""
        return [
            ("payment with a done refund", self.pay_done),
            ("payment with a pending refund", self.pay_pending),
            ("payment with a failed refund", self.pay_failed),
            *self.attempts.items(),
        ]

    def _tx_values(self, tx, name):
        """The hostile values of a field of a transaction: what the issue's attacks
        write in the fields the promises read, else values from the field's type."""
        tx = tx.sudo()
        current = tx[name]
        special = {
            "amount": [5000.0, -4000.0, 0.0, tx.amount + 0.01],
            "currency_id": [self.eur.id, self.kwd.id],
            "state": ["pending", "done", "draft", "authorized", "cancel", "error"],
            "operation": ["refund", "online_direct", "online_token", "offline"],
            "partner_id": [self.emma.partner_id.id, self.camille.partner_id.id],
            "provider_id": [self.provider_b.id, self.other_provider_a.id],
            "company_id": [self.company_b.id],
            "source_transaction_id": [self.pay_other.id, self.pay_done.id, False],
            "refund_id": [self.refund_two.id, False],
            "refund_ids": [[Command.link(self.refund_two.id)], [Command.clear()]],
            "child_transaction_ids": [
                [Command.link(self.attempts["done refund attempt"].id)],
                [Command.clear()],
            ],
            "refund_charge_descriptor": ["NOT THE SHOP"],
            "refunded_amount": [5000.0, 0.0],
            "refund_status": ["none", "full"],
            "last_state_change": [NOW, "2099-01-01 00:00:00", False],
        }
        if name not in special:
            return self._generic_values(tx, name)
        field = tx._fields[name]
        values = [v for v in special[name] if not _is_current(field, current, v)]
        return values or special[name][:1]

    def _check_every_field(self, user, user_index):
        """Write each field of `_fields` on each target as `user` over RPC; return
        the gaps as (field, target, problem)."""
        # Every field: none is left out. Magic fields (id, create_uid...) are dropped
        # by Odoo's write and non-stored computed ones without inverse are not stored
        # either, but decision 1 refuses the write itself, whatever its fields.
        names = list(self.env["payment.transaction"]._fields)
        self.assertIn("amount", names, "the enumeration finds nothing")
        # The values first: the records they link are made before the baseline.
        cases = [
            (label, tx, name, self._pick(self._tx_values(tx, name), user_index, index))
            for index, (label, tx) in enumerate(self._targets())
            for name in names
        ]
        records = self.env["payment.transaction"].sudo().search([])
        # Every case starts from this state: the previous one was rolled back.
        baseline, before = self._promises(), self._snapshot(records)
        failures = []
        for label, tx, name, value in cases:
            subject = f"{name}={value!r}"
            with self._rolled_back():
                _result, error = self._attempt(
                    user,
                    "payment.transaction",
                    "write",
                    [tx.id],
                    {name: self._at_call(value)},
                )
                changed = self._changed(before, records)
                broken = self._broken_promises(baseline)
                if error is None:
                    failures.append((subject, label, "accepted"))
                if changed:
                    failures.append((subject, label, f"changed {changed}"))
                if broken:
                    failures.append((subject, label, f"broke {broken}"))
        return failures

    def test_billing_user_writes_no_field_of_payments_or_attempts(self):
        """A billing user (Odoo's Invoicing right, write access on transactions)
        writes no field of a paid payment with refunds, nor of a refund attempt:
        every write is refused, nothing changes, every promise holds."""
        failures = self._check_every_field(self.billing_user, 0)
        self._assert_no_failures(failures, "writes of a billing user")

    def test_refund_billing_user_writes_no_field_of_payments_or_attempts(self):
        """The same for a refund user who is also a billing user, whose own limits
        and refunds issued today are among the promises."""
        failures = self._check_every_field(self.refund_billing, 1)
        self._assert_no_failures(failures, "writes of a refund and billing user")

    def test_refund_manager_billing_writes_no_field_of_payments_or_attempts(self):
        """The same for a refund manager who is also a billing user."""
        failures = self._check_every_field(self.manager_billing, 2)
        self._assert_no_failures(failures, "writes of a refund manager and billing")

    def test_users_create_only_draft_transactions(self):
        """Decision 1: a user creates a draft payment transaction only; a non-draft
        one, a refund transaction, or one carrying a refund link, a source payment,
        a state date or a charge descriptor is refused, and nothing is created."""
        base = {
            "provider_id": self.provider.id,
            "payment_method_id": self.payment_method_id,
            "amount": 152.0,
            "currency_id": self.usd.id,
            "partner_id": self.camille.partner_id.id,
            "operation": "online_direct",
        }
        hostile = {
            "state done": {"state": "done"},
            "state pending": {"state": "pending"},
            "state authorized": {"state": "authorized"},
            "state error": {"state": "error"},
            "refund operation": {
                "operation": "refund",
                "amount": -5000.0,
                "source_transaction_id": self.pay_done.id,
            },
            "refund operation, draft": {"operation": "refund", "amount": -10.0},
            "refund link": {"refund_id": self.refund_done.id},
            "source payment": {"source_transaction_id": self.pay_done.id},
            "state date": {"last_state_change": "2099-01-01 00:00:00"},
            "charge descriptor": {"refund_charge_descriptor": "NOT THE SHOP"},
            "done with refunds": {
                "state": "done",
                "refund_ids": [Command.link(self.refund_two.id)],
            },
        }
        Tx = self.env["payment.transaction"].sudo()
        baseline = self._promises()
        failures = []
        for index, user in enumerate(
            (self.billing_user, self.refund_billing, self.manager_billing)
        ):
            for label, values in hostile.items():
                with self._rolled_back():
                    count = Tx.search_count([])
                    refunds = self.env["payment.refund"].sudo().search_count([])
                    result, error = self._attempt(
                        user,
                        "payment.transaction",
                        "create",
                        dict(base, reference=f"HOSTILE-{index}-{label}", **values),
                    )
                    self.env.invalidate_all()
                    if error is None:
                        failures.append((label, user.login, f"created {result}"))
                    if (
                        Tx.search_count([]) != count
                        or self.env["payment.refund"].sudo().search_count([]) != refunds
                    ):
                        failures.append((label, user.login, "records were created"))
                    broken = self._broken_promises(baseline)
                    if broken:
                        failures.append((label, user.login, f"broke {broken}"))
        # A draft that links existing records: the draft may be created, the links
        # must move nothing (the refunds, attempts and disputes stay where they are).
        linking = {
            "draft taking a refund": {"refund_ids": [Command.link(self.refund_two.id)]},
            "draft taking an attempt": {
                "child_transaction_ids": [
                    Command.link(self.attempts["pending refund attempt"].id)
                ]
            },
            "draft with a done refund child": {
                "child_transaction_ids": [
                    Command.create(
                        dict(
                            base,
                            reference="HOSTILE-CHILD",
                            operation="refund",
                            amount=-5000.0,
                            state="done",
                        )
                    )
                ]
            },
        }
        records = [*Tx.search([]), *self.refunds]
        before = self._snapshot(records)
        for index, user in enumerate((self.refund_billing, self.manager_billing)):
            for label, values in linking.items():
                with self._rolled_back():
                    refunds = self.env["payment.refund"].sudo().search_count([])
                    self._attempt(
                        user,
                        "payment.transaction",
                        "create",
                        dict(base, reference=f"LINKING-{index}-{label}", **values),
                    )
                    changed = self._changed(before, records)
                    if changed:
                        failures.append((label, user.login, f"changed {changed}"))
                    if self.env["payment.refund"].sudo().search_count([]) != refunds:
                        failures.append((label, user.login, "a refund was created"))
                    broken = self._broken_promises(baseline)
                    if broken:
                        failures.append((label, user.login, f"broke {broken}"))
        self._assert_no_failures(failures, "creations of transactions")
        # The control: a draft is what users may still create (a billing user who
        # reads providers: Odoo's create reads the provider).
        with self._rolled_back():
            result, error = self._attempt(
                self.refund_billing,
                "payment.transaction",
                "create",
                dict(base, reference="PLAIN-DRAFT"),
            )
            self.assertIsNone(error, "a draft transaction must remain creatable")
            self.assertEqual(Tx.browse(result).state, "draft")

    def _public_methods(self):
        """The public methods Odoo's and refund_proof's modules define on
        payment.transaction, found at run time: those a client calls by RPC. The
        ORM's and its generic extensions' (web, mail: every model's) are not
        enumerated; their write path, web_save, is attacked by itself."""
        names = set()
        for cls in type(self.env["payment.transaction"]).mro():
            module = getattr(cls, "__module__", "")
            if not module.startswith("odoo.addons.") or module.startswith(
                GENERIC_MODEL_MODULES
            ):
                continue
            for name, attr in vars(cls).items():
                if not name.startswith("_") and inspect.isfunction(attr):
                    names.add(name)
        self.assertIn("action_capture", names, "the enumeration finds nothing")
        # The refund entry points make refunds, within the promises: tested by the
        # refund suites. create/write are the tests above.
        return sorted(names - TX_REFUND_ENTRY_POINTS - {"create", "write", "unlink"})

    # Odoo's state machine logs the transitions it refuses (a done payment set
    # cancelled): expected answers to these calls. queue_job (refund_proof_batch)
    # gives every model `delayable` and `with_delay`: called over RPC they prepare a
    # job that nothing delays (what they return is no JSON), and queue_job warns
    # when it is collected; the test checks that nothing changed.
    @mute_logger(
        "odoo.addons.payment.models.payment_transaction", "odoo.addons.queue_job.delay"
    )
    def test_public_methods_move_no_promise(self):
        """Every public method of a transaction (capture, void, the demo provider's
        simulated outcomes, the views...) and the web client's save, called over RPC
        by a billing user and a refund user who is also a billing user on each
        payment and attempt: no transaction changes, every promise holds (a pending
        refund attempt is not made done, a failed one not revived)."""
        methods = self._public_methods()
        records = self.env["payment.transaction"].sudo().search([])
        baseline, before = self._promises(), self._snapshot(records)
        failures = []
        for user in (self.billing_user, self.refund_billing):
            for label, tx in self._targets():
                for method in methods:
                    with self._rolled_back():
                        self._attempt(user, "payment.transaction", method, [tx.id])
                        where = f"{label} [{user.login}]"
                        changed = self._changed(before, records)
                        if changed:
                            failures.append((method, where, f"changed {changed}"))
                        broken = self._broken_promises(baseline)
                        if broken:
                            failures.append((method, where, f"broke {broken}"))
        # The web client's save: a write by another name.
        for user, (label, tx), values in itertools.product(
            (self.billing_user, self.refund_billing),
            self._targets(),
            (
                {"amount": 5000.0},
                {"state": "pending"},
                {"partner_id": self.emma.partner_id.id},
                {"provider_id": self.provider_b.id},
            ),
        ):
            with self._rolled_back():
                _result, error = self._attempt(
                    user, "payment.transaction", "web_save", [tx.id], values, {}
                )
                where = f"{label} [{user.login}]"
                subject = f"web_save({values})"
                if error is None:
                    failures.append((subject, where, "accepted"))
                changed = self._changed(before, records)
                if changed:
                    failures.append((subject, where, f"changed {changed}"))
                broken = self._broken_promises(baseline)
                if broken:
                    failures.append((subject, where, f"broke {broken}"))
        self._assert_no_failures(failures, "method calls on transactions")

    # === FINDINGS 1-4 === #

    def _refund_rpc(self, user, tx, amount):
        return self._attempt(
            user,
            "payment.transaction",
            "action_refund",
            [tx.id],
            amount_to_refund=amount,
        )

    def _write_steps(self, user, tx, steps):
        """Write each step over RPC, whatever the previous one answered."""
        for step in steps:
            self._attempt(user, "payment.transaction", "write", [tx.id], step)

    def test_finding_1_a_paid_amount_cannot_be_raised_to_refund_above_it(self):
        """Finding 1. A billing user writes a paid payment's state to pending, its
        amount to 5000, its state back to done: a refund manager's refund of 4,000.00
        on the 152.00 payment is never made. A refund user who is also a billing
        user, limit 1,000, does the same on a 153.00 payment, then refunds 200.00:
        never made."""
        steps = [{"state": "pending"}, {"amount": 5000}, {"state": "done"}]
        tx = self._paid(152.0)
        self._write_steps(self.billing_user, tx, steps)
        _result, error = self._refund_rpc(self.refund_manager, tx, 4000.0)
        self.env.invalidate_all()
        self.assertEqual((tx.amount, tx.state), (152.0, "done"), "the payment changed")
        self.assertFalse(
            tx.refund_ids.filtered(lambda r: r.amount > 152.0),
            "a refund above what was paid",
        )
        self.assertIsNotNone(error, "the refund of 4,000.00 was accepted")

        tx = self._paid(153.0)
        self._write_steps(self.refund_billing, tx, steps)
        _result, error = self._refund_rpc(self.refund_billing, tx, 200.0)
        self.env.invalidate_all()
        self.assertEqual((tx.amount, tx.state), (153.0, "done"), "the payment changed")
        self.assertFalse(tx.refund_ids, "a refund of 200.00 on 153.00 was recorded")
        self.assertIsNotNone(error, "the refund of 200.00 was accepted")

    def test_finding_2_a_payment_date_cannot_be_moved_into_the_window(self):
        """Finding 2. A refund user who is also a billing user writes
        last_state_change = now (or clears it) on a 45-day-old payment: their refund
        still awaits a manager's approval (outside the 30-day window)."""
        for value in (NOW, False):
            with self._rolled_back():
                tx = self._paid(100.0)
                self._backdate_payments([tx], datetime.now() - timedelta(days=45))
                self._write_steps(
                    self.refund_billing,
                    tx,
                    [{"last_state_change": self._at_call(value)}],
                )
                _result, error = self._refund_rpc(self.refund_billing, tx, 10.0)
                self.assertIsNone(error, f"the request was refused: {error}")
                self.env.invalidate_all()
                self.assertEqual(
                    tx.refund_ids.state,
                    "to_approve",
                    f"last_state_change={value!r}: issued without approval",
                )
                self.assertIn("Outside policy", tx.refund_ids.approval_reasons)

    def test_finding_3_a_refund_cannot_be_moved_to_another_customer(self):
        """Finding 3. A billing user writes partner_id of Camille's paid payment to
        Emma: Emma's portal neither lists Camille's refund nor downloads her proof;
        the refund's customer stays Camille."""
        refund, proof = self.refund_done, self.proof
        self._write_steps(
            self.billing_user, self.pay_done, [{"partner_id": self.emma.partner_id.id}]
        )
        self.env.invalidate_all()
        self.assertEqual(refund.partner_id, self.camille.partner_id)
        self.assertEqual(self.pay_done.partner_id, self.camille.partner_id)
        self.authenticate(self.emma.login, self.emma.login)
        self.assertNotIn(refund.name, self.url_open("/my/refunds").text)
        response = self.url_open(
            f"/my/refunds/{refund.id}?report_type=pdf&download=true",
            allow_redirects=False,
        )
        self.assertNotEqual(response.content, proof.attachment_id.raw)
        self.assertNotIn(b"%PDF", response.content[:8], "Emma downloaded a proof")
        # The control: Camille still downloads her proof.
        self.authenticate(self.camille.login, self.camille.login)
        self.assertIn(refund.name, self.url_open("/my/refunds").text)
        response = self.url_open(
            f"/my/refunds/{refund.id}?report_type=pdf&download=true"
        )
        self.assertEqual(response.content, proof.attachment_id.raw)

    def test_finding_4_payments_and_attempts_stay_in_their_company(self):
        """Finding 4. A billing user of company A writes provider_id of a refunded
        payment to company B's provider (the payment and its refunds would move to
        B), operation or provider_id within company A, amount -4000 on a pending
        refund attempt, its source_transaction_id to another payment: each refused,
        nothing moved."""
        attempt = self.attempts["pending refund attempt"]
        attacks = [
            (self.pay_done, {"provider_id": self.provider_b.id}),
            (self.pay_done, {"provider_id": self.other_provider_a.id}),
            (self.pay_done, {"operation": "refund"}),
            (attempt, {"amount": -4000.0}),
            (attempt, {"source_transaction_id": self.pay_other.id}),
        ]
        baseline = self._promises()
        records = self.env["payment.transaction"].sudo().search([])
        failures = []
        for tx, values in attacks:
            with self._rolled_back():
                before = self._snapshot(records)
                _result, error = self._attempt(
                    self.billing_user, "payment.transaction", "write", [tx.id], values
                )
                changed = self._changed(before, records)
                broken = self._broken_promises(baseline)
                label = f"{tx.reference}: {values}"
                if error is None:
                    failures.append((label, "billing user", "accepted"))
                if changed:
                    failures.append((label, "billing user", f"changed {changed}"))
                if broken:
                    failures.append((label, "billing user", f"broke {broken}"))
                self.env.invalidate_all()
                if self.refund_done.company_id != self.company_a:
                    failures.append((label, "billing user", "the refund moved company"))
        self._assert_no_failures(failures, "moves of payments and attempts")


class SettingsCase(FoundationsCase):
    """Writes that may be accepted where no decision refuses them: the verdict is
    then the promises, whatever is written; the fields a decision reserves are
    refused and keep their value."""

    def _check_fields(self, user, record, cases, strict):
        """Write each (field, value) of `cases` on `record` as `user` over RPC;
        return the gaps as (field=value, who, problem). Fields in `strict` must be
        refused and unchanged; every write must leave the promises as they were."""
        baseline = self._promises()
        stored = {name: self._stored_value(record, name) for name in strict}
        failures = []
        who = f"{user.login} on {record.display_name}"
        for name, value in cases:
            subject = f"{record._name}.{name}={value!r}"
            with self._rolled_back():
                _result, error = self._attempt(
                    user, record._name, "write", [record.id], {name: value}
                )
                broken = self._broken_promises(baseline)
                if broken:
                    failures.append((subject, who, f"broke {broken}"))
                if name in strict:
                    if error is None:
                        failures.append((subject, who, "accepted"))
                    after = self._stored_value(record, name)
                    if after != stored[name]:
                        failures.append(
                            (subject, who, f"changed {stored[name]!r} -> {after!r}")
                        )
        return failures

    def _stored_value(self, record, name):
        self.env.flush_all()
        self.env.invalidate_all()
        value = record.sudo().with_context(active_test=False)[name]
        return tuple(sorted(value.ids)) if record._fields[name].relational else value

    def _cases(self, record, names, special):
        """[(field, value)]: every value of `special` for its fields, one value from
        the field's type for the others (rotating over the fields)."""
        cases = []
        for index, name in enumerate(names):
            if name in special:
                field = record._fields[name]
                current = record.sudo()[name]
                values = [
                    v for v in special[name] if not _is_current(field, current, v)
                ]
                cases += [(name, v) for v in values or special[name][:1]]
            else:
                value = self._pick(self._generic_values(record, name), index)
                cases.append((name, self._at_call(value)))
        return cases


@tagged("-at_install", "post_install")
class TestCompanySettingsFoundationsRpc(SettingsCase):
    """Decision 3: refund_proof's company settings (the refund window, the refund
    day's time zone, the dispute threshold...) are written by administrators only;
    the company fields the rules read (currency, partner) move no promise."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Company contacts in the attackers' time zones (the refund day was the
        # company partner's tz before decision 3).
        cls.tz_partners = cls.env["res.partner"].create(
            [
                {"name": f"Shop contact {tz}", "is_company": True, "tz": tz}
                for tz in cls.hostile_tzs
            ]
        )

    def _company_fields(self):
        """(refund_proof's own fields, every field to attack), found at run time."""
        Company = self.env["res.company"]
        own = sorted(
            name
            for name, field in Company._fields.items()
            if (field._module or "").startswith("refund_proof")
        )
        self.assertIn("refund_window_days", own, "the enumeration finds nothing")
        return own, own + [n for n in COMPANY_RULE_FIELDS if n not in own]

    def _company_special(self):
        return {
            "refund_window_days": [0, 3650],
            "refund_tz": self.hostile_tzs,
            "dispute_rate_threshold": [100.0, 0.0],
            "refund_pending_alert_days": [0, 3650],
            "currency_id": [self.kwd.id, self.eur.id],
            "partner_id": self.tz_partners.ids,
        }

    def test_non_administrators_write_no_refund_setting(self):
        """A refund manager, a billing user and an Access-Rights administrator (who
        writes companies, but is not a Settings administrator) write none of
        refund_proof's company settings; whatever else of the company they write,
        the promises hold."""
        own, names = self._company_fields()
        cases = self._cases(self.company_a, names, self._company_special())
        failures = []
        for user in (self.refund_manager, self.billing_user, self.erp_manager):
            failures += self._check_fields(user, self.company_a, cases, set(own))
        self._assert_no_failures(failures, "company writes")

    def test_administrator_changes_a_refund_setting_logged(self):
        """The control: an administrator (Settings) changes the refund window; the
        change is logged with the field, the old and new values and the user."""
        logger = logging.getLogger("odoo.addons.refund_proof")
        records = []
        handler = logging.Handler(logging.INFO)
        handler.emit = records.append
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            _result, error = self._attempt(
                self.admin_user,
                "res.company",
                "write",
                [self.company_a.id],
                {"refund_window_days": 45},
            )
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        self.assertIsNone(error, "an administrator must set the refund window")
        lines = [record.getMessage() for record in records]
        self.env.invalidate_all()
        self.assertEqual(self.company_a.refund_window_days, 45)
        self.assertTrue(
            any(
                "refund_window_days" in line
                and "30" in line
                and "45" in line
                and self.admin_user.login in line
                for line in lines
            ),
            f"the change is not logged: {lines}",
        )


@tagged("-at_install", "post_install")
class TestCompanyPartnerFoundationsRpc(SettingsCase):
    """The company's contact: a user with Contact Creation rights writes it (Odoo's
    right); whatever they write in any of its fields, the promises hold (its tz is no
    longer the refund day's). Finding 6."""

    def test_contact_creator_moves_no_promise_through_the_company_partner(self):
        """Every field of the company partner written by a Contact Creation user,
        its time zone in the attackers' zones: the refund day, the window, the limits,
        the cap, the customers and the proof hold."""
        partner = self.company_a.partner_id
        names = list(partner._fields)
        self.assertIn("tz", names, "the enumeration finds nothing")
        cases = self._cases(partner, names, {"tz": self.hostile_tzs})
        failures = self._check_fields(self.contact_creator, partner, cases, set())
        self._assert_no_failures(failures, "company partner writes")

    def test_finding_6_the_company_partner_tz_does_not_move_the_refund_day(self):
        """Finding 6. A user limited to 300 a day issued 300.00 earlier today; a user
        with Contact Creation rights writes the company partner's tz to a zone where a
        new day just began: the next 300.00 awaits approval."""
        limited = new_test_user(
            self.env,
            login="limited_300",
            groups=f"base.group_user,{GROUP_REFUND_USER}",
            refund_limit=300,
            refund_daily_limit=300,
        )
        self._init_limit_currency(limited)
        first = self._refund_as(self._paid(400.0), 300.0, limited)
        self.assertEqual(first.state, "done")
        self._backdate_limit_dates(first, timedelta(hours=2))
        self._attempt(
            self.contact_creator,
            "res.partner",
            "write",
            [self.company_a.partner_id.id],
            {"tz": self.tz_midnight},
        )
        tx = self._paid(400.0)
        _result, error = self._attempt(
            limited,
            "payment.transaction",
            "action_refund",
            [tx.id],
            amount_to_refund=300.0,
        )
        self.assertIsNone(error, f"the request was refused: {error}")
        self.env.invalidate_all()
        self.assertEqual(
            tx.refund_ids.state, "to_approve", "600.00 issued against a 300 daily limit"
        )


@tagged("-at_install", "post_install")
class TestUserLimitsFoundationsRpc(SettingsCase):
    """Decision 2: the limits are in a currency users do not change on themselves,
    and a refund manager sets limits only on users of their own companies. Every field
    of a user that a rule reads, written by the user on themselves and by a manager of
    company A on a user of company B: the limit fields refused, the promises held.
    Findings 5 and 7."""

    def _user_fields(self):
        """(refund_proof's own fields, every field to attack), found at run time."""
        Users = self.env["res.users"]
        own = sorted(
            name
            for name, field in Users._fields.items()
            if (field._module or "").startswith("refund_proof")
        )
        self.assertIn("refund_limit", own, "the enumeration finds nothing")
        return own, own + [n for n in USER_RULE_FIELDS if n not in own]

    def _user_special(self, other_company):
        return {
            "refund_limit": [1e9],
            "refund_daily_limit": [1e9],
            "refund_limit_currency_id": [self.kwd.id, self.usd.id, self.eur.id],
            "company_id": [other_company.id],
            "company_ids": [
                [Command.link(other_company.id)],
                [Command.set(other_company.ids)],
            ],
            "groups_id": [
                [Command.link(self.env.ref(GROUP_REFUND_MANAGER).id)],
                [Command.link(self.env.ref("base.group_erp_manager").id)],
            ],
            "tz": self.hostile_tzs,
            "active": [False],
            "partner_id": [self.camille.partner_id.id],
        }

    def test_user_moves_no_promise_on_themselves(self):
        """A refund user of companies A and B writes each field a rule reads on their
        own user (their company to B, whose currency is KWD, their limits, groups,
        language, time zone): their limits, day total and rights hold."""
        own, names = self._user_fields()
        user = self.two_company_user
        cases = self._cases(user, names, self._user_special(self.company_b))
        failures = self._check_fields(user, user, cases, set(own))
        self._assert_no_failures(failures, "writes of a user on themselves")

    def test_manager_of_a_moves_no_promise_of_a_user_of_b(self):
        """A refund manager of company A only writes each field a rule reads on a
        refund user of company B only: the limits are refused, the promises hold."""
        own, names = self._user_fields()
        cases = self._cases(self.user_b, names, self._user_special(self.company_a))
        failures = self._check_fields(self.refund_manager, self.user_b, cases, set(own))
        self._assert_no_failures(failures, "writes of a manager on another company")

    def test_finding_5_own_company_does_not_change_the_limits_currency(self):
        """Finding 5. A refund user of companies A (USD) and B (KWD), limit 100 and
        300 a day, writes their own company_id to B: a refund of 200.00 USD (below
        100 KWD, about 285 USD) still awaits approval."""
        user = self.two_company_user
        self._attempt(
            user, "res.users", "write", [user.id], {"company_id": self.company_b.id}
        )
        tx = self._paid(250.0)
        _result, error = self._attempt(
            user,
            "payment.transaction",
            "action_refund",
            [tx.id],
            amount_to_refund=200.0,
            context={"allowed_company_ids": [self.company_a.id, self.company_b.id]},
        )
        self.assertIsNone(error, f"the request was refused: {error}")
        self.env.invalidate_all()
        self.assertEqual(
            tx.refund_ids.state, "to_approve", "200.00 USD issued against a 100 limit"
        )
        limits = (
            self.env["payment.refund"].with_user(user)._get_user_limits(self.company_a)
        )
        self.assertEqual(limits, (100.0, 300.0))

    def test_finding_7_a_manager_sets_limits_in_their_companies_only(self):
        """Finding 7. A refund manager of company A only sets refund_limit 1e9 (and
        the daily limit) on a refund user of company B only, or of companies A and
        B: refused, unchanged. The control: on a user of company A only, accepted."""
        for values in (
            {"refund_limit": 1e9},
            {"refund_daily_limit": 1e9},
            {"refund_limit": 1e9, "refund_daily_limit": 1e9},
        ):
            with self._rolled_back():
                _result, error = self._attempt(
                    self.refund_manager,
                    "res.users",
                    "write",
                    [self.user_b.id],
                    values,
                )
                self.env.invalidate_all()
                user_b = self.user_b.sudo()
                self.assertEqual(
                    (user_b.refund_limit, user_b.refund_daily_limit),
                    (100.0, 300.0),
                    f"{values} written on a user of company B",
                )
                self.assertIsNotNone(error, f"{values} accepted")
        # A user of company A who also works in company B: not the manager's alone.
        with self._rolled_back():
            _result, error = self._attempt(
                self.refund_manager,
                "res.users",
                "write",
                [self.two_company_user.id],
                {"refund_limit": 1e9},
            )
            self.env.invalidate_all()
            self.assertEqual(self.two_company_user.sudo().refund_limit, 100.0)
            self.assertIsNotNone(error, "limits set on a user of companies A and B")
        _result, error = self._attempt(
            self.refund_manager,
            "res.users",
            "write",
            [self.refund_billing.id],
            {"refund_limit": 500.0},
        )
        self.assertIsNone(error, "a manager must set the limits of their own users")
        self.env.invalidate_all()
        self.assertEqual(self.refund_billing.sudo().refund_limit, 500.0)


@tagged("-at_install", "post_install")
class TestIssuedFilesFoundationsRpc(FoundationsCase):
    """Decision 4: the attachment of an issued proof and of a dispute's evidence pack
    as sent: every field write and unlink by a refund manager, an accountant and an
    administrator (Settings, not the superuser) is refused, the bytes unchanged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        dispute = cls.pay_done._refund_proof_upsert_dispute(
            {
                "provider_reference": "du_FOUNDATIONS",
                "card_network": "visa",
                "reason_code": "13.6",
                "kind": "inquiry",
            }
        )
        # Stored by the server's own path; its PDF made up (a render takes seconds,
        # and its bytes are not what is attacked here but their immutability).
        with patch.object(
            type(dispute),
            "_render_evidence_pdf",
            lambda self: b"%PDF-1.4 evidence pack " + self.name.encode(),
        ):
            pack = dispute._create_evidence_attachment()
        # As `action_submit_evidence` records what it sent.
        dispute.sudo().write(
            {
                "evidence_attachment_id": pack.id,
                "evidence_submit_date": fields.Datetime.now(),
                "evidence_submission": "uncategorized_file: the pack",
            }
        )
        cls.pack = pack
        cls.pack_sha256 = hashlib.sha256(pack.raw).hexdigest()
        # Another file, whose storage an attacker would point the proof to.
        cls.other_file = (
            cls.env["ir.attachment"]
            .sudo()
            .create({"name": "forged.pdf", "raw": b"%PDF-1.4 forged proof"})
        )

    def _files(self):
        return [
            ("issued proof", self.proof.attachment_id),
            ("evidence pack", self.pack),
        ]

    def _file_values(self, attachment, name):
        forged = "%PDF-1.4 forged proof"
        special = {
            "raw": [forged],
            "datas": [base64.b64encode(forged.encode()).decode()],
            "db_datas": [base64.b64encode(forged.encode()).decode()],
            "store_fname": [self.other_file.store_fname],
            "checksum": [self.other_file.checksum],
            "res_model": ["res.partner"],
            "res_id": [self.emma.partner_id.id],
            "public": [True],
            "access_token": ["forged-token"],
            "type": ["url"],
            "url": ["https://evil.example/proof.pdf"],
            "mimetype": ["text/html"],
        }
        if name in special:
            return special[name]
        return self._generic_values(attachment, name)

    def _file_bytes(self):
        self.env.invalidate_all()
        return {
            label: (
                attachment.sudo().exists().id,
                hashlib.sha256(attachment.sudo().raw or b"").hexdigest(),
            )
            for label, attachment in self._files()
        }

    def test_nobody_writes_or_deletes_an_issued_file(self):
        """Every field of the proof's and the evidence pack's attachments, written by
        a refund manager, an accountant and an administrator, then their deletion:
        refused, nothing changed, the bytes those of the issue."""
        names = list(self.env["ir.attachment"]._fields)
        self.assertIn("raw", names, "the enumeration finds nothing")
        files = self._files()
        expected = {
            "issued proof": (self.proof.attachment_id.id, self.proof.sha256),
            "evidence pack": (self.pack.id, self.pack_sha256),
        }
        self.assertEqual(self._file_bytes(), expected, "the fixtures' bytes")
        users = (self.refund_manager, self.accountant, self.admin_user)
        cases = [
            (label, attachment, name, value)
            for file_index, (label, attachment) in enumerate(files)
            for name in names
            for value in [
                self._pick(
                    self._file_values(attachment, name), file_index, names.index(name)
                )
            ]
        ]
        records = self.env["ir.attachment"].browse([a.id for _l, a in files])
        before, baseline = self._snapshot(records), self._promises()
        failures = []
        for user in users:
            for label, attachment, name, value in cases + [
                (label, attachment, None, None) for label, attachment in files
            ]:
                subject = f"write {name}={value!r}" if name else "unlink"
                with self._rolled_back():
                    if name:
                        _result, error = self._attempt(
                            user,
                            "ir.attachment",
                            "write",
                            [attachment.id],
                            {name: self._at_call(value)},
                        )
                    else:
                        _result, error = self._attempt(
                            user, "ir.attachment", "unlink", [attachment.id]
                        )
                    where = f"{label} [{user.login}]"
                    if error is None:
                        failures.append((subject, where, "accepted"))
                    changed = self._changed(before, records)
                    if changed:
                        failures.append((subject, where, f"changed {changed}"))
                    if self._file_bytes() != expected:
                        failures.append((subject, where, "the bytes changed"))
                    broken = self._broken_promises(baseline)
                    if broken:
                        failures.append((subject, where, f"broke {broken}"))
        self._assert_no_failures(failures, "changes of issued files")
