"""A hostile client of Odoo's real JSON-RPC endpoint against bulk refunds.

What a browser, a script or a stolen session sends reaches `payment.refund.batch` and
its lines through `/jsonrpc` → `execute_kw`, where the form's readonly attributes and
its buttons' states do not exist. As tests/refund_proof/test_refund_guards_rpc.py does
for `payment.refund`, these tests enumerate what the models expose at run time (every
field of `_fields`, every public method refund_proof_batch defines) and hold each call,
by every role, on a batch in every state, to verdict tables written here from the
specification (refund_proof_batch/const.py, README): a field or method added later is
attacked by the same loops, and is refused unless a table says otherwise.

A refused call must come back as a JSON-RPC error and leave the batch and its lines as
they were (every stored field compared with a snapshot, the last writer excepted),
with no batch, line, refund, refund transaction or queue job created.

The mail mixins' fields (`message_*`, `activity_*`) are enumerated with the others: the
batch's `write` refuses them as it refuses every server field. Their own paths
(`message_post`, `message_subscribe`, `activity_schedule`, `mail.activity` and
`mail.followers` records) are Odoo's business, not enumerated here: mail checks them
against the batch's access (its `_mail_post_access`, the record rules), and no rule of
a batch reads what they write (its state, approver, starter, creator, lines).

Each case runs in a savepoint of the test transaction rolled back after it (the HTTP
server works on the same transaction, HttpCase's test cursor): every case starts from
the same fixtures.
"""

import inspect
import itertools

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.tests.common import trap_jobs

from ..json_rpc_client import JsonRpcMixin
from ..refund_proof import test_refund_foundations_rpc as foundations
from . import test_batch_interrupted as interrupted
from .test_batch import BatchCase

BATCH = "payment.refund.batch"
LINE = "payment.refund.batch.line"

# The fixtures: a batch of the creator (a refund user) in each state, "approved draft"
# being a batch approved by another manager and not started yet.
BATCH_STATES = (
    "draft",
    "approved draft",
    "to_approve",
    "running",
    "done",
    "cancelled",
)

# The roles: the batches' creator (a refund user), another refund user, a refund
# manager (neither the creator nor the approver of the fixtures), a billing user
# (account.group_account_invoice: writes payment transactions in Odoo) and a portal
# customer.
ROLES = ("creator", "other refund user", "manager", "billing user", "portal")

# Who writes which field of a batch over RPC, and when: the amount, reason and note
# (refund_proof_batch/const.py, BATCH_USER_EDITABLE_FIELDS) of a draft not approved
# yet, by its creator or a refund manager (managers act on every batch of their
# companies). Any other field, role or state is refused.
USER_EDITABLE = frozenset(
    {"amount_mode", "amount_percentage", "amount_fixed", "reason_id", "note"}
)
WRITE_RULES = {
    "creator": {"fields": USER_EDITABLE, "states": frozenset({"draft"})},
    "manager": {"fields": USER_EDITABLE, "states": frozenset({"draft"})},
}

# Who calls which action of a batch over RPC, in which state, and the state the batch
# reaches: any other role, state or public method is refused.
BATCH_CALLS = {
    # Within the creator's limits (the draft) or approved: started.
    "action_start": {
        "roles": frozenset({"creator", "manager"}),
        "states": {"draft": "running", "approved draft": "running"},
    },
    # Four eyes: another refund manager than the creator, a batch awaiting approval.
    "action_approve": {
        "roles": frozenset({"manager"}),
        "states": {"to_approve": "draft"},
    },
    # Started batches: the done one's failed line is queued again (it runs again);
    # the running one has none.
    "action_retry_failed": {
        "roles": frozenset({"creator", "manager"}),
        "states": {"running": "running", "done": "running"},
    },
    # What was not sent yet; a running batch whose lines were all queued is done.
    "action_cancel_rest": {
        "roles": frozenset({"creator", "manager"}),
        "states": {
            "draft": "cancelled",
            "approved draft": "cancelled",
            "to_approve": "cancelled",
            "running": "done",
        },
    },
}
# Who deletes a batch: a draft not approved yet (nothing was decided or sent), by the
# roles that act on it.
UNLINK_RULES = {"creator": {"draft"}, "manager": {"draft"}}

