"""18.0.1.1.0: refunds issued without approval are counted in their requester's daily
limit by `limit_user_id`/`limit_date`; a refund's current state has a date."""


def migrate(cr, version):
    cr.execute(
        """
        UPDATE payment_refund
           SET limit_user_id = requested_by_id,
               limit_date = request_date
         WHERE approved_by_id IS NULL
           AND requested_by_id IS NOT NULL
           AND origin != 'provider'
           AND state IN ('draft', 'pending', 'done')
        """
    )
    cr.execute(
        "UPDATE payment_refund SET state_date = write_date WHERE state_date IS NULL"
    )
