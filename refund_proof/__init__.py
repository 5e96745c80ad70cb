from . import controllers
from . import models
from . import demo
from . import wizards
from . import report
from .hooks import post_init_hook
