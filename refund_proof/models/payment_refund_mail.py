"""What a refund tells people: the customer's e-mails (refund done, reference known,
the issued proof attached) and the back office's notices (failures, outcomes to check,
refunds pending too long).

The customer's e-mails and the proof's new versions are queued by the state machine
(`_on_state_change`) and sent by the mail cron after the commit, one refund per
transaction, so that a mail or render failure never undoes a refund.
"""

import logging
import time
from datetime import timedelta

import psycopg2
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..const import (
    CUSTOMER_MAIL_RETRY_AGE_FRACTION,
    CUSTOMER_MAIL_RETRY_GIVE_UP,
    CUSTOMER_MAIL_RETRY_MAX_DELAY,
    CUSTOMER_MAIL_RETRY_MIN_DELAY,
    CUSTOMER_MAIL_RUN_SECONDS,
    INTERNAL,
)

_logger = logging.getLogger(__name__)


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    customer_mail_pending = fields.Selection(
        groups=INTERNAL,
        selection=[("done", "Refund done"), ("arn", "ARN known")],
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="E-mail to the customer waiting for the mail cron (after the refund is "
        "committed).",
    )
    pending_alert_date = fields.Datetime(
        groups=INTERNAL,
        readonly=True,
        copy=False,
        help="When the refund managers were told that this refund has been pending "
        "for too long.",
    )

    # === BUSINESS METHODS - E-MAILS === #

    def _schedule_customer_mail(self, kind):
        """Queue the proof's new version and the customer's e-mail for after the
        commit: the mail cron issues the proof and sends, so a failure there never
        undoes the refund."""
        self.sudo().proof_pending = True
        refunds = self.filtered(
            lambda r: (
                r.company_id.refund_proof_send_email
                and r.partner_id
                # The first e-mail already carries the ARN if it is not sent yet.
                and not (kind == "arn" and r.customer_mail_pending == "done")
            )
        )
        refunds.sudo().customer_mail_pending = kind
        self._trigger_mail_cron()

    def _trigger_mail_cron(self):
        """Run the mail cron soon: it issues pending proofs and sends e-mails."""
        # Browsed from the cached xmlid: env.ref() would check that it exists, one
        # query per refund for a record that is part of this module's data.
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "refund_proof.ir_cron_refund_customer_mail"
        )
        self.env["ir.cron"].browse(cron_id)._trigger()

    @api.model
    def _cron_send_customer_mails(self, limit=20):
        """Issue the new versions of proofs and send the pending customer e-mails
        (refund done, ARN known), one refund per transaction as Odoo's payment
        post-processing cron does: rendering a proof takes seconds, and a refund that
        cannot be done now stays pending for a later run. Then put back in the queue
        the e-mails the outgoing server could not be reached for, and come back while
        some wait (`_retry_customer_mails_after_smtp_failure`).

        A run stops after `limit` refunds or `CUSTOMER_MAIL_RUN_SECONDS`, and the cron
        is then triggered again at once, for a run of its own: under load, e-mails go
        out as fast as proofs render (not one batch a minute), and each run stays well
        within the cron workers' time limit (`--limit-time-real`, 120 s by default),
        which Odoo's in-run batching (`_notify_progress`, ten batches a run) would not.
        """
        cron = self.env.ref("refund_proof.ir_cron_refund_customer_mail")
        domain = [
            ("state", "=", "done"),
            "|",
            ("customer_mail_pending", "!=", False),
            ("proof_pending", "=", True),
        ]
        refunds = self.sudo().search(domain, limit=limit)
        done = 0
        retry_later = False
        deadline = time.monotonic() + CUSTOMER_MAIL_RUN_SECONDS
        for index, refund in enumerate(refunds):
            if index and time.monotonic() > deadline:
                break  # Renders are slow now (a busy machine): the rest next run.
            try:
                with self.env.cr.savepoint():
                    taken = refund._send_pending_customer_mail()
            except psycopg2.OperationalError:
                # Concurrent update of the same rows (e.g. the customer's partner): next
                # run.
                _logger.info(
                    "Proof of refund %s not e-mailed yet: concurrent update",
                    refund.name,
                )
                retry_later = True
                continue
            except Exception:  # noqa: BLE001 - logged, retried at the next run
                _logger.exception(
                    "Could not issue or e-mail the proof of refund %s", refund.name
                )
                continue
            if not taken:
                # Another transaction holds the refund (its queue job, a write of its
                # reference): next run, if it is still pending then.
                retry_later = True
                continue
            done += 1
            if not self.env.registry.in_test_mode():
                # One refund per transaction, as Odoo's own payment crons do: this
                # refund's e-mail is kept whatever happens to the next one.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        next_run = self._retry_customer_mails_after_smtp_failure()
        if retry_later:
            soon = fields.Datetime.now() + timedelta(minutes=1)
            next_run = min(next_run, soon) if next_run else soon
        if next_run:
            cron._trigger(next_run)
        if done and self.sudo().search_count(domain, limit=1):
            cron._trigger()
        # The notifications are queued: let Odoo's mail queue send them now.
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()

    def _send_pending_customer_mail(self):
        """Issue this refund's pending proof and send its pending e-mail: the work of
        the mail cron for one refund, and of its queue job where one is queued
        (refund_proof_batch). The refund's row is locked first, skipped if another
        transaction holds it: a job and the cron never both send the same e-mail,
        and each clears the pending flags in its own transaction.

        Note: self.ensure_one()

        :return: False if another transaction holds the refund (nothing done), True
            otherwise
        :rtype: bool
        """
        self.ensure_one()
        self.flush_recordset()
        # A refund changed since this transaction's snapshot raises a serialization
        # failure, expected (the cron and queue_job try again later): not logged as a
        # bad query.
        self.env.cr.execute(
            SQL(
                "SELECT id FROM payment_refund WHERE id = %s "
                "FOR NO KEY UPDATE SKIP LOCKED",
                self.id,
            ),
            log_exceptions=False,
        )
        if not self.env.cr.fetchone():
            return False
        if self.state != "done":
            return True
        if self.proof_pending:
            self._ensure_proof()
        if self.customer_mail_pending:
            self._send_customer_mail()
        return True

    def _send_customer_mail(self):
        """Post the refund e-mail (issued proof attached) to the customer, in the
        chatter.

        Note: self.ensure_one()
        """
        self.ensure_one()
        kind = self.customer_mail_pending
        template = self.env.ref(
            "refund_proof.mail_template_refund_done"
            if kind == "done"
            else "refund_proof.mail_template_refund_arn",
            raise_if_not_found=False,
        )
        if template:
            attachment_ids = []
            if self.company_id.refund_proof_attach_pdf:
                proof = self._ensure_proof()
                # Never e-mail a file changed since it was issued (raises, logged; the
                # cron leaves the e-mail pending).
                proof._get_verified_pdf()
                attachment_ids = proof.attachment_id.ids
            self._portal_ensure_token()
            self.with_context(mail_notify_force_send=False).message_post_with_source(
                template,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                email_layout_xmlid="mail.mail_notification_light",
                attachment_ids=attachment_ids,
            )
        self.customer_mail_pending = False

    @api.model
    def _retry_customer_mails_after_smtp_failure(self):
        """Put back in Odoo's mail queue the refunds' e-mails it could not hand to
        the outgoing server (no connection: every e-mail notification of the mail
        failed with type "mail_smtp"), once their retry time has come
        (`_get_customer_mail_retry_time`), as the failed-mail view's retry does. Odoo
        never tries a failed mail again by itself; mails failed otherwise (invalid
        recipient, refused message), delivered to a recipient already, or written
        more than `CUSTOMER_MAIL_RETRY_GIVE_UP` ago stay failed, for the back office.

        :return: when to look again: the next retry time, or when to check that the
            mails waiting in the queue (requeued ones included) were sent; None when
            no mail is waiting
        :rtype: datetime or None
        """
        now = fields.Datetime.now()
        # sudo: Odoo's mail queue belongs to no user; the cron only puts back what the
        # queue failed to send for want of a connection.
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", self._name),
                    ("state", "in", ("outgoing", "exception")),
                    ("create_date", ">", now - CUSTOMER_MAIL_RETRY_GIVE_UP),
                ]
            )
        )
        failed = mails.filtered(lambda mail: mail.state == "exception")
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("mail_mail_id", "in", failed.ids),
                    ("notification_type", "=", "email"),
                ]
            )
        )
        smtp_failed_ids = set(notifications.mail_mail_id.ids)
        for notification in notifications:
            if (
                notification.notification_status != "exception"
                or notification.failure_type != "mail_smtp"
            ):
                smtp_failed_ids.discard(notification.mail_mail_id.id)
        smtp_failed = failed.filtered(lambda mail: mail.id in smtp_failed_ids)
        due = smtp_failed.filtered(
            lambda mail: self._get_customer_mail_retry_time(mail, now) <= now
        )
        if due:
            due.mark_outgoing()
            _logger.info(
                "Refund e-mails back in the mail queue after a connection failure: %s",
                due.ids,
            )
        return min(
            (
                self._get_customer_mail_retry_time(mail, now)
                for mail in (mails - failed) | smtp_failed
            ),
            default=None,
        )

    @api.model
    def _get_customer_mail_retry_time(self, mail, now):
        """When to try a refund's e-mail again or look at it: a failed mail a while
        after its failure (its last write), a queued one a while after now; the while
        grows with the mail's age (`CUSTOMER_MAIL_RETRY_AGE_FRACTION` of it, between
        `CUSTOMER_MAIL_RETRY_MIN_DELAY` and `CUSTOMER_MAIL_RETRY_MAX_DELAY`).

        :param mail: a `mail.mail` of a refund, failed or queued
        :param datetime now: the current time
        :rtype: datetime
        """
        since = mail.write_date if mail.state == "exception" else now
        delay = (since - mail.create_date) * CUSTOMER_MAIL_RETRY_AGE_FRACTION
        return since + min(
            max(delay, CUSTOMER_MAIL_RETRY_MIN_DELAY), CUSTOMER_MAIL_RETRY_MAX_DELAY
        )

    @api.model
    def _cron_alert_stuck_pending(self):
        """Tell the refund managers about refunds pending for longer than their
        company's `refund_pending_alert_days`: the provider's final notification may
        never come, and a pending refund holds its amount. Once per refund."""
        now = fields.Datetime.now()
        refunds = self.sudo().search(
            [("state", "=", "pending"), ("pending_alert_date", "=", False)]
        )
        for refund in refunds:
            days = refund.company_id.refund_pending_alert_days
            since = refund.state_date or refund.request_date
            if not days or since > now - timedelta(days=days):
                continue
            refund._notify_back_office(
                refund._get_pending_alert_message((now - since).days),
                requester=False,
                mail=False,
            )
            refund.pending_alert_date = now

    def _get_pending_alert_message(self, days):
        """The refund managers' alert about this refund, pending for `days` days
        (`_cron_alert_stuck_pending`): what it waits for, and what to do.

        Note: self.ensure_one()

        :param int days: How long it has been pending.
        :rtype: str
        """
        self.ensure_one()
        return _(
            "Refund %(name)s has been pending for %(days)s days: check it with the "
            "provider, then mark it refunded or not refunded.",
            name=self.name,
            days=days,
        )

    def _notify_failure(self, decided_by=None):
        """Tell the back office that refunds failed (never the customer).

        :param recordset decided_by: The `res.users` who decided it, if a person did:
            they need no to-do about their own decision.
        """
        for refund in self:
            refund._notify_back_office(
                _("Refund %(name)s failed", name=refund.name), exclude=decided_by
            )

    def _notify_outcome_unknown(self):
        """Tell the back office that refunds need checking with the provider: the
        refund may have been made, it stays pending, its amount held."""
        for refund in self:
            refund.message_post(
                body=_(
                    "The provider did not answer (%(message)s): the refund may "
                    "have been made. It stays pending, its amount held, until the "
                    "provider reports it. Check the provider's dashboard, then "
                    "mark it refunded or not refunded.",
                    message=refund.failure_message or "",
                )
            )
            refund._notify_back_office(
                _(
                    "Refund %(name)s: outcome unknown, check with the provider",
                    name=refund.name,
                )
            )

    def _notify_back_office(self, subject, requester=True, mail=True, exclude=None):
        """An activity for the requester and the refund managers of the company (but
        `exclude`, the `res.users` who decided what is notified), and an e-mail to
        the company's failure address when set. Every value in them (customer's name,
        provider's message) is escaped.

        Note: self.ensure_one()
        """
        self.ensure_one()
        refund = self.sudo()
        company = refund.company_id
        users = self._get_refund_managers(company)
        if requester:
            users |= refund.requested_by_id.filtered(
                lambda u: u.active and not u.share and company in u.company_ids
            )
        if exclude:
            users -= exclude  # Who just decided it needs no to-do about it.
        note = escape(refund.failure_message or "")
        for user in users:
            # Queued (Odoo's mail cron sends it), not sent in the request's
            # post-commit: an SMTP or database fault then would answer the request
            # with an error although its refund is committed.
            refund.with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=user.id,
                summary=subject,
                note=note,
            )
        address = refund.company_id.refund_failure_email
        if mail and address:
            text = _(
                "%(subject)s: %(amount)s to %(customer)s. %(message)s",
                subject=subject,
                amount=refund._format_amount(),
                customer=refund.partner_id.name or "",
                message=refund.failure_message or "",
            )
            self.env["mail.mail"].sudo().create(
                {
                    "email_to": address,
                    "subject": subject,
                    "body_html": Markup("<p>%s</p>") % text,
                    "model": refund._name,
                    "res_id": refund.id,
                }
            )

    # === BUSINESS METHODS - WHAT WAS SENT === #
    # Read by the dispute's evidence pack (models/payment_dispute_evidence.py).

    def _get_customer_mails(self):
        """The e-mails of this refund to its customer in Odoo's mail queue (sent,
        waiting or failed), oldest first.

        Note: self.ensure_one()

        :rtype: recordset of `mail.mail`
        """
        self.ensure_one()
        if not self.partner_id:
            return self.env["mail.mail"]
        return (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("recipient_ids", "in", self.partner_id.ids),
                ],
                order="id",
            )
        )

    def _get_mail_sent_date(self, mail):
        """When Odoo's mail queue sent `mail` (its last write, as it marks it sent),
        or False while it is not sent."""
        return mail.write_date if mail.state == "sent" else False
