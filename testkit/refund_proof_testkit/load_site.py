"""Production-shaped Odoo on 127.0.0.1, for the load test
(tests/refund_proof/test_load.py, `make test-slow`) and the load benchmark
(bench/bench_load.py, `make bench`).

Everything runs as in production, nothing in process: a PostgreSQL cluster of its own
(so that it can be restarted under load without touching the suite's database), Odoo
servers in prefork (`--workers`, crons in their own processes) sharing one database
and one data directory, a real SMTP server (aiosmtpd) as the mail sink, the fake PSP
(tests/fakepsp_server.py) with its webhooks, and clients over HTTP (JSON-RPC with a
session, the portal, the verification page).

Every process and directory a `LoadSite` starts or creates is stopped and removed by
`LoadSite.close()`, which the callers run in a `finally`.
"""

import asyncio
import email
import email.policy
import glob
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psutil
import psycopg2
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
# The suite's explained exceptions to a warning-clean log, which the load's servers
# share.
LOG_ALLOWLIST = os.path.join(REPO_ROOT, "tests", "log-allowlist.txt")
ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo/18.0")
PY = sys.executable

# Odoo's exceptions a user may be shown: a refused request, in the user's words.
CLEAR_ERRORS = {
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.UserError",
    "odoo.exceptions.AccessError",
}


def cents(value):
    """An amount of a 2-decimal currency in cents (the load's currency is USD)."""
    return round(float(value) * 100)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bindir():
    """The newest PostgreSQL server binaries of the machine (Debian layout first)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(path.split("/")[4]),
    )
    if candidates:
        return os.path.dirname(candidates[-1])
    pg_ctl = shutil.which("pg_ctl")
    if not pg_ctl:
        raise RuntimeError("PostgreSQL's pg_ctl is not installed")
    return os.path.dirname(pg_ctl)


def wait_for(predicate, timeout, interval=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class PrivatePostgres:
    """A PostgreSQL cluster of its own on 127.0.0.1 (trust authentication for the
    role `odoo`), which the fault scenarios may restart."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.datadir = os.path.join(root, "pgdata")
        self.sockdir = os.path.join(root, "pgsock")
        self.logfile = os.path.join(root, "postgresql.log")
        self.bindir = pg_bindir()
        self.running = False

    def _run(self, *args, **kwargs):
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root.
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # Output to a file, not a pipe: a server started by pg_ctl may keep the
        # descriptors it inherited, and reading a pipe to its end would then wait for
        # the server to stop.
        with open(os.path.join(self.root, "pg_ctl.log"), "a") as output:
            subprocess.run(cmd, check=True, stdout=output, stderr=output, **kwargs)

    def start(self):
        if not os.path.isdir(self.datadir):
            for path in (self.datadir, self.sockdir):
                os.makedirs(path)
                if os.geteuid() == 0:
                    shutil.chown(path, "postgres", "postgres")
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(
                "initdb",
                "-D",
                self.datadir,
                "-U",
                "odoo",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        options = (
            f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", self.datadir, "-l", self.logfile, "-o", options, "-w",
            "-t", "60", "start",
        )  # fmt: skip
        self.running = True

    def restart(self):
        """A fast restart: every connection is closed, the in-flight transactions
        roll back."""
        self._run(
            "pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "-t", "60", "restart"
        )

    def stop(self):
        if self.running:
            self._run(
                "pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "-t", "60", "stop"
            )
            self.running = False

    def connect(self, dbname):
        cnx = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="odoo", dbname=dbname
        )
        cnx.autocommit = True
        return cnx

    def restore(self, source, dbname):
        """Copy database `source.dbname` of the main cluster (`source` holds its
        host, port, user, password) into a new database `dbname` here."""
        cnx = self.connect("postgres")
        try:
            cnx.cursor().execute(f'CREATE DATABASE "{dbname}"')
        finally:
            cnx.close()
        env = dict(os.environ, PGPASSWORD=source["password"] or "")
        dump = subprocess.Popen(
            [
                os.path.join(self.bindir, "pg_dump"),
                "-h", source["host"], "-p", str(source["port"]), "-U", source["user"],
                "-Fc", "-Z0", source["dbname"],
            ],
            stdout=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        subprocess.run(
            [
                os.path.join(self.bindir, "pg_restore"),
                "-h", "127.0.0.1", "-p", str(self.port), "-U", "odoo",
                "--no-owner", "-d", dbname,
            ],
            stdin=dump.stdout,
            check=True,
            capture_output=True,
        )  # fmt: skip
        dump.stdout.close()
        if dump.wait():
            raise RuntimeError(f"pg_dump of {source['dbname']} failed")


class JobDispatcher:
    """The job runner's door to the servers: a TCP proxy handing each connection to
    the server with the fewest jobs in flight (a load balancer's "least
    connections"), as production puts queue_job's runner behind the load balancer
    (its `[queue_job] host` and `port`), so that the jobs run in every worker of
    every server. A server that refuses the connection (stopped) is skipped."""

    def __init__(self, servers):
        self.servers = servers
        self.port = free_port()
        self.sent = {server.name: 0 for server in servers}
        self._in_flight = {server.name: 0 for server in servers}
        self._lock = threading.Lock()
        self._sock = None

    def start(self):
        self._sock = socket.create_server(("127.0.0.1", self.port), backlog=128)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        if self._sock:
            self._sock.close()
            self._sock = None

    def _accept(self):
        while self._sock:
            try:
                client, _address = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _connect(self):
        with self._lock:
            order = sorted(self.servers, key=lambda s: self._in_flight[s.name])
        for server in order:
            try:
                backend = socket.create_connection(("127.0.0.1", server.port), 5)
            except OSError:
                continue
            with self._lock:
                self._in_flight[server.name] += 1
                self.sent[server.name] += 1
            return server, backend
        return None, None

    def _serve(self, client):
        server, backend = self._connect()
        if backend is None:
            client.close()
            return
        backend.settimeout(None)

        def request():
            # The runner's request; when it stops listening (after a second), the
            # server is told no more comes (half-close) and finishes the job.
            try:
                while data := client.recv(65536):
                    backend.sendall(data)
            except OSError:
                pass
            try:
                backend.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=request, daemon=True).start()
        # The answer, once the job is done.
        try:
            while data := backend.recv(65536):
                try:
                    client.sendall(data)
                except OSError:
                    pass  # The runner stopped listening.
        except OSError:
            pass
        with self._lock:
            self._in_flight[server.name] -= 1
        backend.close()
        client.close()


