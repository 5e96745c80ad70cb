"""A hostile client of Odoo's real JSON-RPC endpoint against `payment.refund`.

Everything a browser, a script or a stolen session can send reaches the model through
`/jsonrpc` → `execute_kw`, where the form's `readonly` attributes, the buttons' states
and the wizards do not exist. These tests enumerate what the model exposes (every field
of `_fields`, every public method refund_proof defines) and hold each call, in every
state of a refund, to a verdict table written here from the specification: a field or
method added later is attacked by the same loops, and is refused unless the table says
otherwise.

The tables are the specification, not a copy of the code: who may write which field in
which state (`WRITE_RULES`), who may call which action (`REFUND_USER_CALLS`). A refused
call must come back as a JSON-RPC error and leave the refund exactly as it was (every
stored field compared with a snapshot, `write_date` excepted), with no refund and no
refund transaction created.

Each case runs inside a savepoint of the test transaction that is rolled back after it:
the HTTP server works on the same transaction (HttpCase's test cursor), so every case
starts from the same fixtures, whatever the previous call managed to do.
"""

import base64
import inspect
import itertools
from collections import defaultdict

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.refund_proof.utils import format_arn, normalize_arn

from ..json_rpc_client import JsonRpcMixin, RpcError
from ..refund_factories import RefundProofCommon
from .test_arn import VALID_ARN

# A second valid ARN, set on a refund by the server to test replacing one.
OTHER_ARN = "24500006000123456789017"

STATES = ("draft", "to_approve", "pending", "done", "failed", "cancelled")
EDITABLE_STATES = frozenset({"draft", "to_approve"})
ARN_STATES = frozenset({"draft", "to_approve", "pending", "done"})

# Who may write which field of a refund over RPC, in which states. Any field not listed
# for a kind of user, or a listed one outside its states, is refused.
#   own_only: only on refunds the user requested (requested_by_id == the user);
#   only_if_empty: only while the refund's ARN is empty (adding it, never replacing).
WRITE_RULES = {
    "refund_user": {
        "note": {"states": EDITABLE_STATES, "own_only": True},
        "reason_id": {"states": EDITABLE_STATES, "own_only": True},
        "arn": {"states": ARN_STATES, "only_if_empty": True},
    },
    "manager": {
        "note": {"states": EDITABLE_STATES},
        "reason_id": {"states": EDITABLE_STATES},
        "arn": {"states": ARN_STATES},
    },
    "portal": {},
}

# What a refund user may call over RPC. The four decisions are refused in every state;
# a public method missing from both tables must be refused or change nothing.
#   state_after: the state the refund must reach when the call is allowed;
#   returns_action: the call returns an action and changes nothing.
REFUND_USER_CALLS = {
    "action_cancel": {
        "states": EDITABLE_STATES,
        "own_only": True,
        "state_after": "cancelled",
    },
    "action_retry": {"states": frozenset({"failed"}), "state_after": "done"},
    "action_view_attempts": {"states": frozenset(STATES), "returns_action": True},
}
REFUND_USER_NEVER_CALLS = frozenset(
    {
        "action_approve",
        "action_reject",
        "action_mark_refunded",
        "action_mark_not_refunded",
    }
)
# Tested by themselves (section 2), not by the loop over public methods.
CRUD_METHODS = frozenset({"create", "write", "copy", "unlink"})

# Fields of a refund a portal customer must not read: internal notes, who did what.
PORTAL_HIDDEN_FIELDS = (
    "note",
    "approval_reasons",
    "requested_by_id",
    "approved_by_id",
    "approval_date",
    "cancelled_by_id",
    "cancel_reason",
    "failure_message",
)
PORTAL_VISIBLE_FIELDS = ("name", "amount", "currency_id", "state", "refund_date", "arn")


