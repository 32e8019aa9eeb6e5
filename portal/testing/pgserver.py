"""Run a command with DATABASE_URL pointing at a throwaway PostgreSQL cluster.

    python -m portal.testing.pgserver -- pytest -m "not e2e"

Without PostgreSQL binaries it prints one line naming the Debian package and exits 0 (skipped),
or 1 when OPENMDMR_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import subprocess
import sys

from portal.testing.services import MissingService, PostgresServer, services_required


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m portal.testing.pgserver -- COMMAND...", file=sys.stderr)
        return 2
    try:
        server = PostgresServer.start()
    except MissingService as exc:
        print(f"SKIPPED the PostgreSQL pass: {exc}", file=sys.stderr)
        return 1 if services_required() else 0
    try:
        env = {**os.environ, "DATABASE_URL": server.url, "OPENMDMR_PG_DATADIR": str(server.datadir)}
        print(f"PostgreSQL pass: {server.url}", file=sys.stderr, flush=True)
        return subprocess.call(argv, env=env)  # noqa: S603
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
