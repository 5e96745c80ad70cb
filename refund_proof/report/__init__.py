from . import report_refund_proof
from . import payment_dispute_rate_report