# The lines: labels of the fixtures' lines, by their batch's and their own state.
LINE_FIXTURES = (
    "draft",
    "approved draft",
    "to_approve",
    "queued",
    "done",
    "failed",
    "cancelled",
    "interrupted",
)
# Who calls which action of a line over RPC: a refund manager decides that an
# interrupted line's refund was not made (it fails, to be retried). Nobody writes,
# creates, copies or deletes a line.
LINE_CALLS = {
    "action_mark_not_refunded": {
        "roles": frozenset({"manager"}),
        "states": {"interrupted": "failed"},
    },
}

# Tested by themselves, not by the loops over public methods.
CRUD_METHODS = frozenset({"create", "write", "copy", "unlink"})


class BatchGuardsCase(
    foundations.FieldsAttackHelpers, JsonRpcMixin, BatchCase, HttpCase
):
    """Batches of one refund user in every state, the roles that attack them, and
    the snapshot and hostile-value helpers of test_refund_foundations_rpc.py (reused
    as they are: they read any model's `_fields`)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_customer = new_test_user(
            cls.env, login="batch_portal_customer", groups="base.group_portal"
        )
        cls.roles = {
            "creator": cls.limited_user,
            "other refund user": cls.another_user,
            "manager": cls.refund_manager,
            "billing user": cls.billing_user,
            "portal": cls.portal_customer,
        }
        # _generic_values' hostile reference (no field of these models has one).
        cls.emma = cls.portal_customer
        # The fixtures, built once for the class by an instance of it (its factories
        # are instance methods): every test, and every case in a savepoint, starts
        # from them.
        cls.fixtures = cls(methodName="_build_fixtures")._build_fixtures()

    def _build_fixtures(self):
        """{label: record} of the class's fixtures (batches here)."""
        return self._batches()

    # === FIXTURES === #

    def _creator_batch(self, amount):
        """Refund Selected by the creator on a new payment: within their limits
        (100.0 a refund, 200.0 a day) at 50.0, awaiting approval when started at
        150.0."""
        return self._batch(
            self._create_paid_transaction(amount), user=self.limited_user
        )

    def _batches(self):
        """{label: batch} of the creator, each in the state of its label, reached as
        batches reach it (Refund Selected, Start, Approve, the lines' jobs, Cancel
        the Rest)."""
        creator = self.limited_user
        batches = {"draft": self._creator_batch(50.0)}
        for label in ("to_approve", "approved draft"):
            batch = batches[label] = self._creator_batch(150.0)
            batch.with_user(creator).action_start()
        batches["approved draft"].with_user(self.other_manager).action_approve()
        batches["running"] = self._creator_batch(50.0)
        self._start(batches["running"])  # Its line's job trapped: never run.
        batches["done"] = self._batch(
            self._create_paid_transaction(50.0) | self._create_paid_transaction(30.0),
            user=creator,
        )
        self._perform(self._line_jobs(self._start(batches["done"])))
        # Then the provider reverses one of its refunds, as it may: that line fails,
        # the batch stays done, Retry Failed has a line to ask again.
        reversed_line = batches["done"].line_ids.filtered(
            lambda line: line.amount == 30.0
        )
        reversed_line.refund_id.transaction_ids._set_error(
            "Reversed by the bank", extra_allowed_states=("done",)
        )
        batches["cancelled"] = self._creator_batch(50.0)
        batches["cancelled"].with_user(creator).action_cancel_rest()
        self.env.invalidate_all()
        for label, batch in batches.items():
            state = "draft" if label == "approved draft" else label
            self.assertEqual(batch.state, state, f"fixture {label}")
            self.assertEqual(bool(batch.approved_by_id), label == "approved draft")
            self.assertEqual(batch.create_uid, creator)
        return batches

    def _interrupted_line(self):
        """The line of a started batch whose job's worker died, as the resume cron
        leaves it: pending, interrupted, without a refund."""
        batch = self._creator_batch(50.0)
        batch.with_user(self.limited_user).action_start()  # Its job stored.
        line = batch.line_ids
        job = (
            self.env["queue.job"]
            .sudo()
            .search([("identity_key", "=", f"refund_proof_batch_line:{line.id}")])
        )
        interrupted.TestBatchInterrupted._started_by(self, job, interrupted.DEAD_PID)
        with trap_jobs():
            self.env[LINE].sudo()._cron_resume_interrupted()
        self.env.invalidate_all()
        self.assertRecordValues(
            line, [{"state": "pending", "interrupted": True, "refund_id": False}]
        )
        return line

    # === WHAT CHANGED === #

    def _counts(self):
        """Counts of what a call must not create, in sudo."""
        self.env.invalidate_all()
        return {
            model: self.env[model].sudo().search_count(domain)
            for model, domain in (
                (BATCH, []),
                (LINE, []),
                ("payment.refund", []),
                ("payment.transaction", [("operation", "=", "refund")]),
                ("queue.job", []),
            )
        }

    def _created(self, before):
        after = self._counts()
        return [
            f"{model} +{after[model] - n}"
            for model, n in before.items()
            if after[model] != n
        ]

    def _records(self, batch):
        return [batch.sudo(), *batch.sudo().line_ids]

    # === HOSTILE VALUES === #

    def _values(self, record, name):
        """The values written in `name`: for the batch's editable fields, values
        its checks accept (an allowed write must not be refused for its value);
        for its lines, every command; otherwise one per type (_generic_values)."""
        record = record.sudo()
        if record._name == BATCH and name in USER_EDITABLE:
            return [
                {
                    "amount_mode": "percentage",
                    "amount_percentage": 50.0,
                    "amount_fixed": 5.0,
                    "reason_id": self.reason_fraud.id,
                    "note": "<b>hostile</b>",
                }[name]
            ]
        if record._name == BATCH and name == "line_ids":
            other_line = (
                self.env[LINE].sudo().search([("batch_id", "!=", record.id)], limit=1)
            )
            line = record.line_ids[:1]
            tx = self._create_paid_transaction(20.0)
            return [
                [Command.create({"source_transaction_id": tx.id})],
                [Command.link(other_line.id)],
                [Command.set(other_line.ids)],
                [Command.update(line.id, {"state": "done", "amount": 5000.0})],
                [Command.unlink(line.id)],
                [Command.delete(line.id)],
                [Command.clear()],
            ]
        return self._generic_values(record, name)

    def _write_allowed(self, role, name, label):
        rule = WRITE_RULES.get(role)
        return bool(rule and name in rule["fields"] and label in rule["states"])

    def _check_write(self, model, role, records):
        """Write each field of `model`'s `_fields` on each of `records` ({label:
        record}) as `role` over RPC and compare with WRITE_RULES (none for lines);
        return the gaps as (field [role], label, problem)."""
        user = self.roles[role]
        failures = []
        role_index = ROLES.index(role) if role in ROLES else len(ROLES)
        for (index, (label, record)), name in itertools.product(
            enumerate(records.items()), self.env[model]._fields
        ):
            values = self._values(record, name)
            if not (record._name == BATCH and name == "line_ids"):
                values = [self._pick(values, role_index, index)]
            batch = record if model == BATCH else record.batch_id
            for value in values:
                subject = f"{name} [{role}]"
                if len(values) > 1:
                    subject = f"{name} {value!r} [{role}]"
                with self._rolled_back():
                    value = self._at_call(value)
                    before, counts = (
                        self._snapshot(self._records(batch)),
                        self._counts(),
                    )
                    _result, error = self._attempt(
                        user, model, "write", [record.id], {name: value}
                    )
                    changed = self._changed(before, self._records(batch))
                    created = self._created(counts)
                    if model == BATCH and self._write_allowed(role, name, label):
                        problem = self._allowed_write_problem(
                            record, name, value, error, before
                        )
                    elif error is None:
                        problem = f"accepted, changed {changed}, created {created}"
                    elif changed or created:
                        problem = f"refused ({error}) but changed {changed} {created}"
                    else:
                        problem = None
                    if problem:
                        failures.append((subject, label, problem))
        return failures

    def _allowed_write_problem(self, batch, name, value, error, before):
        if error is not None:
            return f"an allowed write was refused: {error}"
        self.env.invalidate_all()
        stored = batch.sudo()[name]
        if (stored.id if name == "reason_id" else stored) != value:
            return f"an allowed write stored {stored!r} instead of {value!r}"
        key = (BATCH, batch.id)
        after = self._snapshot([batch])[key]
        server = [
            field
            for field in ("state", "approved_by_id", "started_by_id", "company_id")
            if after[field] != before[key][field]
        ]
        return f"an allowed write changed {server}" if server else None

    # === PUBLIC METHODS === #

    def _public_methods(self, model):
        """The public methods refund_proof_batch defines on `model`, found in its
        classes (the CRUD methods are tested by themselves)."""
        names = set()
        for cls in type(self.env[model]).mro():
            if not cls.__module__.startswith("odoo.addons.refund_proof_batch"):
                continue
            for name, attr in vars(cls).items():
                if not name.startswith("_") and name not in CRUD_METHODS:
                    if inspect.isfunction(attr):
                        names.add(name)
        self.assertTrue(names, f"the enumeration finds no method of {model}")
        return sorted(names)

    def _check_calls(self, model, rules, records, state_of):
        """Call each public method of `model` on each of `records` ({label: record})
        as each role over RPC and compare with `rules`; return the gaps."""
        failures = []
        for role, (label, record), name in itertools.product(
            ROLES, records.items(), self._public_methods(model)
        ):
            rule = rules.get(name)
            expected = (
                rule["states"].get(label) if rule and role in rule["roles"] else None
            )
            batch = record if model == BATCH else record.batch_id
            subject = f"{name} [{role}]"
            with self._rolled_back():
                before, counts = self._snapshot(self._records(batch)), self._counts()
                result, error = self._attempt(
                    self.roles[role], model, name, [record.id]
                )
                changed = self._changed(before, self._records(batch))
                created = self._created(counts)
                if expected:
                    self.env.invalidate_all()
                    state = state_of(record.sudo())
                    if error is not None:
                        failures.append((subject, label, f"refused: {error}"))
                    elif state != expected:
                        failures.append((subject, label, f"{state}, not {expected}"))
                elif error is None:
                    failures.append(
                        (subject, label, f"accepted ({result!r}), changed {changed}")
                    )
                elif changed or created:
                    failures.append(
                        (subject, label, f"refused but changed {changed} {created}")
                    )
        return failures


