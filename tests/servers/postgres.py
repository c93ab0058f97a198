"""PostgreSQL: a throwaway cluster (initdb + postgres), run as an unprivileged user when we are root."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from tests.servers.process import ServerError, ServerProcess, ServerUnavailable

PREFERRED_PG_MAJOR = 15
OLDEST_PG_MAJOR = 13  # DROP DATABASE ... WITH (FORCE)
PG_TOOLS = ("initdb", "postgres", "pg_isready", "psql")
FALLBACK_OS_USER = "memlayer-pg"  # created (as root) only when Debian's `postgres` user is missing
PG_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",  # ~50 concurrent clients plus their pools
    "shared_buffers": "32MB",  # a test box, several servers side by side
    "fsync": "on",  # durability is under test: an acknowledged commit survives a kill
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "jit": "off",  # compiling queries only costs time at test sizes
}
PG_HBA = """\
# Written by tests/servers/postgres.py. Admin: the superuser over the unix socket, no password.
# Clients: any role over TCP on loopback, with its password (what a store is given as a URL).
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
"""
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_major(bindir: Path) -> int:
    """The major version of the PostgreSQL in ``bindir`` (15 for 15.18)."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"\) (\d+)", out.stdout)
    if match is None:
        raise ServerUnavailable(f"cannot read PostgreSQL's version from {out.stdout.strip()!r}")
    return int(match.group(1))


def find_postgres_bindir() -> Path:
    """PostgreSQL's server binaries: Debian's /usr/lib/postgresql/<major>/bin (15 first, else the newest),
    else ``pg_config --bindir``, else the directory of ``postgres`` on PATH."""
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates = sorted(debian, key=lambda p: (int(p.parent.name) == PREFERRED_PG_MAJOR, int(p.parent.name)),
                        reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in PG_TOOLS):
            return bindir
    raise ServerUnavailable(
        f"PostgreSQL's programs ({', '.join(PG_TOOLS)}) were not found in /usr/lib/postgresql/*/bin, "
        "`pg_config --bindir` or PATH; install them: `apt-get install postgresql` (Debian/Ubuntu)"
    )


def unprivileged_user() -> pwd.struct_passwd:
    """The user PostgreSQL runs as when we are root (it refuses to run as root): Debian's `postgres`,
    else a dedicated system user, created here when missing."""
    for name in ("postgres", FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    out = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", FALLBACK_OS_USER], capture_output=True, text=True,
    )
    try:
        return pwd.getpwnam(FALLBACK_OS_USER)  # created here, or by a concurrent run
    except KeyError:
        raise ServerUnavailable(
            f"PostgreSQL refuses to run as root and there is no `postgres` user; creating "
            f"{FALLBACK_OS_USER!r} failed: {out.stderr.strip() or out.returncode}"
        ) from None


class PostgresServer(ServerProcess):
    """A throwaway PostgreSQL cluster: initdb into a temporary directory, ``postgres`` on a free loopback
    port, its unix socket in that directory. As root it runs as an unprivileged user.

    The superuser ``postgres`` administers over the unix socket without a password; clients get
    ``dsn(dbname)`` URLs with the password of the ordinary role ``memlayer`` (LOGIN CREATEDB), checked
    by scram-sha-256, so a wrong password fails as it would in production.
    """

    name = "postgresql"
    _stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, checkpoint, exit
    user = "memlayer"

    def __init__(self, *, bindir: str | os.PathLike[str] | None = None,
                 settings: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bindir = Path(bindir) if bindir is not None else None
        self.settings = {**PG_SETTINGS, **(settings or {})}
        self.password = secrets.token_hex(12)
        self.version = ""
        self._os_user: pwd.struct_passwd | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        """A ``postgresql://`` URL for the ``memlayer`` role over TCP."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """A URL for the superuser over the unix socket (no password)."""
        return f"postgresql://postgres@/{dbname}?host={urllib.parse.quote(str(self._dir))}&port={self.port}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` owned by the ``memlayer`` role; returns its DSN."""
        self.psql(f'CREATE DATABASE "{_db_name(name)}" OWNER {self.user}')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` (if it exists), closing its open connections."""
        self.psql(f'DROP DATABASE IF EXISTS "{_db_name(name)}" WITH (FORCE)')

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run ``sql`` as the superuser; returns psql's unaligned output."""
        out = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self._dir),
             "-p", str(self.port), "-U", "postgres", "-d", dbname, "-c", sql],
            capture_output=True, text=True, env=self._env(),
        )
        if out.returncode != 0:
            raise ServerError(f"psql failed on {sql!r}: {out.stderr.strip()}")
        return out.stdout

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_postgres_bindir()
        return self._bindir

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    def _set_up(self) -> None:
        for tool in PG_TOOLS:
            if not (self.bindir / tool).is_file():
                raise ServerUnavailable(f"{self.bindir} has no {tool}: give the bindir of a PostgreSQL install")
        major = postgres_major(self.bindir)
        if major < OLDEST_PG_MAJOR:
            raise ServerUnavailable(f"PostgreSQL {major} in {self.bindir} is too old; {OLDEST_PG_MAJOR}+ needed")
        self.version = str(major)
        if os.geteuid() == 0:
            self._os_user = unprivileged_user()
            os.chown(self._dir, self._os_user.pw_uid, self._os_user.pw_gid)
        with open(self.log_path, "ab") as log:
            done = subprocess.run(
                [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self._dir,
                **self._popen_kwargs(),
            )
        if done.returncode != 0:
            raise ServerUnavailable(f"initdb failed with code {done.returncode}{self._log_tail()}")
        settings = {**self.settings, "unix_socket_directories": str(self._dir)}
        with open(self.data_dir / "postgresql.conf", "a") as conf:  # later lines win
            conf.write("\n# tests/servers/postgres.py\n")
            conf.writelines(f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n" for key, value in settings.items())
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)  # truncates in place: the owner stays

    def _after_first_start(self) -> None:
        self.version = self.psql("SHOW server_version").strip()
        self.psql(f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{self.password}'")

    def _command(self, port: int) -> list[str]:
        return [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(port)]

    def _ready(self) -> bool:
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", str(self._dir), "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-t", "2"], env=self._env(),
        )
        return probe.returncode == 0

    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"env": self._env()}
        if self._os_user is not None:
            kwargs.update(user=self._os_user.pw_uid, group=self._os_user.pw_gid, extra_groups=[])
        return kwargs

    def _env(self) -> dict[str, str]:
        """No PG* variables of the caller leak in; a locale and HOME the server user can use."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", HOME=str(self._dir))
        return env


def _db_name(name: str) -> str:
    if not _DB_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: use 1-63 lower-case letters, digits or _, not starting with a digit")
    return name
