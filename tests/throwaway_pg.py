"""A throwaway PostgreSQL cluster for tests and benchmarks (initdb + pg_ctl, trust auth, loopback only).

    with ThrowawayPostgres() as pg:
        print(pg.url("nngpt_test"))    # postgresql+psycopg2://postgres@127.0.0.1:PORT/nngpt_test
        pg.restart()
        url = pg.create_user_database("alice", "s3cret", "alice_db")   # password checked (scram-sha-256)

Test and benchmark code only (tests/conftest.py, bench/novelty.py, bench/scale.py); the nngpt package
never imports it.

The server binaries come from PATH or `pg_config --bindir` or /usr/lib/postgresql/*/bin.
PostgreSQL refuses to run as root, so when we are root the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from nngpt_core.errors import NngptError

PG_USER = "postgres"


def find_pg_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl, or None when the PostgreSQL server is not installed."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def create_role_and_database(admin: dict, user: str, password: str, database: str) -> None:
    """As the admin connection (psycopg2.connect keywords) creates it: a login role with a password, its database."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(**admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))
        cur.execute("SET password_encryption = 'scram-sha-256'")
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(user)), (password,))
        cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))
    conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """Owns a temporary data directory and a server on 127.0.0.1; `stop()` removes both."""

    def __init__(self, port: int | None = None):
        bindir = find_pg_bindir()
        if bindir is None:
            raise NngptError("PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package")
        self.bindir = bindir
        self.port = port or _free_port()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="nngpt-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self.logfile = self.root / "server.log"
        self.sockdir.mkdir()
        if self.as_root:
            shutil.chown(self.root, PG_USER)
            shutil.chown(self.sockdir, PG_USER)
            os.chmod(self.root, 0o755)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd=self.root)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-U", PG_USER, "--auth=trust", "--no-sync", "-E", "UTF8")
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.sockdir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
                "shared_buffers = 128MB\n"
            )

    def start(self) -> None:
        if not self.datadir.exists():
            self.init()
        result = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise NngptError(f"PostgreSQL failed to start: {result.stderr.strip()} {log}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def create_user_database(self, user: str, password: str, database: str) -> str:
        """A role that must log in with `password` (scram-sha-256 over TCP) and a database it owns; its URL."""
        create_role_and_database(dict(host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres"),
                                 user, password, database)
        hba = self.datadir / "pg_hba.conf"
        rule = f"host all {user} 127.0.0.1/32 scram-sha-256\n"
        text = hba.read_text()
        if rule not in text:
            hba.write_text(rule + text)  # the first matching line wins: before the trust lines
            self._run("pg_ctl", "-D", str(self.datadir), "reload")
        return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
