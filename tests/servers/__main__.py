"""``python3 -m tests.servers prepare`` (run by .ci/run before the tests)."""

from __future__ import annotations

import os
import sys

from tests.servers.postgres import find_postgres_bindir, postgres_major, unprivileged_user
from tests.servers.process import ServerUnavailable


def main(argv: list[str]) -> int:
    """``python3 -m tests.servers prepare``: report PostgreSQL's binaries and, as root, make sure the
    unprivileged user exists. Exit status 1 (with the reason) when PostgreSQL is not installed."""
    if argv != ["prepare"]:
        print("usage: python3 -m tests.servers prepare", file=sys.stderr)
        return 2
    try:
        bindir = find_postgres_bindir()
        line = f"postgresql: PostgreSQL {postgres_major(bindir)} in {bindir}"
        if os.geteuid() == 0:
            user = unprivileged_user()
            line += f"; as root, servers run as {user.pw_name} (uid {user.pw_uid})"
    except ServerUnavailable as exc:
        print(f"postgresql: {exc}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
