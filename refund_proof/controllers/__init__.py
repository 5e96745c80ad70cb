from . import verify
from . import portal
from . import report
from . import payout
