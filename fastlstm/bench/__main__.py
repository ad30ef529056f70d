"""``python -m fastlstm.bench``."""

import sys

from .cli import main

sys.exit(main())
