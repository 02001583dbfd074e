"""The schema migration as a child process: ``python -m monitor.store.migrate <parent pid>``.

Started by ``monitor.store.engine.upgrade_in_child`` so that the daemon never imports Alembic. Reads
``{"url": ..., "revision": ...}`` on stdin, logs Alembic's progress on stderr, and on failure writes
the error's message on stdout and exits 1. On Linux it asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), so a killed daemon leaves no migration running on; the transaction it had
open is rolled back by the database.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL when ``parent`` exits (Linux); exit at once if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the migration finishes on its own
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[0]))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # "setup plugin …" noise
    job = json.loads(sys.stdin.read())
    from monitor.store.engine import make_engine, upgrade

    try:
        engine = make_engine(str(job["url"]))
        try:
            upgrade(engine, str(job["revision"]))
        finally:
            engine.dispose()
    except Exception as exc:  # the parent shows it as "cannot open the database …: <message>"
        sys.stdout.write(str(exc) or type(exc).__name__)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