class OdooServer:
    """`odoo-bin` in prefork on one database, started and stopped by the test.

    With the site's job runner (`LoadSite.open(job_channels=…)`), Odoo loads
    queue_job server-wide (`--load=web,queue_job`, as README's "Running in
    production"): each server runs a job runner process, one of which wins
    queue_job's election (a PostgreSQL advisory lock) and sends the jobs through
    the site's `JobDispatcher` to every server's workers."""

    def __init__(self, site, name, workers=4, cron_workers=1):
        self.site = site
        self.name = name
        self.port = free_port()
        self.gevent_port = free_port()
        self.workers = workers
        self.cron_workers = cron_workers
        self.logfile = os.path.join(site.root, f"odoo-{name}.log")
        self.conf = os.path.join(site.root, f"odoo-{name}.conf")
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        site = self.site
        options = {
            "addons_path": site.addons_path,
            "data_dir": site.data_dir,
            "db_host": "127.0.0.1",
            "db_port": site.pg.port,
            "db_user": "odoo",
            "db_password": "False",
            "db_name": site.dbname,
            "dbfilter": f"^{site.dbname}$",
            "list_db": "False",
            "http_interface": "127.0.0.1",
            "http_port": self.port,
            "gevent_port": self.gevent_port,
            "workers": self.workers,
            "max_cron_threads": self.cron_workers,
            "smtp_server": "127.0.0.1",
            "smtp_port": site.smtp.port,
            "logfile": self.logfile,
            "log_level": "info",
            "limit_time_real": 120,
            # A cron worker runs every cron due in one go; under load (proofs rendered
            # by the HTTP workers beside them, on 2 vCPUs) that takes minutes, and a
            # mail queue run killed after handing an e-mail to the SMTP server, before
            # recording it sent, sends it again (README, "Running in production").
            "limit_time_real_cron": 600,
            "without_demo": "all",
        }
        if site.job_channels:
            options["server_wide_modules"] = "base,web,queue_job"
        with open(self.conf, "w") as conf:
            conf.write("[options]\n")
            conf.writelines(f"{key} = {value}\n" for key, value in options.items())
            if site.job_channels:
                conf.write(
                    "[queue_job]\n"
                    f"channels = {site.job_channels}\n"
                    "host = 127.0.0.1\n"
                    f"port = {site.dispatcher.port}\n"
                )
        self.process = subprocess.Popen(
            [PY, os.path.join(ODOO_SRC, "odoo-bin"), "-c", self.conf],
            stdout=subprocess.DEVNULL,
            stderr=open(self.logfile + ".stderr", "w"),  # noqa: SIM115
            start_new_session=True,
        )

    def wait_ready(self, timeout=90):
        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Odoo server {self.name} exited, see {self.logfile}"
                )
            try:
                return requests.get(f"{self.url}/web/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(ready, timeout, what=f"Odoo server {self.name}")

    def http_workers(self):
        """The worker processes of this server (HTTP and cron)."""
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def worker_with_local_port(self, port):
        """The worker process owning the TCP connection from 127.0.0.1:`port` (the
        client side of a connection it opened), or None."""
        for worker in self.http_workers():
            try:
                connections = (
                    getattr(worker, "net_connections", None) or worker.connections
                )
                for conn in connections(kind="tcp"):
                    if conn.laddr and conn.laddr.port == port:
                        return worker
            except psutil.NoSuchProcess:
                continue
        return None

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        # Workers that outlived their master.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class SmtpSink:
    """A real SMTP server on 127.0.0.1 keeping every message it accepts; `stop` and
    `start` again on the same port make an outage; `hold_next` keeps the sender of
    the next message waiting for the server's answer until `release`."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.held = None
        self._lock = threading.Lock()
        self._controller = None
        self._hold_next = None
        self._released = threading.Event()

    def start(self):
        from aiosmtpd.controller import Controller

        # aiosmtpd logs every SMTP command at INFO: the test reads `messages`.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        record = {
            "to": [address.lower() for address in envelope.rcpt_tos],
            "subject": str(message["subject"] or ""),
            "message_id": str(message["message-id"] or ""),
            "received": time.time(),
            "has_pdf": any(
                part.get_content_type() == "application/pdf" for part in message.walk()
            ),
        }
        with self._lock:
            self.messages.append(record)
            hold = bool(self._hold_next and self._hold_next(record))
            if hold:
                self._hold_next = None
                self.held = record
        # The message is kept (the sink has it, as a real server that wrote it to
        # its queue) and the "250 OK" waits: the sender does not know yet.
        while hold and not self._released.is_set():
            await asyncio.sleep(0.05)
        return "250 OK"

    def hold_next(self, match=lambda record: True):
        """Keep the sender of the next message that `match`es (a function of its
        record in `messages`) waiting for "250 OK" until `release`; `held` is that
        message once received."""
        with self._lock:
            self.held = None
            self._hold_next = match
            self._released.clear()

    def release(self):
        self._released.set()

    def snapshot(self):
        with self._lock:
            return list(self.messages)


class RpcError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class Rpc:
    """A signed-in user of the web client: JSON-RPC calls with the session cookie,
    through any of the servers (they share the sessions of the data directory)."""

    def __init__(self, site, login, password):
        self.site = site
        self.login = login
        response = requests.post(
            f"{site.servers[0].url}/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": site.dbname, "login": login, "password": password},
            },
            timeout=60,
        )
        payload = response.json()
        if payload.get("error") or not payload.get("result", {}).get("uid"):
            raise RuntimeError(f"{login} cannot sign in: {payload}")
        self.uid = payload["result"]["uid"]
        self.cookies = {"session_id": response.cookies["session_id"]}

    def call(self, model, method, args, kwargs=None, server=None, timeout=120):
        server = server or self.site.servers[0]
        response = requests.post(
            f"{server.url}/web/dataset/call_kw/{model}/{method}",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "model": model,
                    "method": method,
                    "args": args,
                    "kwargs": kwargs or {},
                },
            },
            cookies=self.cookies,
            timeout=timeout,
        )
        if response.status_code != 200:
            raise RpcError(f"HTTP {response.status_code}", response.text[:200])
        payload = response.json()
        if "error" in payload:
            data = payload["error"].get("data") or {}
            raise RpcError(data.get("name", "?"), data.get("message", payload["error"]))
        return payload.get("result")  # Odoo leaves it out when it is None


@dataclass
class Outcome:
    """What the client saw of one refund request."""

    index: int
    user: str
    tx_id: int
    amount: float
    server: str
    started: float
    ended: float = 0.0
    refund_id: int = 0
    error: str = ""  # the exception's name, for refused and broken requests
    message: str = ""
    kind: str = ""  # refund, refused (a clear error), broken (anything else)

    @property
    def latency(self):
        return self.ended - self.started


@dataclass
class LoadPlan:
    """N refund requests: who, which payment, how much; fixed by the seed."""

    requests: list = field(default_factory=list)

    @classmethod
    def random(cls, count, users, payments, seed, low=1.0, high=45.0):
        rng = random.Random(seed)
        return cls(
            [
                (
                    rng.choice(users),
                    rng.choice(payments)["id"],
                    round(rng.uniform(low, high), 2),
                )
                for _ in range(count)
            ]
        )


class LoadSite:
    """A private PostgreSQL with one database copied from `source`, the fake PSP,
    the SMTP sink and `n_servers` Odoo servers in prefork on that database."""

    def __init__(self, source, addons_path, psp_factory=None, keep=False):
        self.source = source
        self.addons_path = addons_path
        self.keep = keep
        self.root = tempfile.mkdtemp(prefix="refund_proof_load_")
        os.chmod(self.root, 0o755)
        self.dbname = "refund_proof_load"
        self.data_dir = os.path.join(self.root, "data")
        self.pg = PrivatePostgres(self.root)
        self.smtp = SmtpSink()
        self.psp = None
        self.psp_factory = psp_factory
        self.servers = []
        self.setup = {}
        self.job_channels = ""
        self.dispatcher = None

    # === SET-UP === #

    def open(self, spec, n_servers=2, workers=4, job_channels=""):
        """Start everything; `spec` is the data to create (see load_site_data.py).

        :param str job_channels: queue_job's channels and capacities (its
            `[queue_job] channels`): the servers then load queue_job server-wide and
            run its job runner; empty, no job runner runs (jobs wait in the queue).
        """
        self.job_channels = job_channels
        self.pg.start()
        self.pg.restore(self.source, self.dbname)
        seed_filestore = self.source.get("filestore")
        os.makedirs(os.path.join(self.data_dir, "filestore"))
        if seed_filestore and os.path.isdir(seed_filestore):
            shutil.copytree(
                seed_filestore, os.path.join(self.data_dir, "filestore", self.dbname)
            )
        self.smtp.start()
        self.servers = [
            OdooServer(self, name, workers=workers) for name in "abcdefgh"[:n_servers]
        ]
        if job_channels:
            self.dispatcher = JobDispatcher(self.servers).start()
        if self.psp_factory:
            self.psp = self.psp_factory(
                [f"{server.url}/payment/fakepsp/webhook" for server in self.servers]
            ).start()
        self.setup = self.run_setup(spec)
        for server in self.servers:
            server.start()
        for server in self.servers:
            server.wait_ready()
        self.warm_up()
        return self

    def warm_up(self):
        """Load the registry in every worker (each loads it on its first request),
        so that the figures measure refunds, not start-up."""

        def hit(server):
            requests.get(f"{server.url}/web/login", timeout=120).raise_for_status()

        with ThreadPoolExecutor(max_workers=16) as pool:
            for _round in range(3):
                list(
                    pool.map(
                        hit,
                        [s for s in self.servers for _ in range(s.workers * 2)],
                    )
                )

    def database_spec(self):
        """What a process of its own needs to open the site's database
        (`load_site_data.open_registry`)."""
        return {
            "dbname": self.dbname,
            "db_port": self.pg.port,
            "addons_path": self.addons_path,
            "data_dir": self.data_dir,
        }

    def run_setup(self, spec):
        """Create the load's data (load_site_data.py, in a process of its own)."""
        spec = dict(
            spec,
            **self.database_spec(),
            base_url=self.servers[0].url,
            psp_url=self.psp.url if self.psp else "",
            psp_secret=self.psp.webhook_secret if self.psp else "",
        )
        result = subprocess.run(
            [PY, os.path.join(HERE, "load_site_data.py"), json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"load set-up failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def close(self):
        for server in self.servers:
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - stop everything else all the same
                pass
        if self.psp:
            self.psp.stop()
        if self.dispatcher:
            self.dispatcher.stop()
        self.smtp.stop()
        try:
            self.pg.stop()
        finally:
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

    # === TRAFFIC === #

    def sign_in(self, logins):
        return {login: Rpc(self, login, login) for login in logins}

    def request_refund(self, rpc, index, tx_id, amount, server):
        """One refund request as the refund wizard makes it: create, confirm."""
        outcome = Outcome(
            index, rpc.login, tx_id, amount, server.name, started=time.time()
        )
        try:
            wizard_id = rpc.call(
                "payment.refund.request",
                "create",
                [
                    {
                        "source_transaction_id": tx_id,
                        "amount": amount,
                        "note": f"load request {index}",
                    }
                ],
                server=server,
            )
            action = rpc.call(
                "payment.refund.request", "action_confirm", [[wizard_id]], server=server
            )
            outcome.refund_id = action["res_id"]
            outcome.kind = "refund"
        except RpcError as error:
            outcome.error, outcome.message = error.name, str(error.message)
            outcome.kind = "refused" if error.name in CLEAR_ERRORS else "broken"
        except requests.RequestException as error:
            outcome.error, outcome.message = type(error).__name__, str(error)
            outcome.kind = "broken"
        outcome.ended = time.time()
        return outcome

    def run_requests(self, rpcs, plan, in_flight, servers=None, first_index=0):
        """Send the plan's requests, `in_flight` at a time, round robin over the
        servers; return the outcomes in the plan's order."""
        servers = servers or self.servers

        def send(item):
            index, (login, tx_id, amount) = item
            server = servers[index % len(servers)]
            return self.request_refund(rpcs[login], index, tx_id, amount, server)

        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            return list(pool.map(send, enumerate(plan.requests, start=first_index)))

    def race_approvals(self, managers, refund_ids):
        """Two managers approve each refund at the same instant, through two
        servers; return [(refund id, [outcome of each])], an outcome being "approved"
        or the exception's name and message."""
        results = []
        for refund_id in refund_ids:
            barrier = threading.Barrier(len(managers))

            def approve(turn, refund_id=refund_id, barrier=barrier):
                server = self.servers[turn % len(self.servers)]
                barrier.wait()
                try:
                    managers[turn].call(
                        "payment.refund", "action_approve", [[refund_id]], server=server
                    )
                    return "approved"
                except RpcError as error:
                    return f"{error.name}: {error.message}"

            with ThreadPoolExecutor(max_workers=len(managers)) as pool:
                results.append(
                    (refund_id, list(pool.map(approve, range(len(managers)))))
                )
        return results

    # === THE DATABASE'S VIEW === #

    def query(self, sql, params=None):
        cnx = self.pg.connect(self.dbname)
        try:
            cr = cnx.cursor()
            cr.execute(sql, params)
            return cr.fetchall()
        finally:
            cnx.close()

    def busy(self):
        """What is still moving: webhooks to deliver, refunds to e-mail, mails to
        send. Empty when everything is settled."""
        busy = []
        if self.psp and self.psp.webhooks_pending():
            busy.append(f"{self.psp.webhooks_pending()} webhooks")
        [(mails_due,)] = self.query(
            "SELECT count(*) FROM payment_refund WHERE state = 'done' AND "
            "(customer_mail_pending IS NOT NULL OR proof_pending)"
        )
        if mails_due:
            busy.append(f"{mails_due} refunds to e-mail")
        [(queued,)] = self.query(
            "SELECT count(*) FROM mail_mail WHERE state IN ('outgoing', 'exception')"
        )
        if queued:
            busy.append(f"{queued} mails queued or failed")
        [(sending,)] = self.query(
            "SELECT count(*) FROM payment_refund WHERE state = 'draft'"
        )
        if sending:
            busy.append(f"{sending} refunds being sent")
        if self.job_channels:
            [(jobs,)] = self.query(
                "SELECT count(*) FROM queue_job WHERE state IN "
                "('wait_dependencies', 'pending', 'enqueued', 'started')"
            )
            if jobs:
                busy.append(f"{jobs} queue jobs to run")
        return busy

    def settle(self, timeout):
        """Wait until nothing moves any more (see `busy`)."""
        last = []

        def quiet():
            last[:] = self.busy()
            return not last

        try:
            wait_for(quiet, timeout, interval=1.0, what="the site to settle")
        except TimeoutError as error:
            raise TimeoutError(f"{error}: still {', '.join(last)}") from None

    # === WHAT MUST HOLD === #

    def check(self, outcomes, allowed_broken=()):
        """Every invariant of the load, checked from the database, the PSP's ledger
        and the SMTP sink; return the problems found (none: all held).

        :param list outcomes: every request sent (`Outcome`).
        :param allowed_broken: indexes of the requests a fault may have broken.
        """
        return [
            *self._check_caps(),
            *self._check_daily_limits(),
            *self._check_answers(outcomes, allowed_broken),
            *self._check_states(),
            *self._check_psp_ledger(),
            *self._check_mails(),
        ]

    def _check_caps(self):
        """Never refunded above what was paid: Odoo's books and the PSP's."""
        problems = []
        for ref, paid, held in self.query(
            "SELECT tx.reference, tx.amount, COALESCE(SUM(r.amount), 0) "
            "FROM payment_transaction tx LEFT JOIN payment_refund r "
            "ON r.source_transaction_id = tx.id "
            "AND r.state IN ('draft', 'to_approve', 'pending', 'done') "
            "WHERE tx.reference LIKE 'LOAD-%%' GROUP BY tx.id"
        ):
            if cents(held) > cents(paid):
                problems.append(f"{ref}: {held} refunded or held, {paid} paid")
        if self.psp:
            for ref, refunded in self.psp.refunded_amounts().items():
                if refunded > self.psp.charges.get(ref, refunded):
                    problems.append(f"{ref}: the PSP refunded {refunded} cents")
        return problems

    def _check_daily_limits(self):
        """No user above their daily limit without an approval."""
        problems = []
        for user in self.setup["users"]:
            [(total,)] = self.query(
                "SELECT COALESCE(SUM(amount), 0) FROM payment_refund "
                "WHERE limit_user_id = %s AND state IN ('draft', 'pending', 'done')",
                (user["id"],),
            )
            if cents(total) > cents(user["daily"]):
                problems.append(
                    f"{user['login']}: {total} issued, limit {user['daily']}"
                )
        return problems

    def _check_answers(self, outcomes, allowed_broken):
        """Every request answered, and by what the database holds."""
        problems = []
        for outcome in outcomes:
            if outcome.kind == "broken" and outcome.index not in allowed_broken:
                problems.append(f"request {outcome.index} broken: {outcome.error}")
        requested = dict(
            self.query(
                "SELECT id, note FROM payment_refund WHERE note LIKE 'load request %%'"
            )
        )
        answered = {o.refund_id: o for o in outcomes if o.kind == "refund"}
        # A request a fault broke may still have committed its refund (the answer
        # was lost after the commit): in doubt, once at most, never another's.
        in_doubt = {f"load request {index}" for index in allowed_broken}
        for refund_id, note in requested.items():
            outcome = answered.get(refund_id)
            if outcome and note == f"load request {outcome.index}":
                continue
            if not outcome and note in in_doubt:
                in_doubt.discard(note)
                continue
            problems.append(f"refund {refund_id} ({note}) answered to no request")
        for refund_id, outcome in answered.items():
            if refund_id not in requested:
                problems.append(f"request {outcome.index}: refund {refund_id} lost")
        return problems

    def _check_states(self):
        """Every refund final, or truthfully pending."""
        problems = []
        for name, state, unknown, message in self.query(
            "SELECT name, state, outcome_unknown, failure_message FROM payment_refund "
            "WHERE state NOT IN ('done', 'to_approve', 'cancelled')"
        ):
            if state == "failed" and not message:
                problems.append(f"{name}: failed without the PSP's message")
            elif state == "pending" and not unknown:
                problems.append(f"{name}: pending, yet its outcome is known")
            elif state == "draft":
                problems.append(f"{name}: still draft (never sent)")
        return problems

    def _check_psp_ledger(self):
        """Odoo's done refunds are the PSP's, and the other way round."""
        problems = []
        if self.psp:
            made = {
                rid: r
                for rid, r in self.psp.refunds.items()
                if r["status"] == "succeeded"
            }
            known = dict(
                self.query(
                    "SELECT tx.provider_reference, r.state FROM payment_transaction tx "
                    "JOIN payment_refund r ON r.id = tx.refund_id "
                    "WHERE tx.operation = 'refund' AND tx.state = 'done'"
                )
            )
            for rid in made:
                if known.get(rid) != "done":
                    problems.append(f"PSP refund {rid} not known done in Odoo")
            for name, rid in self.query(
                "SELECT r.name, tx.provider_reference FROM payment_refund r "
                "JOIN payment_transaction tx ON tx.refund_id = r.id "
                "AND tx.state = 'done' WHERE r.state = 'done'"
            ):
                if rid not in made:
                    problems.append(f"{name} done, the PSP made no refund {rid}")
        return problems

    def _check_mails(self):
        """One e-mail per done refund to its customer, with the proof; none else."""
        problems = []
        messages = self.smtp.snapshot()
        for name, state, address in self.query(
            "SELECT r.name, r.state, lower(p.email) FROM payment_refund r "
            "JOIN res_partner p ON p.id = r.partner_id"
        ):
            sent = [
                m
                for m in messages
                if f"({name})" in m["subject"] and address in m["to"]
            ]
            if state == "done" and len(sent) != 1:
                problems.append(
                    f"{name}: {len(sent)} customer e-mails, not 1"
                    + self._mails_detail(name, sent)
                )
            elif state == "done" and not sent[0]["has_pdf"]:
                problems.append(f"{name}: e-mailed without its proof")
            elif state != "done" and sent:
                problems.append(f"{name} ({state}): e-mailed to the customer")
        return problems

    def _mails_detail(self, name, sent):
        """What tells a mail sent twice by Odoo's queue (one message, its Message-Id
        received twice) from two e-mails written (two messages)."""
        received = ", ".join(
            f"{m['message_id']} at "
            + time.strftime("%H:%M:%S", time.localtime(m["received"]))
            for m in sent
        )
        # Sent notification mails are deleted (auto_delete): their messages stay.
        messages = self.query(
            "SELECT mm.id, mm.message_id, mm.create_date FROM mail_message mm "
            "JOIN payment_refund r ON r.id = mm.res_id AND mm.model = 'payment.refund' "
            "WHERE r.name = %s AND mm.message_type = 'comment' ORDER BY mm.id",
            (name,),
        )
        return f" (received: {received}; messages: {messages})"

    def log_problems(self, windows=(), refusals=()):
        """WARNING/ERROR/CRITICAL lines of the servers' logs, but:

        - those of tests/log-allowlist.txt (the suite's, each explained there);
        - a refusal the client was shown (`refusals`: the messages of the refused
          requests), which Odoo logs as a warning of `odoo.http`;
        - queue_job's runner re-sending a job no worker took within its one second
          ("state of job … was reset from enqueued to pending"), and the worker that
          takes the first request later finding the job no longer enqueued ("was
          requested to run job …, but it does not exist, or is not in state
          enqueued"): queue_job's way with busy servers, the job runs once (its
          state, locked, decides), checked from the database by the scenarios;
        - a query failing on a concurrent update (`odoo.sql_db: bad query` then
          "could not serialize access due to concurrent update"): PostgreSQL's
          answer to two transactions writing one row, which Odoo retries with a
          fresh snapshot (`odoo.service.model.retrying`); a request that still
          fails after its retries logs another error, which is not allowed;
        - those written during one of the `windows` ((start, end) in `time.time()`
          seconds, or (start, end, regular expression) for those lines only): the
          faults a scenario injected, when errors are the truth.
        """
        with open(LOG_ALLOWLIST) as allowlist:
            allowed = [
                re.compile(line.strip())
                for line in allowlist
                if line.strip() and not line.lstrip().startswith("#")
            ]
        refusals = {str(message).splitlines()[0] for message in refusals if message}
        bad = []
        for server in self.servers:
            if not os.path.exists(server.logfile):
                continue
            with open(server.logfile, errors="replace") as log:
                lines = log.readlines()
            for number, line in enumerate(lines):
                match = LOG_LINE.match(line)
                if not match or match["level"] not in BAD_LEVELS:
                    continue
                text = match["text"].rstrip("\n")
                following = lines[number + 1] if number + 1 < len(lines) else ""
                when = time.mktime(time.strptime(match["when"], "%Y-%m-%d %H:%M:%S"))
                if (
                    any(pattern.search(line) for pattern in allowed)
                    or JOB_REDISPATCH.search(line)
                    or (match["logger"] == "odoo.http" and text.strip() in refusals)
                    or (
                        text.startswith("bad query:")
                        and following.startswith(SERIALIZATION_FAILURE)
                    )
                    or any(
                        window[0] - 1 <= when <= window[1] + 1
                        and (len(window) < 3 or re.search(window[2], line))
                        for window in windows
                    )
                ):
                    continue
                bad.append(f"{server.name}: {line.rstrip()}")
        return bad


class Visitors:
    """Customers and QR-code readers while the load runs: the verification page
    and the portal download of issued proofs, through every server, in threads.
    `statuses` counts what they got (HTTP status, or the error's name)."""

    def __init__(self, site, manager, threads=4):
        self.site = site
        self.manager = manager
        self.threads = threads
        self.statuses = {}
        self.failures = []  # (time, url, status) of answers other than 200
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = []
        self._targets = []

    def _refresh(self):
        refunds = self.manager.call(
            "payment.refund",
            "search_read",
            [[("state", "=", "done"), ("proof_ids", "!=", False)]],
            {"fields": ["verification_url", "access_token"], "limit": 200},
        )
        self._targets = refunds

    def _visit(self, turn):
        rng = random.Random(turn)
        while not self._stop.is_set():
            if not self._targets:
                time.sleep(0.5)
                continue
            refund = rng.choice(self._targets)
            server = rng.choice(self.site.servers)
            path = refund["verification_url"].split("/refund-proof/", 1)[1]
            urls = [
                f"{server.url}/refund-proof/{path}",
                f"{server.url}/my/refunds/{refund['id']}?access_token="
                f"{refund['access_token']}&report_type=pdf&download=true",
            ]
            for url in urls:
                time.sleep(0.05)  # Visitors, not a denial of service.
                try:
                    response = requests.get(url, timeout=60)
                    status = response.status_code
                    if "report_type=pdf" in url and not response.content.startswith(
                        b"%PDF"
                    ):
                        status = "not a PDF"
                except requests.RequestException as error:
                    status = type(error).__name__
                with self._lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status != 200:
                        self.failures.append((time.time(), url, status))

    def start(self):
        self._refresh()

        def refresher():
            while not self._stop.wait(3.0):
                try:
                    self._refresh()
                except (RpcError, requests.RequestException):
                    pass  # During a fault: the next refresh.

        self._pool = [threading.Thread(target=refresher, daemon=True)] + [
            threading.Thread(target=self._visit, args=(turn,), daemon=True)
            for turn in range(self.threads)
        ]
        for thread in self._pool:
            thread.start()
        return self

    def stop(self):
        self._stop.set()
        for thread in self._pool:
            thread.join(60)


LOG_LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \d+ (?P<level>[A-Z]+) "
    r"\S+ (?P<logger>[\w.]+): (?P<text>.*)"
)
SERIALIZATION_FAILURE = "ERROR: could not serialize access due to concurrent update"
BAD_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
JOB_REDISPATCH = re.compile(
    r" WARNING \S+ odoo\.addons\.queue_job\.("
    r"jobrunner\.runner: state of job [0-9a-f-]+ was reset from enqueued to pending"
    r"|controllers\.main: was requested to run job [0-9a-f-]+, but it does not exist, "
    r"or is not in state enqueued)\s*$"
)
