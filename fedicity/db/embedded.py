"""A private PostgreSQL in the instance's data directory, for when no database URL is given.

The server comes from the `pgserver` wheel, so a fresh machine needs no database set-up. It listens
on a Unix socket only (no TCP port to collide with), keeps its files in `<data_dir>/postgres`, and
is stopped by `stop()` when the process that started it is the last one using it.
"""

from __future__ import annotations

import logging
import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE_NAME = "fedicity"
_log = logging.getLogger(__name__)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started."""


@dataclass
class EmbeddedPostgres:
    """A handle on the private server; `dsn` points at the instance's database."""

    pgdata: Path
    dsn: str
    _server: Any

    def stop(self) -> None:
        """Stop the server unless another process still uses it."""
        self._server.cleanup()


def start(data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
    """Start (or attach to) the private server and make sure `database` exists."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "postgres").resolve()
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - pgserver is a hard dependency
            raise EmbeddedPostgresError(
                "the embedded PostgreSQL needs the pgserver package; "
                "install it or set FEDICITY_DATABASE_URL"
            ) from exc
        try:
            server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
            log_file = pgdata / "log"
            detail = log_file.read_text()[-2000:] if log_file.exists() else str(exc)
            raise EmbeddedPostgresError(
                f"could not start PostgreSQL in {pgdata}: {detail}"
            ) from exc
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise EmbeddedPostgresError(f"not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        _log.info("created database %s in %s", database, pgdata)
    return EmbeddedPostgres(pgdata=pgdata, dsn=server.get_uri(database), _server=server)
