from . import verify
from . import portal
