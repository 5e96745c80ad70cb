from . import payment_refund_demo
