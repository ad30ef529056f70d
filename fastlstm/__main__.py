"""``python -m fastlstm``: the same as the ``fastlstm`` console script."""

from fastlstm.cli import main

raise SystemExit(main())
