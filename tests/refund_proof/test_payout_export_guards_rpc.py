"""A hostile client of Odoo's real JSON-RPC endpoint against the SEPA files of payouts.

`payment.refund.payout.export` holds, in its `file` (an attachment), the IBANs of every
bank transfer of an export: refund managers read it, nobody writes it (the server
creates it in `payment.refund._store_sepa_export`). These tests enumerate its fields
(`_fields`) and write each as every role over `/jsonrpc`, try to create, copy and
delete exports, and read, search, download, rewrite, re-attach and delete the file's
attachment. A refused call must leave the export and its attachment as they were.
test_refund_payout_sepa.py makes real files and holds their content; here the file is
the server's own record of one, stored by the method the export calls.
"""

import itertools

from odoo.tests import HttpCase, new_test_user, tagged

from ..json_rpc_client import JsonRpcMixin
from ..refund_factories import RefundProofCommon
from . import test_refund_foundations_rpc as foundations

EXPORT = "payment.refund.payout.export"
IBAN = "FR7630006000011234567890189"
FILE = f"<Document><IBAN>{IBAN}</IBAN></Document>".encode()
# Who reads an export and its file: refund managers (an administrator is one).
READERS = frozenset({"refund manager", "administrator"})


@tagged("-at_install", "post_install")
class TestPayoutExportGuardsRpc(
    foundations.FieldsAttackHelpers, JsonRpcMixin, RefundProofCommon, HttpCase
):
    """Reads, writes, creations, copies and deletions of SEPA files of payouts and of
    their attachment, over Odoo's JSON-RPC and /web/content, by every role."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_customer = new_test_user(
            cls.env, login="export_portal_customer", groups="base.group_portal"
        )
        cls.emma = cls.portal_customer  # _generic_values' hostile reference.
        cls.roles = {
            "refund user": cls.refund_user,
            "refund manager": cls.refund_manager,
            "billing user": cls.billing_user,
            "portal": cls.portal_customer,
            "administrator": new_test_user(
                cls.env,
                login="export_admin",
                groups="base.group_user,base.group_system,"
                "refund_proof.group_refund_manager",
            ),
        }

    def setUp(self):
        super().setUp()
        refund = self._refund(self._create_paid_transaction(40.0), 40.0)
        # The export's own storing (after `action_export_sepa` built and validated
        # the file): the record, its file's attachment, the refunds' link.
        self.attachment = refund.sudo()._store_sepa_export(FILE)
        self.export = refund.sudo().payout_export_id
        self.assertEqual(self.attachment.res_id, self.export.id)
        self.assertEqual(self.attachment.res_field, "file")

    def _records(self):
        return [self.export, self.attachment]

    def _count(self, model, domain=()):
        self.env.invalidate_all()
        return self.env[model].sudo().search_count(list(domain))

    def test_only_refund_managers_read_an_export(self):
        """Every field of an export is read over RPC by refund managers only; the
        others' read is refused and their search finds nothing."""
        names = list(self.env[EXPORT]._fields)
        failures = []
        for role, user in self.roles.items():
            result, error = self._attempt(user, EXPORT, "read", [self.export.id], names)
            found, search_error = self._attempt(
                user, EXPORT, "search_read", [], ["name"]
            )
            found = [row["id"] for row in found or []]
            if role in READERS:
                if error is not None or result[0]["name"] != self.export.name:
                    failures.append(("read", role, f"not read: {error}"))
                if self.export.id not in found:
                    failures.append(("search_read", role, f"not found {search_error}"))
            else:
                if error is None:
                    failures.append(("read", role, f"read {result}"))
                if self.export.id in found:
                    failures.append(("search_read", role, "found"))
        self._assert_no_failures(failures, "export read gaps")

    def test_nobody_writes_creates_copies_or_deletes_an_export(self):
        """Every field of `_fields`, written over RPC by every role (refund managers
        and administrators included), is refused and changes neither the export nor
        its file; creating, copying and deleting one are refused too."""
        failures = []
        for (role, user), name in itertools.product(
            self.roles.items(), self.env[EXPORT]._fields
        ):
            for value in self._generic_values(self.export, name)[:2]:
                with self._rolled_back():
                    before = self._snapshot(self._records())
                    value = self._at_call(value)
                    _result, error = self._attempt(
                        user, EXPORT, "write", [self.export.id], {name: value}
                    )
                    changed = self._changed(before, self._records())
                    if error is None or changed:
                        failures.append((f"write {name}", role, f"{error} {changed}"))
        values = {"name": "forged.xml", "company_id": self.env.company.id}
        for role, user in self.roles.items():
            for method, args in (
                ("create", [values]),
                ("copy", [[self.export.id]]),
                ("unlink", [[self.export.id]]),
            ):
                with self._rolled_back():
                    before = self._snapshot(self._records())
                    count = self._count(EXPORT)
                    result, error = self._attempt(user, EXPORT, method, *args)
                    changed = self._changed(before, self._records())
                    if error is None or changed or self._count(EXPORT) != count:
                        failures.append((method, role, f"{result} {changed}"))
        self._assert_no_failures(failures, "export write gaps")

    def test_the_file_is_read_by_refund_managers_only(self):
        """The file's attachment, read by id or searched over RPC, or downloaded
        from /web/content: refund managers get the file, the others neither it nor
        the attachment."""
        failures = []
        domain = [
            ("res_model", "=", EXPORT),
            ("res_id", "=", self.export.id),
            ("res_field", "=", "file"),
        ]
        for role, user in self.roles.items():
            result, error = self._attempt(
                user, "ir.attachment", "read", [self.attachment.id], ["raw", "datas"]
            )
            found, _error = self._attempt(user, "ir.attachment", "search", domain)
            self.authenticate(user.login, user.login)
            responses = [
                self.url_open(url)
                for url in (
                    f"/web/content/{self.attachment.id}",
                    f"/web/content/{EXPORT}/{self.export.id}/file",
                )
            ]
            leaked = [r.url for r in responses if IBAN.encode() in r.content]
            if role in READERS:
                if error is not None or IBAN not in str(result[0]["raw"]):
                    failures.append(("read the file", role, f"not read: {error}"))
                if found != [self.attachment.id]:
                    failures.append(("search the file", role, f"found {found}"))
                if len(leaked) != len(responses):
                    failures.append(("download the file", role, "not downloaded"))
            else:
                if error is None:
                    failures.append(("read the file", role, "read"))
                if found:
                    failures.append(("search the file", role, f"found {found}"))
                if leaked:
                    failures.append(("download the file", role, f"got {leaked}"))
        self.authenticate(None, None)
        self._assert_no_failures(failures, "gaps in the file's secrecy")

    def test_nobody_changes_or_deletes_the_file(self):
        """The file's attachment rewritten (content, name, record, field), deleted,
        or another attachment put on the export, over RPC by every role (refund
        managers and administrators included): refused, the file unchanged."""
        other = self._refund(self._create_paid_transaction(20.0), 20.0)
        attacks = [
            ("write", [[self.attachment.id], {"raw": "forged"}]),
            ("write", [[self.attachment.id], {"datas": "Zm9yZ2Vk"}]),
            ("write", [[self.attachment.id], {"name": "other.xml"}]),
            ("write", [[self.attachment.id], {"res_field": False}]),
            (
                "write",
                [
                    [self.attachment.id],
                    {"res_model": "payment.refund", "res_id": other.id},
                ],
            ),
            ("unlink", [[self.attachment.id]]),
            (
                "create",
                [
                    {
                        "name": "forged.xml",
                        "datas": "Zm9yZ2Vk",
                        "res_model": EXPORT,
                        "res_id": self.export.id,
                        "res_field": "file",
                    }
                ],
            ),
        ]
        failures = []
        for (role, user), (method, args) in itertools.product(
            self.roles.items(), attacks
        ):
            with self._rolled_back():
                before = self._snapshot(self._records())
                count = self._count("ir.attachment", [("res_model", "=", EXPORT)])
                _result, error = self._attempt(user, "ir.attachment", method, *args)
                changed = self._changed(before, self._records())
                self.env.invalidate_all()
                if self.attachment.sudo().raw != FILE:
                    changed.append("the file's bytes")
                attached = self._count("ir.attachment", [("res_model", "=", EXPORT)])
                if error is None or changed or attached != count:
                    failures.append((f"{method} {args[-1]}", role, f"{changed}"))
        self._assert_no_failures(failures, "ways to change the file")
