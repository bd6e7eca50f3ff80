"""`python -m promote_action`: the same entrypoint as the `promote-action` script."""

import sys

from promote_action.cli import main

sys.exit(main())
