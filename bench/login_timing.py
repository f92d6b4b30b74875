"""How long a failed login takes for a known account and for a name that does not exist.

The two must not differ by more than the noise (``library.accounts``: an unknown name is
still checked against a dummy Argon2id hash), or the time taken tells an attacker which
account names exist. Each login is timed alone, alternating known and unknown names (and
wrong passwords) on one library with the default hasher (64 MiB, 3 passes, 4 lanes); the
rate limit is kept out of the way by a fresh address for each try.

    python bench/login_timing.py [--tries 40]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from facesight.errors import AuthenticationError
from facesight.library.accounts import AccountService
from facesight.store.sqlite import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=40, help="logins per kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "facesight.db") as store:
        service = AccountService(store, store.audit_log())
        service.add("alice", "admin", "correct horse battery")
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for i in range(2 * args.tries + 1):
            kind = "known" if i % 2 else "unknown"
            name = "alice" if kind == "known" else f"nobody{i}"
            start = time.perf_counter()
            with contextlib.suppress(AuthenticationError):
                service.login(name, "wrong password here", address=f"10.0.{i // 250}.{i % 250}")
            if i:  # the first builds the dummy hash once
                times[kind].append((time.perf_counter() - start) * 1000)
    for kind, values in times.items():
        print(
            f"{kind:8} median {statistics.median(values):6.1f} ms"
            f"  p10 {statistics.quantiles(values, n=10)[0]:6.1f}"
            f"  p90 {statistics.quantiles(values, n=10)[-1]:6.1f}  (n={len(values)})"
        )


if __name__ == "__main__":
    main()
