"""Database helpers of refund_proof, shared by its models and the provider bridges."""

from contextlib import contextmanager

from odoo.tools import SQL

from .const import REFUND_LOCK_TIMEOUT


@contextmanager
def superuser_savepoint(env):
    """A savepoint whose flushes run as superuser.

    A savepoint flushes pending changes with whichever environment of the request
    comes first: in a provider's webhook, the public user's, which may not read what
    it flushes (a transaction's currency, for its amounts).
    """
    env = env(su=True)
    env.flush_all()
    with env.cr.savepoint():
        yield
        env.flush_all()


def execute_lock(env, query):
    """Run `query`, which takes a lock (a row lock, an advisory lock), waiting for it
    at most REFUND_LOCK_TIMEOUT, after flushing the pending writes.

    Lock timeouts and serialization failures are expected under concurrency and
    retried by the request handler (`odoo.service.model.retrying`): not logged as bad
    queries.

    :param env: The environment whose cursor takes the lock.
    :param SQL query: The locking query.
    """
    env.flush_all()
    env.cr.execute(SQL("SET LOCAL lock_timeout = %s", REFUND_LOCK_TIMEOUT))
    env.cr.execute(query, log_exceptions=False)
    env.cr.execute(SQL("SET LOCAL lock_timeout TO DEFAULT"))
