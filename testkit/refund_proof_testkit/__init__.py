"""What the tests (tests/) and the benchmarks (bench/) both run, as a library: not an
Odoo addon (no manifest), on the path through scripts/env.sh (PYTHONPATH=testkit).

- demo_payments: the demo provider enabled, a refund user, paid demo transactions;
- load_site: a production-shaped site on 127.0.0.1 (a PostgreSQL cluster of its own,
  Odoo servers in prefork, an SMTP sink, JSON-RPC and HTTP clients) for the load test
  and the load benchmark;
- load_site_data: the script creating a load site's data, run by load_site.
"""