@tagged("-at_install", "post_install")
class TestBatchGuardsRpc(BatchGuardsCase):
    """Writes, creations, copies, deletions and actions of `payment.refund.batch`
    over Odoo's JSON-RPC, by every role, in every state."""

    def _check_write_by(self, role):
        failures = self._check_write(BATCH, role, self.fixtures)
        self._assert_no_failures(failures, f"write gaps for the {role}")

    def test_creator_writes_only_amount_reason_and_note_of_a_draft(self):
        """The creator writes, over RPC, the amount mode, percentage, fixed amount,
        reason and note of their draft not approved yet; every other field of
        `_fields` (state, approver, starter, dates, counters, company, line commands,
        mail fields), and any field once approved, started or finished, is refused
        and changes nothing."""
        self._check_write_by("creator")

    def test_manager_writes_only_amount_reason_and_note_of_a_draft(self):
        """A refund manager writes what the creator writes, on any draft not approved
        yet; nothing else, in no state."""
        self._check_write_by("manager")

    def test_other_refund_user_writes_nothing(self):
        """A refund user writes no field of another user's batch, in any state."""
        self._check_write_by("other refund user")

    def test_billing_user_writes_nothing(self):
        """A billing user (no refund right) writes no field of a batch."""
        self._check_write_by("billing user")

    def test_portal_customer_writes_nothing(self):
        """A portal customer writes no field of a batch."""
        self._check_write_by("portal")

    def test_web_save_is_a_write_by_another_name(self):
        """The web client's save (`web_save`) takes the same path: server fields of
        a batch refused for its creator and a manager in every state, and a new
        batch refused for every role; nothing changed or created."""
        tx = self._create_paid_transaction(50.0)
        attacks = (
            {"state": "running", "started_by_id": self.limited_user.id},
            {"approved_by_id": self.other_manager.id, "state": "draft"},
            {"line_ids": [Command.create({"source_transaction_id": tx.id})]},
        )
        failures = []
        for role, (label, batch), values in itertools.product(
            ("creator", "manager"), self.fixtures.items(), attacks
        ):
            with self._rolled_back():
                before, counts = self._snapshot(self._records(batch)), self._counts()
                _result, error = self._attempt(
                    self.roles[role], BATCH, "web_save", [batch.id], values, {}
                )
                changed = self._changed(before, self._records(batch))
                created = self._created(counts)
                if error is None or changed or created:
                    failures.append(
                        (f"web_save {values} [{role}]", label, f"{changed} {created}")
                    )
        for role in ROLES:
            with self._rolled_back():
                counts = self._counts()
                _result, error = self._attempt(
                    self.roles[role], BATCH, "web_save", [], attacks[2], {}
                )
                if error is None or self._created(counts):
                    failures.append(("web_save (new)", role, "a batch was made"))
        self._assert_no_failures(failures, "web_save gaps")

    def test_create_is_refused_over_rpc(self):
        """A batch is made from payments by Refund Selected, which checks the right
        and computes the lines: a bare `create` is refused for every role, with
        plain or hostile values, and creates nothing."""
        tx = self._create_paid_transaction(50.0)
        plain = {"line_ids": [Command.create({"source_transaction_id": tx.id})]}
        hostile = dict(
            plain,
            state="running",
            approved_by_id=self.other_manager.id,
            started_by_id=self.limited_user.id,
        )
        failures = []
        for role, (label, values) in itertools.product(
            ROLES, (("plain values", plain), ("hostile values", hostile))
        ):
            with self._rolled_back():
                counts = self._counts()
                result, error = self._attempt(self.roles[role], BATCH, "create", values)
                created = self._created(counts)
                if error is None:
                    failures.append(("create", f"{label} [{role}]", f"made {result}"))
                elif created:
                    failures.append(("create", f"{label} [{role}]", f"{created}"))
        self._assert_no_failures(failures, "batch creations over RPC")

    def test_copy_is_refused_in_every_state(self):
        """A copy would be a batch no selection made: refused for every role in
        every state, nothing created."""
        failures = []
        for role, (label, batch) in itertools.product(ROLES, self.fixtures.items()):
            with self._rolled_back():
                counts = self._counts()
                result, error = self._attempt(
                    self.roles[role], BATCH, "copy", [batch.id]
                )
                created = self._created(counts)
                if error is None or created:
                    failures.append(
                        (f"copy [{role}]", label, f"{result or error}, {created}")
                    )
        self._assert_no_failures(failures, "batch copies over RPC")

    def test_unlink_only_a_draft_not_approved(self):
        """The creator or a manager deletes a draft not approved yet (its lines with
        it); an approved, awaiting, started or finished batch stays, and other
        roles delete none."""
        failures = []
        for role, (label, batch) in itertools.product(ROLES, self.fixtures.items()):
            with self._rolled_back():
                lines = batch.line_ids
                _result, error = self._attempt(
                    self.roles[role], BATCH, "unlink", [batch.id]
                )
                self.env.invalidate_all()
                gone = not batch.exists() and not lines.exists()
                kept = batch.exists() and len(lines.exists()) == len(lines)
                if label in UNLINK_RULES.get(role, ()):
                    if error is not None or not gone:
                        failures.append(
                            (f"unlink [{role}]", label, f"not deleted: {error}")
                        )
                elif error is None or not kept:
                    failures.append(
                        (f"unlink [{role}]", label, f"deleted or accepted: {error}")
                    )
        self._assert_no_failures(failures, "batch deletions over RPC")

    @mute_logger("odoo.addons.queue_job.delay")
    def test_actions_follow_the_verdict_table(self):
        """Start (creator or manager: a draft, approved or within limits), Approve
        (another refund manager, a batch awaiting approval), Retry Failed (creator
        or manager, started) and Cancel the Rest (creator or manager, not finished):
        every other role, state and public method is refused and changes
        nothing."""
        failures = self._check_calls(
            BATCH, BATCH_CALLS, self.fixtures, lambda batch: batch.state
        )
        self._assert_no_failures(failures, "action gaps on batches")

    def test_refund_selected_is_for_refund_users_only(self):
        """Refund Selected (the payments' entry point of batches) by a billing user
        or a portal customer is refused and creates nothing; the refund users make
        a draft."""
        tx = self._create_paid_transaction(50.0)
        failures = []
        for role in ROLES:
            with self._rolled_back():
                counts = self._counts()
                result, error = self._attempt(
                    self.roles[role],
                    "payment.transaction",
                    "action_refund_proof_batch",
                    [tx.id],
                )
                created = self._created(counts)
                if role in ("billing user", "portal"):
                    if error is None or created:
                        failures.append(("Refund Selected", role, f"{created}"))
                elif error is not None or created != [f"{BATCH} +1", f"{LINE} +1"]:
                    failures.append(("Refund Selected", role, f"{error} {created}"))
        self._assert_no_failures(failures, "Refund Selected gaps")


