from . import payment_refund_batch_demo
