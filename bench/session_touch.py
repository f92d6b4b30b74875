"""What a signed-in request's session check costs the library thread (``AccountService.session``:
it reads the session and writes its ``last_seen_s`` in one transaction, on every request).

Times ``--calls`` checks of one session on a copy of ``--library`` (``facesight library
backup``), in process: the write the issue 17 load test asked about.

Usage: python bench/session_touch.py --library DIR [--calls N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from facesight.library.backup import backup_library
from facesight.library.facade import Library

PASSWORD = "bench password, long enough"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facesight-session-") as scratch:
        copy = Path(scratch) / "lib"
        backup_library(args.library, copy)
        with Library(copy, create=False, actor="bench") as lib:
            lib.accounts.add("bench-timer", "viewer", PASSWORD)
            session = lib.accounts.login("bench-timer", PASSWORD, address="127.0.0.1")
            start = time.perf_counter()
            for _ in range(args.calls):
                lib.accounts.session(session.secret)
            each_ms = (time.perf_counter() - start) / args.calls * 1000
    print(f"session check with its last_seen write: {each_ms:.3f} ms each ({args.calls} calls)")


if __name__ == "__main__":
    main()
