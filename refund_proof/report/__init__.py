from . import report_refund_proof
