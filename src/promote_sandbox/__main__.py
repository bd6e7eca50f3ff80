"""`python -m promote_sandbox` (`promote-sandbox` after `make install`); see `command`. The fakes
are their own package: the action's wheel and image never contain them."""

from __future__ import annotations

import sys

from promote_sandbox.command import main

sys.exit(main())