@tagged("-at_install", "post_install")
class TestRefundGuardsRpc(JsonRpcMixin, RefundProofCommon, HttpCase):
    """Writes, creations, copies, deletions, method calls and reads of `payment.refund`
    over Odoo's JSON-RPC, by refund users, refund managers and portal customers."""

    # A hostile value may make the ORM crash: its SQL error is logged too.
    _rpc_muted_loggers = ("odoo.http", "odoo.sql_db")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The customer of every payment below: the refunds pending/done are theirs.
        cls.portal_customer = new_test_user(
            cls.env, login="portal_customer", groups="base.group_portal"
        )
        # Refund users with a low limit: their refunds of 10.0 await approval. The
        # first is the acting refund user of the tests, the requester of its fixtures.
        cls.requester = new_test_user(
            cls.env,
            login="refund_requester",
            name="Rene Requester",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=5,
        )
        cls.other_requester = new_test_user(
            cls.env,
            login="refund_other",
            name="Olga Other",
            groups="base.group_user,refund_proof.group_refund_user",
            refund_limit=5,
        )

    # === HELPERS: FIXTURES === #

    def _paid(self, amount=100.0):
        return self._create_paid_transaction(
            amount, partner_id=self.portal_customer.partner_id.id
        )

    def _draft_refund(self, requester, amount=5.0):
        """A draft refund created on the server (default state draft)."""
        return (
            self.env["payment.refund"]
            .sudo()
            .create(
                {
                    "source_transaction_id": self._paid().id,
                    "amount": amount,
                    "requested_by_id": requester.id,
                }
            )
            .sudo(False)
        )

    def _refunds_in_every_state(self, requester):
        """{state: refund}, reached the way refunds reach those states; the draft,
        to_approve and cancelled ones are `requester`'s (a refund user whose limit is
        below 10.0). The customer of all of them is the portal customer."""
        refunds = {"draft": self._draft_refund(requester)}
        refunds["to_approve"] = self._refund(self._paid(), 10.0, user=requester)
        cancelled = self._refund(self._paid(), 10.0, user=requester)
        cancelled.with_user(requester).action_cancel()
        refunds["cancelled"] = cancelled
        refunds["done"] = self._refund(self._paid(), 10.0)
        # Within the requester's limit too: retrying it is not an approval matter.
        failed = self._refund(self._paid(), 4.0)
        # The provider reverses a done attempt: Odoo's payment API needs "done" among
        # the allowed states for that (without it, it logs a warning, changes nothing).
        failed.transaction_ids._set_error(
            "Reversed by the bank", extra_allowed_states=("done",)
        )
        refunds["failed"] = failed
        pending_tx = self._paid()
        pending_tx.sudo()._create_child_transaction(7.0, is_refund=True)
        refunds["pending"] = pending_tx.refund_ids
        self.env.invalidate_all()
        for state, refund in refunds.items():
            self.assertEqual(len(refund), 1, state)
            self.assertEqual(refund.state, state, "fixture in the wrong state")
            self.assertEqual(refund.partner_id, self.portal_customer.partner_id)
        self.assertEqual(refunds["pending"].origin, "provider")
        self.assertEqual(refunds["failed"].origin, "odoo")
        for state in ("draft", "to_approve", "cancelled"):
            self.assertEqual(refunds[state].requested_by_id, requester)
        return refunds

    def _fixtures(self, requester, with_others=False):
        """[(label, state, own, refund)]: every state for `requester`, and with
        `with_others` a draft and a to_approve refund of another refund user."""
        fixtures = [
            (state, state, state in ("draft", "to_approve", "cancelled"), refund)
            for state, refund in self._refunds_in_every_state(requester).items()
        ]
        if with_others:
            other_draft = self._draft_refund(self.other_requester)
            other_request = self._refund(self._paid(), 10.0, user=self.other_requester)
            self.assertEqual(other_request.state, "to_approve")
            fixtures += [
                ("draft of another user", "draft", False, other_draft),
                ("to_approve of another user", "to_approve", False, other_request),
            ]
        return fixtures

    # === HELPERS: WHAT CHANGED === #

    def _stored_field_names(self):
        return [
            name
            for name, field in self.env["payment.refund"]._fields.items()
            if field.store and name != "write_date"
        ]

    def _snapshot(self, refund):
        """Every stored field of the refund, read fresh from the database in sudo."""
        self.env.cr.flush()  # Pending writes and their tracking (precommit) first.
        self.env.invalidate_all()
        record = refund.sudo().with_context(active_test=False)
        if not record.exists():
            return None
        values = {}
        for name in self._stored_field_names():
            value = record[name]
            if record._fields[name].relational:
                value = tuple(sorted(value.ids))
            values[name] = value
        return values

    def _changed(self, before, refund):
        after = self._snapshot(refund)
        if after is None:
            return ["<the refund was deleted>"]
        return sorted(name for name in before if before[name] != after[name])

    def _counts(self):
        """(payment.refund, refund payment.transaction) counts, in sudo."""
        self.env.invalidate_all()
        return (
            self.env["payment.refund"].sudo().search_count([]),
            self.env["payment.transaction"]
            .sudo()
            .search_count([("operation", "=", "refund")]),
        )

    def _assert_no_failures(self, failures, what):
        """Fail with every gap found. Sentences are listed as they are; (subject,
        where, problem) cases are grouped, one line per subject, e.g.
        "- state [refund_user]: draft, to_approve: accepted, changed ['state']"."""
        if not failures:
            return
        lines, grouped = [], defaultdict(lambda: defaultdict(list))
        for failure in failures:
            if isinstance(failure, tuple):
                subject, where, problem = failure
                grouped[subject][problem].append(where)
            else:
                lines.append(failure)
        for subject, problems in grouped.items():
            lines.append(
                f"{subject}: "
                + " | ".join(
                    f"{', '.join(wheres)}: {problem}"
                    for problem, wheres in problems.items()
                )
            )
        self.fail(
            f"{len(failures)} {what}:\n" + "\n".join(f"- {line}" for line in lines)
        )

    # === HELPERS: HOSTILE VALUES === #

    def _relational_pool(self):
        """{comodel: at least 2 records} for every relational field of the refund,
        created before the savepoints (a record made inside one would vanish)."""
        pool = {}
        for field in self.env["payment.refund"]._fields.values():
            if field.relational and field.comodel_name not in pool:
                pool[field.comodel_name] = self._some_records(field.comodel_name)
        return pool

    def _some_records(self, comodel_name):
        Model = self.env[comodel_name].sudo().with_context(active_test=False)
        records = Model.search([], limit=2, order="id desc")
        while len(records) < 2:
            records |= self._make_record(comodel_name)
        return records

    def _make_record(self, comodel_name):
        Model = self.env[comodel_name].sudo()
        if comodel_name == "res.users":
            return new_test_user(self.env, login=f"hostile_{len(Model.search([]))}")
        if comodel_name == "payment.refund.proof":
            refund = self.env["payment.refund"].sudo().search([], limit=1)
            pdf = b"%PDF-1.4 hostile " + str(Model.search_count([])).encode()
            return Model._store(refund, pdf)
        if comodel_name == "ir.attachment":
            return Model.create({"name": "hostile.txt", "raw": b"hostile"})
        if comodel_name == "loyalty.card":  # refund_proof_loyalty's store credit
            program = (
                self.env["loyalty.program"]
                .sudo()
                .create(
                    {
                        "name": "Hostile eWallet",
                        "program_type": "ewallet",
                        "reward_ids": [
                            Command.create(
                                {"discount_mode": "per_point", "discount": 1}
                            )
                        ],
                        "rule_ids": [Command.create({"reward_point_mode": "money"})],
                    }
                )
            )
            return Model.create({"program_id": program.id})
        if comodel_name == "payment.refund.payout.export":
            return Model.create(
                {"name": "hostile.xml", "company_id": self.env.company.id}
            )
        try:
            with self.env.cr.savepoint():
                return Model.create({"name": "Hostile"})
        except Exception as error:  # noqa: BLE001 - the message says what to add
            self.fail(
                f"No record of {comodel_name} to write in a field of payment.refund, "
                f"and none could be created ({error}): add a factory to _make_record."
            )

    def _hostile_value(self, refund, name, pool):
        """A value different from the refund's current one, from the field's type."""
        record = refund.sudo().with_context(active_test=False)
        field = record._fields[name]
        current = record[name]
        if name in ("arn", "reason_id", "state"):
            return self._meaningful_value(name, current)
        kind = field.type
        if kind in ("char", "text", "html"):
            return "<i>y</i>" if current == "<b>x</b>" else "<b>x</b>"
        if kind == "boolean":
            return not current
        if kind in ("integer", "many2one_reference"):
            return 43 if current == 42 else 42
        if kind in ("float", "monetary"):
            return 6000.0 if current == 5000.0 else 5000.0
        if kind == "date":
            return "2020-01-02" if str(current) == "2020-01-01" else "2020-01-01"
        if kind == "datetime":
            return "2020-01-01 00:00:00"
        if kind == "selection":
            keys = [key for key, _label in field._description_selection(self.env)]
            return next(key for key in keys if key != current)
        if kind == "many2one":
            return next(r.id for r in pool[field.comodel_name] if r != current)
        if kind in ("one2many", "many2many"):
            if current:
                return [(5, 0, 0)]
            return [(6, 0, pool[field.comodel_name][:1].ids)]
        if kind in ("binary", "image"):
            return base64.b64encode(b"hostile").decode()
        if kind == "reference":
            partner = self.env["res.partner"].search([], limit=1)
            return f"res.partner,{partner.id}"
        if kind == "json":
            return {"hostile": True}
        self.fail(f"No hostile value for {name}, of type {kind}: add one.")

    def _meaningful_value(self, name, current):
        """The value an attacker would write in the fields whose content is checked."""
        if name == "arn":
            return OTHER_ARN if current == VALID_ARN else VALID_ARN
        if name == "reason_id":
            # A reason that requires no note: its constraint must not be the refusal.
            reason = self.reason_customer
            if current == reason:
                reason = self.env["payment.refund.reason"].search(
                    [("requires_note", "=", False), ("id", "!=", current.id)], limit=1
                )
            return reason.id
        return "draft" if current == "done" else "done"  # state

    # === 1. WRITE, EVERY FIELD, EVERY STATE === #

    def _write_allowed(self, kind, name, state, own, arn_set):
        rule = WRITE_RULES[kind].get(name)
        return bool(
            rule
            and state in rule["states"]
            and (own or not rule.get("own_only"))
            and not (arn_set and rule.get("only_if_empty"))
        )

    def _check_write_of_every_field(self, kind, user, fixtures):
        """Write each field of `_fields` on each fixture as `user` over RPC and compare
        with WRITE_RULES; return the gaps as (field [user], fixture, problem)."""
        pool = self._relational_pool()
        failures = []
        for (label, state, own, refund), name in itertools.product(
            fixtures, self.env["payment.refund"]._fields
        ):
            # Replacing is tested where an ARN can be there (the server sets it).
            variants = (
                [False, True] if name == "arn" and state in ARN_STATES else [False]
            )
            for arn_set in variants:
                subject = f"{name}{' (replacing an ARN)' if arn_set else ''} [{kind}]"
                with self._rolled_back():
                    if arn_set:
                        refund.sudo().arn = OTHER_ARN
                    before = self._snapshot(refund)
                    value = self._hostile_value(refund, name, pool)
                    last_message = self._last_message_id()
                    _result, error = self._attempt(
                        user, "payment.refund", "write", [refund.id], {name: value}
                    )
                    changed = self._changed(before, refund)
                    allowed = self._write_allowed(kind, name, state, own, arn_set)
                    if allowed:
                        problem = self._allowed_write_problem(
                            refund, name, value, error, arn_set, last_message
                        )
                    elif error is None:
                        problem = (
                            f"accepted, changed {changed}"
                            if changed
                            else "accepted without an error (nothing stored changed)"
                        )
                    elif changed:
                        problem = f"refused ({error}) but changed {changed}"
                    else:
                        problem = None
                    if problem:
                        failures.append((subject, label, problem))
        return failures

    def _last_message_id(self):
        self.env.invalidate_all()
        return self.env["mail.message"].sudo().search([], order="id desc", limit=1).id

    def _allowed_write_problem(self, refund, name, value, error, arn_set, last_message):
        if error is not None:
            return f"an allowed write was refused: {error}"
        self.env.invalidate_all()
        stored = refund.sudo()[name]
        expected = normalize_arn(value) if name == "arn" else value
        if (stored.id if name == "reason_id" else stored) != expected:
            return f"an allowed write stored {stored!r} instead of {expected!r}"
        if (
            name == "arn"
            and arn_set
            and not self._chatter_tells(refund, OTHER_ARN, last_message)
        ):
            return "the replaced ARN is not in the chatter"
        return None

    def _chatter_tells(self, refund, old_arn, after_message_id):
        """Whether a message posted on the refund after `after_message_id` gives the
        old ARN, in its body or its tracking values."""
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "payment.refund"),
                    ("res_id", "=", refund.id),
                    ("id", ">", after_message_id),
                ]
            )
        )
        forms = {old_arn, format_arn(old_arn)}
        return any(
            any(form in str(message.body or "") for form in forms)
            or any(
                tracking.old_value_char in forms
                for tracking in message.sudo().tracking_value_ids
            )
            for message in messages
        )

    def test_refund_user_writes_only_note_reason_and_a_missing_arn(self):
        """A refund user writes, over RPC, only the note and reason of their own draft
        or request, and the ARN while it is empty (any refund not failed/cancelled);
        every other field of `_fields`, in every state, is refused and changes
        nothing."""
        fixtures = self._fixtures(self.requester, with_others=True)
        failures = self._check_write_of_every_field(
            "refund_user", self.requester, fixtures
        )
        self._assert_no_failures(failures, "write gaps for a refund user")

    def test_manager_writes_only_note_reason_and_arn(self):
        """A refund manager writes, over RPC, the note and reason of anyone's draft or
        request and sets or replaces the ARN (the replaced one stays in the chatter)
        of refunds not failed/cancelled; every other field is refused in every
        state."""
        fixtures = self._fixtures(self.requester)
        failures = self._check_write_of_every_field(
            "manager", self.refund_manager, fixtures
        )
        self._assert_no_failures(failures, "write gaps for a refund manager")

    def test_portal_customer_writes_nothing(self):
        """A portal customer writes no field of any refund, their own included."""
        fixtures = self._fixtures(self.requester)
        failures = self._check_write_of_every_field(
            "portal", self.portal_customer, fixtures
        )
        self._assert_no_failures(failures, "write gaps for a portal customer")

    # === 2. CREATE, COPY, UNLINK === #

    def test_create_is_refused_over_rpc(self):
        """Refunds are requested through action_refund or the wizards, which check the
        right, the cap and the limits: a bare `create` over RPC is refused for a
        refund user and a portal customer, hostile values or not."""
        tx = self._paid(19.90)
        hostile = {
            "source_transaction_id": tx.id,
            "amount": 5000,
            "origin": "manual",
            "manual_method": "cash",
            "state": "draft",
        }
        plain = {"source_transaction_id": tx.id, "amount": 5.0}
        failures = []
        for user, (label, values) in itertools.product(
            (self.requester, self.refund_user, self.portal_customer),
            (("hostile values", hostile), ("plain values", plain)),
        ):
            with self._rolled_back():
                before = self._counts()
                result, error = self._attempt(user, "payment.refund", "create", values)
                if error is None:
                    failures.append(f"{user.login}/{label}: created refund {result}")
                elif self._counts() != before:
                    failures.append(
                        f"{user.login}/{label}: refused but created records"
                    )
        self._assert_no_failures(failures, "creations over RPC")

    def test_copy_is_refused_in_every_state(self):
        """Copying a refund would make a new one outside the request path (no cap, no
        limit): refused for a refund user, a manager and a portal customer."""
        fixtures = self._fixtures(self.requester)
        failures = []
        for user, (label, _state, _own, refund) in itertools.product(
            (self.requester, self.refund_manager, self.portal_customer), fixtures
        ):
            with self._rolled_back():
                before = self._counts()
                result, error = self._attempt(
                    user, "payment.refund", "copy", [refund.id]
                )
                if error is None:
                    failures.append(f"{label}/{user.login}: copied as {result}")
                elif self._counts() != before:
                    failures.append(
                        f"{label}/{user.login}: refused but created records"
                    )
        self._assert_no_failures(failures, "copies over RPC")

    def test_unlink_is_refused_in_every_state(self):
        """A refund is the history of money returned, or asked for: nobody deletes one
        over RPC, in any state (draft and cancelled included)."""
        fixtures = self._fixtures(self.requester)
        failures = []
        for user, (label, _state, _own, refund) in itertools.product(
            (self.requester, self.refund_manager, self.portal_customer), fixtures
        ):
            with self._rolled_back():
                _result, error = self._attempt(
                    user, "payment.refund", "unlink", [refund.id]
                )
                self.env.invalidate_all()
                exists = bool(refund.sudo().exists())
                if error is None or not exists:
                    failures.append(
                        f"{label}/{user.login}: "
                        + ("deleted" if not exists else "accepted without an error")
                    )
        self._assert_no_failures(failures, "deletions over RPC")

    # === 3. EVERY PUBLIC METHOD, EVERY STATE === #

    def _public_methods(self):
        """[(name, kwargs)]: the public methods refund_proof defines on payment.refund
        (found in the model's classes), once without arguments and once with a string
        for a `reason`/`note` parameter."""
        Model = self.env["payment.refund"]
        names = set()
        for cls in type(Model).mro():
            if not cls.__module__.startswith("odoo.addons.refund_proof"):
                continue
            for name, attr in vars(cls).items():
                if name.startswith("_") or name in CRUD_METHODS:
                    continue
                if inspect.isfunction(attr) or isinstance(attr, classmethod):
                    names.add(name)
        self.assertIn("action_cancel", names, "the enumeration finds nothing")
        calls = []
        for name in sorted(names):
            calls.append((name, {}))
            parameters = inspect.signature(getattr(Model, name)).parameters
            for param in ("reason", "note"):
                if param in parameters:
                    calls.append((name, {param: "x"}))
        return calls

    def _call(self, user, name, refund, kwargs):
        method = getattr(type(self.env["payment.refund"]), name)
        if getattr(method, "_api", None) in ("model", "model_create"):
            return self._attempt(user, "payment.refund", name, **kwargs)
        return self._attempt(user, "payment.refund", name, [refund.id], **kwargs)

    def _refund_user_call_verdict(self, name, state, own):
        """'allowed', 'refused', or 'harmless' (refused or no change) for a call of
        `name` by the refund user on a refund in `state`."""
        if name in REFUND_USER_NEVER_CALLS:
            return "refused"
        rule = REFUND_USER_CALLS.get(name)
        if rule is None:
            return "harmless"
        if state in rule["states"] and (own or not rule.get("own_only")):
            return "allowed"
        return "refused"

    def _check_every_method(self, kind, user, fixtures):
        """Call each public method on each fixture as `user` over RPC and compare
        with REFUND_USER_CALLS; return the gaps as (call [user], fixture, problem)."""
        failures = []
        for (label, state, own, refund), (name, kwargs) in itertools.product(
            fixtures, self._public_methods()
        ):
            arguments = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            subject = f"{name}({arguments}) [{kind}]"
            verdict = (
                self._refund_user_call_verdict(name, state, own)
                if kind == "refund_user"
                else "harmless"
            )
            with self._rolled_back():
                before, counts = self._snapshot(refund), self._counts()
                result, error = self._call(user, name, refund, kwargs)
                changed = self._changed(before, refund)
                created = self._counts() != counts
                if verdict == "allowed":
                    rule = REFUND_USER_CALLS[name]
                    if error is not None:
                        failures.append(
                            (subject, label, f"an allowed call was refused: {error}")
                        )
                    elif rule.get("returns_action"):
                        if not (isinstance(result, dict) and result.get("type")):
                            failures.append(
                                (subject, label, f"returned {result!r}, no action")
                            )
                        if changed or created:
                            what = (
                                f"changed {changed}" if changed else "created records"
                            )
                            failures.append((subject, label, what))
                    else:
                        self.env.invalidate_all()
                        if refund.sudo().state != rule["state_after"]:
                            failures.append(
                                (
                                    subject,
                                    label,
                                    f"the refund is {refund.sudo().state}, "
                                    f"not {rule['state_after']}",
                                )
                            )
                    continue
                if verdict == "refused" and error is None:
                    failures.append((subject, label, f"accepted (returned {result!r})"))
                if changed:
                    failures.append((subject, label, f"changed {changed}"))
                if created:
                    failures.append(
                        (subject, label, "created a refund or refund transaction")
                    )
        return failures

    def test_refund_user_calls_only_cancel_retry_and_view(self):
        """A refund user cancels their own draft or request, retries a failed refund
        (through the provider again) and opens the attempts; approving, rejecting and
        deciding outcomes are refused in every state, and any other public method is
        refused or changes nothing."""
        fixtures = self._fixtures(self.requester, with_others=True)
        failures = self._check_every_method("refund_user", self.requester, fixtures)
        self._assert_no_failures(failures, "method gaps for a refund user")

    def test_portal_customer_calls_change_nothing(self):
        """A portal customer calling any public method of a refund, in any state,
        is refused or changes nothing, and creates nothing."""
        fixtures = self._fixtures(self.requester)
        failures = self._check_every_method("portal", self.portal_customer, fixtures)
        self._assert_no_failures(failures, "method gaps for a portal customer")

    # === 4. FINDINGS === #

    def _customer_mail_count(self):
        self.env.invalidate_all()
        return (
            self.env["mail.mail"]
            .sudo()
            .search_count(
                [("recipient_ids", "in", self.portal_customer.partner_id.ids)]
            )
        )

    def test_create_over_rpc_cannot_make_a_done_refund_above_the_payment(self):
        """The attack: a refund user creates a manual draft refund of 5000 on a
        payment of 19.90 and confirms it. Either step may be refused; the payment
        must end with no done refund, nothing refunded, no proof e-mailed."""
        tx = self._paid(19.90)
        mails = self._customer_mail_count()
        refund_id, error = self._attempt(
            self.requester,
            "payment.refund",
            "create",
            {
                "source_transaction_id": tx.id,
                "amount": 5000,
                "origin": "manual",
                "manual_method": "cash",
                "state": "draft",
            },
        )
        if error is None:
            self._attempt(
                self.requester, "payment.refund", "action_confirm_manual", [refund_id]
            )
        # What the mail cron does after the commit.
        self.env["payment.refund"].sudo()._cron_send_customer_mails()
        self.env.invalidate_all()
        done = tx.refund_ids.filtered(lambda r: r.state == "done")
        self.assertFalse(done, f"a done refund of {sum(done.mapped('amount'))}")
        self.assertEqual(tx.refunded_amount, 0.0)
        self.assertEqual(tx.refund_status, "none")
        self.assertEqual(self._customer_mail_count(), mails, "a proof was e-mailed")

    def test_own_request_cannot_be_forced_done_or_approved_by_write(self):
        """On their own request awaiting approval, a refund user cannot write the
        state, the approver or any bookkeeping field, nor fail it to retry it
        through the provider: the request stays to_approve, unapproved, unsent."""
        request = self._refund(self._paid(), 10.0, user=self.requester)
        self.assertEqual(request.state, "to_approve")
        attacks = {
            "state done": [{"state": "done"}],
            "approver": [{"approved_by_id": self.refund_manager.id}],
            "state failed, then retry": [{"state": "failed"}, "action_retry"],
            "name": [{"name": "RF/FORGED"}],
            "request date": [{"request_date": "2020-01-01 00:00:00"}],
            "access token": [{"access_token": "forged-token"}],
            "customer mail": [{"customer_mail_pending": "done"}],
        }
        failures = []
        for attack, steps in attacks.items():
            with self._rolled_back():
                before, counts = self._snapshot(request), self._counts()
                for step in steps:
                    if isinstance(step, dict):
                        _result, error = self._attempt(
                            self.requester,
                            "payment.refund",
                            "write",
                            [request.id],
                            step,
                        )
                        if error is None:
                            failures.append(f"{attack}: write({step}) accepted")
                    else:
                        self._attempt(
                            self.requester, "payment.refund", step, [request.id]
                        )
                self.env.invalidate_all()
                refund = request.sudo()
                if refund.state != "to_approve":
                    failures.append(f"{attack}: the request is now {refund.state}")
                if refund.approved_by_id:
                    failures.append(
                        f"{attack}: approved by {refund.approved_by_id.name}"
                    )
                if refund.transaction_ids or self._counts()[1] != counts[1]:
                    failures.append(f"{attack}: sent to the provider")
                changed = self._changed(before, request)
                if changed:
                    failures.append(f"{attack}: changed {changed}")
        self._assert_no_failures(failures, "ways to force an own request")

    def test_context_key_of_the_arn_path_skips_nothing(self):
        """A manager's ARN correction over RPC with the context key of the refund's
        own path (`refund_proof_transition`: true) still takes that path: normalised,
        the former ARN kept in the chatter, a new proof version and the customer told;
        a refund user sending it still replaces no ARN."""
        refund = self._refunds_in_every_state(self.requester)["done"]
        refund.sudo().arn = OTHER_ARN
        refund.sudo().customer_mail_pending = False
        last_message = self._last_message_id()
        context = {"refund_proof_transition": True}
        _result, error = self._attempt(
            self.refund_user,
            "payment.refund",
            "write",
            [refund.id],
            {"arn": VALID_ARN},
            context=context,
        )
        self.assertIsNotNone(error, "a refund user replaces no ARN")
        self._rpc(
            self.refund_manager,
            "payment.refund",
            "write",
            [refund.id],
            {"arn": format_arn(VALID_ARN).lower()},
            context=context,
        )
        self.env.invalidate_all()
        self.assertEqual(refund.sudo().arn, VALID_ARN)
        self.assertTrue(self._chatter_tells(refund, OTHER_ARN, last_message))
        self.assertEqual(refund.sudo().customer_mail_pending, "arn")

    def test_refund_user_cannot_replace_an_arn(self):
        """A refund user adds a missing ARN but never replaces or clears one: the ARN
        is what the customer's bank traces."""
        fixtures = self._refunds_in_every_state(self.requester)
        failures = []
        for state, refund in fixtures.items():
            if state not in ARN_STATES:
                continue
            refund.sudo().arn = OTHER_ARN  # The server still sets one.
            for user, value in itertools.product(
                (self.requester, self.refund_user), (VALID_ARN, False)
            ):
                with self._rolled_back():
                    _result, error = self._attempt(
                        user, "payment.refund", "write", [refund.id], {"arn": value}
                    )
                    self.env.invalidate_all()
                    arn = refund.sudo().arn
                    if error is None or arn != OTHER_ARN:
                        failures.append(
                            f"{state}/{user.login}: ARN {OTHER_ARN} replaced by "
                            f"{value!r} ({'no error' if error is None else error}), "
                            f"now {arn!r}"
                        )
        self._assert_no_failures(failures, "ARN replacements")

    def test_nobody_sets_an_arn_on_failed_or_cancelled_refunds(self):
        """A failed or cancelled refund returned no money: no ARN can be set on it over
        RPC, by a refund user, a manager or the customer."""
        fixtures = self._refunds_in_every_state(self.requester)
        failures = []
        for state, user in itertools.product(
            ("failed", "cancelled"),
            (
                self.requester,
                self.refund_user,
                self.refund_manager,
                self.portal_customer,
            ),
        ):
            refund = fixtures[state]
            with self._rolled_back():
                _result, error = self._attempt(
                    user, "payment.refund", "write", [refund.id], {"arn": VALID_ARN}
                )
                self.env.invalidate_all()
                if error is None or refund.sudo().arn:
                    failures.append(
                        f"{state}/{user.login}: ARN set to {refund.sudo().arn!r}"
                        f" ({'no error' if error is None else error})"
                    )
        self._assert_no_failures(failures, "ARNs set on refunds that returned nothing")

    def test_portal_customer_reads_customer_facts_only(self):
        """Over RPC, the portal customer reads the facts of their own done refund
        (number, amount, currency, state, date, ARN) and none of the internal ones
        (note, approval, who requested, approved or cancelled, provider message)."""
        refund = self._refund(self._paid(), 10.0, note="Internal: customer was rude")
        refund.sudo().arn = VALID_ARN
        self.assertEqual(refund.state, "done")
        failures = []
        for name in PORTAL_VISIBLE_FIELDS:
            result, error = self._attempt(
                self.portal_customer, "payment.refund", "read", [refund.id], [name]
            )
            if error is not None:
                failures.append(f"{name}: not readable ({error})")
            elif not result or name not in result[0]:
                failures.append(f"{name}: read returned {result!r}")
        for name in PORTAL_HIDDEN_FIELDS:
            result, error = self._attempt(
                self.portal_customer, "payment.refund", "read", [refund.id], [name]
            )
            if error is None:
                failures.append(f"{name}: readable, {result[0].get(name)!r}")
            elif "access" not in f"{error.name} {error.message}".lower():
                failures.append(f"{name}: refused, but not for access: {error}")
        self._assert_no_failures(failures, "portal read gaps")

    @mute_logger("odoo.http")
    def test_billing_user_cannot_forge_a_refund_through_transactions(self):
        """Billing users may create and write payment transactions (account_payment's
        access). A refund transaction they create would become a refund record, an
        attempt they re-link would change a refund's state, a paid amount they raise
        would raise the cap, a charge descriptor they write would be printed on the
        proof: each refused over JSON-RPC, nothing written (users write no
        transaction at all: tests/refund_proof/test_refund_foundations_rpc.py
        enumerates every field)."""
        billing = new_test_user(
            self.env,
            login="forging_billing_user",
            groups="base.group_user,account.group_account_invoice,"
            "refund_proof.group_refund_user",
            refund_limit=1_000_000,
        )
        tx = self._paid(19.90)
        refunds = self.env["payment.refund"].sudo()
        txs = self.env["payment.transaction"].sudo()
        counts = (refunds.search_count([]), txs.search_count([]))
        forged = {
            "provider_id": tx.provider_id.id,
            "payment_method_id": tx.payment_method_id.id,
            "reference": "FORGED-REFUND",
            "amount": -5000.0,
            "currency_id": tx.currency_id.id,
            "partner_id": tx.partner_id.id,
            "operation": "refund",
            "source_transaction_id": tx.id,
            "state": "done",
        }
        with self.assertRaisesRegex(RpcError, "not by hand"):
            self._rpc(billing, "payment.transaction", "create", [forged])
        with self.assertRaisesRegex(RpcError, "written by Odoo and the payment"):
            self._rpc(
                billing,
                "payment.transaction",
                "write",
                [tx.id],
                {"child_transaction_ids": [(0, 0, dict(forged, reference="F2"))]},
            )
        self.assertEqual((refunds.search_count([]), txs.search_count([])), counts)

        with self.assertRaisesRegex(RpcError, "checked against them"):
            self._rpc(
                billing, "payment.transaction", "write", [tx.id], {"amount": 5000}
            )
        self.assertEqual(tx.amount, 19.90)

        with self.assertRaisesRegex(RpcError, "written by Odoo and the payment"):
            self._rpc(
                billing,
                "payment.transaction",
                "write",
                [tx.id],
                {"refund_charge_descriptor": "NOT THE SHOP"},
            )
        self.assertFalse(tx.refund_charge_descriptor)

        refund = self._refund(tx, 5.0)
        attempt = refund.transaction_ids
        other = self._refund(self._paid(), 5.0)
        with self.assertRaisesRegex(RpcError, "written by Odoo and the payment"):
            self._rpc(
                billing,
                "payment.transaction",
                "write",
                [other.transaction_ids.id],
                {"refund_id": refund.id},
            )
        self.assertEqual(attempt.refund_id, refund)
        self.assertEqual(other.transaction_ids.refund_id, other)
        self.assertEqual(refund.state, "done")
