"""`python -m promote_action` (the image's entrypoint) and the `promote-action` script.

The process ends with `os._exit` once the report is published and every stream is flushed:
finalising the interpreter would only garbage-collect the heap, 0.06 to 0.13 s spent after the
result is known. Only here, never in `cli.run`, which tests call in-process.
"""

import gc
import logging
import os
import sys
from typing import NoReturn

# Imports allocate many long-lived objects and nothing to collect: no collections meanwhile.
gc.disable()

from promote_action.cli import main as run_process  # noqa: E402


def main() -> NoReturn:
    # What the imports made lives until the exit: keep the collector from re-scanning it.
    gc.freeze()
    gc.enable()
    code = run_process()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
