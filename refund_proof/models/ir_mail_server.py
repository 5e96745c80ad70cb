"""E-mails handed to the outgoing server once, even when the database is lost just
after: a journal of what the server accepted, kept outside the database.

Odoo's mail queue (`mail.mail._send`) hands an e-mail to the SMTP server, then records
it sent and commits. When the database connection is lost in between (PostgreSQL
restarted, a worker killed at its time limit), the record is rolled back, the mail is
still outgoing, and the next run of the queue hands it over again: the customer gets
the proof twice. So each e-mail the server accepts is written to a journal in the
database's filestore (shared by every server of the database, as the attachments)
before anything else, and forgotten once the transaction that records it sent has
committed; an e-mail found in the journal is recorded sent without being handed over
again. Outside that window the journal is empty, and the mail queue behaves as Odoo's.
"""

import hashlib
import logging
import os
import time
from functools import partial

from odoo import api, models, modules
from odoo.tools import config

from ..const import SMTP_JOURNAL_KEEP

_logger = logging.getLogger(__name__)


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def send_email(self, message, *args, **kwargs):
        """Override of `base`: an e-mail the outgoing server already accepted (found
        in the journal) is not handed over again; one it accepts now is journaled
        until its record is committed (see the module's docstring)."""
        key = self._refund_proof_journal_key(message)
        if not key:
            return super().send_email(message, *args, **kwargs)
        path = os.path.join(self._refund_proof_journal_dir(), key)
        if os.path.exists(path):
            _logger.info(
                "E-mail %s was accepted by the outgoing mail server before the record "
                "of it was lost: recorded sent, not handed over again",
                message["Message-Id"],
            )
        else:
            message_id = super().send_email(message, *args, **kwargs)
            if modules.module.current_test:
                return message_id  # Odoo sent nothing (its test mode).
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="ascii") as journal:
                    journal.write(message["Message-Id"])
            except OSError as error:
                # The e-mail is sent: it must be recorded so, journal or not.
                _logger.warning(
                    "E-mail %s sent but not journaled (%s): if the record of it is "
                    "lost, Odoo's mail queue may send it again",
                    message["Message-Id"],
                    error,
                )
                return message_id
        self.env.cr.postcommit.add(partial(_forget, path))
        return message["Message-Id"]

    @api.model
    def _refund_proof_journal_key(self, message):
        """The journal's name for one e-mail to its recipients: an e-mail is handed
        over once per recipient list, so both make the key. None for a message
        without a Message-Id (nothing identifies it across two tries).

        :rtype: str or None
        """
        message_id = message["Message-Id"]
        if not message_id:
            return None
        recipients = sorted(
            address.strip().lower()
            for header in ("To", "Cc", "Bcc")
            for value in message.get_all(header, [])
            for address in str(value).split(",")
        )
        payload = "\n".join([str(message_id), *recipients])
        return hashlib.sha256(payload.encode()).hexdigest()

    @api.model
    def _refund_proof_journal_dir(self):
        return os.path.join(
            config.filestore(self.env.cr.dbname), "refund_proof_smtp_journal"
        )

    @api.autovacuum
    def _gc_refund_proof_journal(self):
        """Forget the e-mails journaled long ago: their mails were deleted before
        the queue ran again (a mail still outgoing is retried within minutes)."""
        directory = self._refund_proof_journal_dir()
        if not os.path.isdir(directory):
            return
        oldest = time.time() - SMTP_JOURNAL_KEEP.total_seconds()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.stat().st_mtime < oldest:
                    _forget(entry.path)


def _forget(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
