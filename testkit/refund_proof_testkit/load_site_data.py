"""The data of a load run, created in the load site's database before its servers
start (run by load_site.py `LoadSite.run_setup`, in a process of its own: the site's
database is on another PostgreSQL cluster than the suite's).

Usage: python testkit/refund_proof_testkit/load_site_data.py '<JSON spec>'; prints
one JSON line: the payments, users and managers created. The spec (see
tests/refund_proof/test_load.py):

- dbname, db_port, addons_path, data_dir, base_url, psp_url, psp_secret: the site;
- provider: "fakepsp" (refunds over HTTP to the fake PSP) or "demo" (Odoo's demo
  provider, refunds done in process: the benchmark's plain-Odoo comparison);
- payments, amount: how many paid transactions, of how much;
- users: [{"login", "limit", "daily"}] refund users and their limits (without
  refund_proof: billing users, who may refund in plain Odoo);
- managers: [login] refund managers;
- print_delay: Odoo's `report.print_delay` (ms) for the proofs.
"""

import json
import sys

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tools import config


def open_registry(spec):
    """Odoo's registry of the site's database, for a process of its own (this
    script, the bench's): `spec` holds the database and its server's paths
    (`LoadSite.database_spec`)."""
    config.parse_config(
        [
            "--addons-path", spec["addons_path"],
            "--data-dir", spec["data_dir"],
            "--db_host", "127.0.0.1",
            "--db_port", str(spec["db_port"]),
            "--db_user", "odoo",
            "-d", spec["dbname"],
            "--log-level", "warn",
            "--max-cron-threads", "0",
        ],
        setup_logging=True,
    )  # fmt: skip
    return Registry(spec["dbname"])


def main(spec):
    with open_registry(spec).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        result = populate(env, spec)
    print(json.dumps(result))


def populate(env, spec):
    company = env.company
    company.write({"email": "refunds@merchant.example", "name": "Load Test Shop"})
    icp = env["ir.config_parameter"]
    icp.set_param("web.base.url", spec["base_url"])
    icp.set_param("web.base.url.freeze", "True")
    icp.set_param("report.url", spec["base_url"])
    icp.set_param("report.print_delay", str(spec.get("print_delay", 1000)))
    with_refund_proof = "payment.refund" in env
    journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    if spec["provider"] == "fakepsp":
        provider = env["payment.provider"].search([("code", "=", "fakepsp")], limit=1)
        provider.write(
            {
                "state": "test",
                "journal_id": journal.id,
                "fakepsp_api_url": spec["psp_url"],
                "fakepsp_webhook_secret": spec["psp_secret"],
                "fakepsp_timeout": 30.0,
            }
        )
    else:
        provider = env.ref("payment.payment_provider_demo")
        provider.write({"state": "test", "journal_id": journal.id})
    provider.payment_method_ids.write({"active": True})

    # Created a hundred at a time (the load test's bulk refund needs a thousand more).
    payments = []
    indexes = list(range(1, spec["payments"] + 1))
    for start in range(0, len(indexes), 100):
        chunk = indexes[start : start + 100]
        partners = env["res.partner"].create(
            [
                {"name": f"Customer {index}", "email": f"customer{index}@load.example"}
                for index in chunk
            ]
        )
        txs = env["payment.transaction"].create(
            [
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id,
                    "amount": spec["amount"],
                    "currency_id": company.currency_id.id,
                    "reference": f"LOAD-{index}",
                    "partner_id": partner.id,
                    "operation": "online_direct",
                }
                for index, partner in zip(chunk, partners, strict=True)
            ]
        )
        if spec["provider"] == "fakepsp":
            for index, tx in zip(chunk, txs, strict=True):
                tx.provider_reference = f"ch_load_{index}"
            txs._set_done()
        else:
            for tx in txs:
                tx._handle_notification_data(
                    "demo", {"reference": tx.reference, "simulated_state": "done"}
                )
        txs._post_process()
        payments += [
            {
                "id": tx.id,
                "reference": tx.reference,
                "amount": spec["amount"],
                "email": tx.partner_id.email,
            }
            for tx in txs
        ]

    base_groups = [env.ref("base.group_user").id]
    if with_refund_proof:
        user_groups = base_groups + [env.ref("refund_proof.group_refund_user").id]
        manager_groups = base_groups + [env.ref("refund_proof.group_refund_manager").id]
    else:
        user_groups = base_groups + [env.ref("account.group_account_invoice").id]
        manager_groups = user_groups
    users = []
    for user_spec in spec["users"]:
        values = {
            "name": user_spec["login"].replace("_", " ").title(),
            "login": user_spec["login"],
            "password": user_spec["login"],
            "email": f"{user_spec['login']}@merchant.example",
            "groups_id": [Command.set(user_groups)],
        }
        if with_refund_proof:
            values["refund_limit"] = user_spec["limit"]
            values["refund_daily_limit"] = user_spec["daily"]
        user = env["res.users"].create(values)
        users.append(dict(user_spec, id=user.id))
    managers = []
    for login in spec.get("managers", []):
        user = env["res.users"].create(
            {
                "name": login.replace("_", " ").title(),
                "login": login,
                "password": login,
                "email": f"{login}@merchant.example",
                "groups_id": [Command.set(manager_groups)],
            }
        )
        managers.append({"login": login, "id": user.id})
    return {"payments": payments, "users": users, "managers": managers}


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