@tagged("-at_install", "post_install")
class TestBatchLineGuardsRpc(BatchGuardsCase):
    """Writes, creations, copies, deletions and actions of
    `payment.refund.batch.line` over Odoo's JSON-RPC: nobody writes a line; a refund
    manager marks an interrupted one not refunded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # An administrator (Settings, refund manager): not even they write a line.
        cls.roles["administrator"] = new_test_user(
            cls.env,
            login="batch_line_admin",
            groups="base.group_user,base.group_system,"
            "refund_proof.group_refund_manager",
        )

    def _build_fixtures(self):
        """{label: line}: the lines of the batches in every state, the running
        batch's queued, the done batch's done and failed (its refund reversed),
        and an interrupted one."""
        batches = self._batches()
        lines = {
            "queued" if label == "running" else label: batch.line_ids
            for label, batch in batches.items()
        }
        lines["failed"] = lines["done"].filtered(lambda line: line.state == "failed")
        lines["done"] -= lines["failed"]
        lines["interrupted"] = self._interrupted_line()
        self.assertEqual(set(lines), set(LINE_FIXTURES))
        for label, line in lines.items():
            self.assertEqual(len(line), 1, label)
        return lines

    def test_nobody_writes_a_line(self):
        """Every field of a line's `_fields`, in every state, written over RPC by
        every role (the creator, a manager and an administrator included): refused,
        nothing changed."""
        lines = self.fixtures
        failures = []
        for role in self.roles:
            failures += self._check_write(LINE, role, lines)
        self._assert_no_failures(failures, "line write gaps")

    def test_nobody_creates_copies_or_deletes_a_line(self):
        """A line is made from a payment by Refund Selected only: `create` (in a
        draft of the creator, plain or hostile), `copy` and `unlink` are refused for
        every role, nothing created or deleted."""
        lines = self.fixtures
        draft = lines["draft"].batch_id
        tx = self._create_paid_transaction(20.0)
        plain = {"batch_id": draft.id, "source_transaction_id": tx.id}
        hostile = dict(plain, state="queued", amount=5000.0, approval_reasons=False)
        failures = []
        for role, user in self.roles.items():
            for label, values in (("plain", plain), ("hostile", hostile)):
                with self._rolled_back():
                    counts = self._counts()
                    result, error = self._attempt(user, LINE, "create", values)
                    if error is None or self._created(counts):
                        failures.append(("create", f"{label} [{role}]", f"{result}"))
            for (label, line), method in itertools.product(
                lines.items(), ("copy", "unlink")
            ):
                with self._rolled_back():
                    counts = self._counts()
                    result, error = self._attempt(user, LINE, method, [line.id])
                    self.env.invalidate_all()
                    if error is None or self._created(counts) or not line.exists():
                        failures.append((f"{method} [{role}]", label, f"{result}"))
        self._assert_no_failures(failures, "line creations, copies and deletions")

    def test_only_a_manager_marks_an_interrupted_line_not_refunded(self):
        """Mark Not Refunded: a refund manager, on an interrupted line without a
        refund (it fails); every other role, line and public method is refused and
        changes nothing."""
        failures = self._check_calls(
            LINE, LINE_CALLS, self.fixtures, lambda line: line.state
        )
        self._assert_no_failures(failures, "action gaps on lines")
