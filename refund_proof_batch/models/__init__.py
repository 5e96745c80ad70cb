from . import payment_refund_batch
from . import payment_refund_batch_line
from . import payment_refund
from . import payment_transaction
