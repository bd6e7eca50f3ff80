"""`python -m promote_sandbox` (`promote-sandbox` after `make install`): the demo sandbox on a
free loopback port until SIGTERM or SIGINT. The fakes are their own package: the action's
wheel and image never contain them, so the action's CLI cannot start them."""

from __future__ import annotations

from promote_sandbox import serve_forever

serve_forever()
