"""Start and stop a throw-away PostgreSQL server from Debian's packages, on loopback only.

Usage:
    python scripts/pg_local.py start DIR [--port N]   # prints the URL on stdout
    python scripts/pg_local.py url DIR                # the URL of the server running in DIR
    python scripts/pg_local.py stop DIR

DIR is the cluster's data directory: created with `initdb` (superuser `agijobs`, trust
authentication, UTF8, C locale) when it holds no cluster, reused when it does, and a server
already running in it is reused as it is. The server listens on 127.0.0.1 only, at a free port
unless one is given; the URL is `postgresql://agijobs@127.0.0.1:PORT/agijobs`, and the
database `agijobs` is created when missing. The server logs to DIR/postgresql.log.

PostgreSQL refuses to run as root: under root the server binaries run as the `postgres` system
user (Debian's `postgresql` package creates it) through runuser, setpriv or su; DIR is then
owned by that user, and the directories above it are given the search (x) permission it needs
to reach DIR when they lack it.

Standard library only, so the test suite, the Makefile and CI can all use it as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "agijobs"
DATABASE = "agijobs"
SERVER_USER = "postgres"  # the system user the server runs as when we are root
LOG_NAME = "postgresql.log"
CONF_NAME = "pg_local.conf"  # rewritten at every start, included from postgresql.conf
INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"
SOCKET_PREFIX = "pg_local-"  # short socket directories made when DIR's path is too long
DEBIAN_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = "install the server with `apt-get install postgresql` (Debian/Ubuntu)"
TIMEOUT = 60  # seconds pg_ctl waits for a start or a stop
# A unix socket path is at most 107 bytes; the server adds "/.s.PGSQL.NNNNN" (15) to it.
MAX_SOCKET_DIR = 107 - len("/.s.PGSQL.65535")


class PgError(Exception):
    """A local server could not be set up, started, stopped or reached."""


class PgUnavailable(PgError):
    """The PostgreSQL server binaries (or the user to run them as) are not installed."""


@dataclass
class LocalServer:
    data_dir: Path
    port: int
    url: str

    def stop(self) -> None:
        stop(self.data_dir)


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.name.split("."))
    except ValueError:
        return (-1,)


def _is_bin_dir(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None.

    `initdb` or `pg_ctl` found in PATH wins (symlinks are followed to the real directory);
    otherwise the highest version under /usr/lib/postgresql/*/bin, where Debian puts them.
    """
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found is not None:
            candidate = Path(found).resolve().parent
            if _is_bin_dir(candidate):
                return candidate
    versions = sorted(DEBIAN_ROOT.glob("*/bin"), key=lambda p: _version_key(p.parent))
    for candidate in reversed(versions):
        if _is_bin_dir(candidate):
            return candidate
    return None


def _bin_dir_for(data_dir: Path) -> Path:
    """The binaries for data_dir: those of its cluster's major version when installed."""
    version_file = data_dir / "PG_VERSION"
    with contextlib.suppress(OSError):
        matching = DEBIAN_ROOT / version_file.read_text().strip() / "bin"
        if _is_bin_dir(matching):
            return matching
    found = find_bin_dir()
    if found is None:
        raise PgUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH nor in "
            f"{DEBIAN_ROOT}/*/bin; {INSTALL_HINT}"
        )
    return found


def _progress(message: str) -> None:
    print(f"pg_local: {message}", file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    """The environment for PostgreSQL programs: no PG* variable may redirect them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


# --- running as the server user -------------------------------------------------------------

_as_server_user: list[str] | None = None


def _is_root() -> bool:
    return os.geteuid() == 0


def _server_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PgUnavailable(
            f"running as root, and PostgreSQL refuses to: the `{SERVER_USER}` system user to run "
            f"it as does not exist; {INSTALL_HINT}, or run as an ordinary user"
        ) from None


def _server_prefix() -> list[str]:
    """The command prefix that runs a program as the server user (empty when not root)."""
    global _as_server_user
    if not _is_root():
        return []
    if _as_server_user is not None:
        return _as_server_user
    account = _server_account()
    candidates: list[list[str]] = []
    for tool, prefix in (
        ("runuser", ["-u", SERVER_USER, "--"]),
        ("setpriv", [f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]),
        ("su", ["-s", "/bin/sh", "-c", 'exec "$0" "$@"', "--", SERVER_USER]),
    ):
        path = shutil.which(
            tool, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
        )
        if path is not None:
            candidates.append([path, *prefix])
    for candidate in candidates:
        probe = subprocess.run(
            [*candidate, "true"], cwd="/", env=_env(), capture_output=True, check=False
        )
        if probe.returncode == 0:
            _as_server_user = candidate
            return candidate
    raise PgError(
        f"running as root, and none of runuser, setpriv, su could run a program as "
        f"`{SERVER_USER}`; run as an ordinary user instead"
    )


def _run_server_tool(
    bin_dir: Path, tool: str, args: Sequence[str], *, new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run one of initdb / pg_ctl as the server user; output captured, never raises on exit."""
    command = [*_server_prefix(), str(bin_dir / tool), *args]
    return subprocess.run(
        command,
        cwd="/",  # the server user may not be able to enter ours
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        start_new_session=new_session,
    )


def _give_to_server_user(path: Path) -> None:
    """Under root, make path owned by the server user (nothing otherwise)."""
    if _is_root():
        account = _server_account()
        os.chown(path, account.pw_uid, account.pw_gid)


def _grant_traverse(directory: Path) -> None:
    """Under root, let the server user search every directory down to and including directory."""
    if not _is_root():
        return
    account = _server_account()
    groups = set(os.getgrouplist(SERVER_USER, account.pw_gid))
    for path in [*reversed(directory.parents), directory]:
        info = path.stat()
        if info.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            os.chmod(path, stat.S_IMODE(info.st_mode) | bit)
            _progress(f"gave `{SERVER_USER}` search permission on {path}")


# --- the data directory ---------------------------------------------------------------------


def _has_cluster(data_dir: Path) -> bool:
    return (data_dir / "PG_VERSION").is_file()


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise starts and stops of one data directory across processes (flock on it)."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _prepare_dir(data_dir: Path) -> None:
    """Check data_dir can hold a cluster; make it 0700, the server user's, and reachable."""
    if not _has_cluster(data_dir) and any(data_dir.iterdir()):
        raise PgError(f"{data_dir} is neither empty nor a PostgreSQL data directory")
    if _is_root():
        account = _server_account()
        if data_dir.stat().st_uid != account.pw_uid:
            # A cluster made by someone else (or a new empty directory): hand it all over.
            for parent, dirs, files in os.walk(data_dir):
                for name in [*dirs, *files]:
                    os.chown(
                        Path(parent, name), account.pw_uid, account.pw_gid, follow_symlinks=False
                    )
            os.chown(data_dir, account.pw_uid, account.pw_gid)
    os.chmod(data_dir, 0o700)
    _grant_traverse(data_dir)


def _initdb(bin_dir: Path, data_dir: Path) -> None:
    _progress(f"initdb {data_dir} ({bin_dir})")
    result = _run_server_tool(
        bin_dir,
        "initdb",
        [
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
    )
    if result.returncode != 0:
        raise PgError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _conf_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _socket_dir(data_dir: Path) -> Path:
    """data_dir itself when short enough for a unix socket path, else a short private dir."""
    if len(os.fsencode(data_dir)) <= MAX_SOCKET_DIR:
        return data_dir
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:12]
    short = Path(tempfile.mkdtemp(prefix=f"{SOCKET_PREFIX}{digest}-", dir="/tmp"))
    _give_to_server_user(short)
    return short


def _is_our_socket_dir(path: Path) -> bool:
    return path.parent == Path("/tmp") and path.name.startswith(SOCKET_PREFIX)


def _write_conf(data_dir: Path, port: int, socket_dir: Path) -> None:
    settings: dict[str, str | int] = {
        "listen_addresses": "127.0.0.1",
        "port": port,
        "unix_socket_directories": str(socket_dir),
        "max_connections": 200,
        "logging_collector": "off",
    }
    text = "# Written by scripts/pg_local.py at every start; edits are overwritten.\n" + "".join(
        f"{key} = {_conf_value(value)}\n" for key, value in settings.items()
    )
    conf = data_dir / CONF_NAME
    conf.write_text(text, encoding="utf-8")
    _give_to_server_user(conf)
    main_conf = data_dir / "postgresql.conf"
    if INCLUDE_LINE not in main_conf.read_text(encoding="utf-8").splitlines():
        with main_conf.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n# scripts/pg_local.py settings (port, addresses, ...)\n{INCLUDE_LINE}\n"
            )


# --- server state ---------------------------------------------------------------------------


def _pid_file_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def _running(data_dir: Path) -> bool:
    """Whether the postmaster named in data_dir/postmaster.pid is alive (as `pg_ctl status`)."""
    lines = _pid_file_lines(data_dir)
    if not lines or not lines[0].strip().isdigit():
        return False
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    with contextlib.suppress(OSError):  # Linux: a pid reused by something else is not it
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"postgres" not in cmdline and b"postmaster" not in cmdline:
            return False
    return True


def _running_port(data_dir: Path) -> int:
    lines = _pid_file_lines(data_dir)
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, ...
    if len(lines) < 4 or not lines[3].strip().isdigit():
        raise PgError(f"cannot read the port of the server running in {data_dir}")
    return int(lines[3])


def _url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _psql(bin_dir: Path) -> Path:
    psql = bin_dir / "psql"
    if os.access(psql, os.X_OK):
        return psql
    found = shutil.which("psql")
    if found is None:
        raise PgUnavailable(
            f"psql not found beside {bin_dir / 'postgres'} nor in PATH; {INSTALL_HINT}"
        )
    return Path(found)


def _ensure_database(bin_dir: Path, port: int) -> None:
    script = (
        f"SELECT 'CREATE DATABASE {DATABASE}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec\n"
    )
    result = subprocess.run(
        [
            str(_psql(bin_dir)),
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            _url(port, "postgres"),
        ],
        input=script,
        cwd="/",
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )
    if result.returncode != 0:
        raise PgError(f"could not create database {DATABASE}: {result.stderr.strip()}")


def _log_since(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _start_server(bin_dir: Path, data_dir: Path, port: int) -> bool:
    """Start on port; True if started, False if the port was taken, PgError otherwise."""
    socket_dir = _socket_dir(data_dir)
    _write_conf(data_dir, port, socket_dir)
    log = data_dir / LOG_NAME
    offset = log.stat().st_size if log.exists() else 0
    result = _run_server_tool(
        bin_dir,
        "pg_ctl",
        ["start", "-w", "-t", str(TIMEOUT), "-D", str(data_dir), "-l", str(log)],
        new_session=True,  # a Ctrl-C meant for the caller must not stop the server
    )
    if result.returncode == 0 and _running(data_dir):
        return True
    if socket_dir != data_dir:
        shutil.rmtree(socket_dir, ignore_errors=True)
    server_log = _log_since(log, offset)
    if "Address already in use" in server_log or "could not bind" in server_log:
        return False
    raise PgError(
        f"pg_ctl start failed ({result.returncode}) for {data_dir}:\n"
        f"{result.stdout}{result.stderr}--- {log} ---\n{server_log[-4000:]}"
    )


# --- the API ----------------------------------------------------------------------------------


def start(data_dir: Path, port: int | None = None) -> LocalServer:
    """Start (or reuse) the server of data_dir; initdb first when it holds no cluster."""
    data_dir = Path(data_dir).resolve()
    began = time.monotonic()
    _bin_dir_for(data_dir)  # PgUnavailable before anything is created
    _server_prefix()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(data_dir):
        _prepare_dir(data_dir)
        bin_dir = _bin_dir_for(data_dir)
        if not _has_cluster(data_dir):
            _initdb(bin_dir, data_dir)
        if _running(data_dir):
            running = _running_port(data_dir)
            if port is not None and port != running:
                raise PgError(f"a server already runs in {data_dir} on port {running}, not {port}")
            port = running
            _progress(f"reusing the server running in {data_dir} on port {port}")
        else:
            attempts = 1 if port is not None else 5
            for _ in range(attempts):
                chosen = port if port is not None else _free_port()
                if _start_server(bin_dir, data_dir, chosen):
                    port = chosen
                    break
                _progress(f"port {chosen} was taken")
            else:
                taken = f"port {port} is in use" if port is not None else "no free port found"
                raise PgError(f"could not start a server in {data_dir}: {taken}")
            _progress(f"started {data_dir} on 127.0.0.1:{port} in {time.monotonic() - began:.1f} s")
        _ensure_database(bin_dir, port)
    return LocalServer(data_dir=data_dir, port=port, url=_url(port))


def stop(data_dir: Path) -> None:
    """Stop the server of data_dir (fast shutdown, waiting for it); nothing if none runs."""
    data_dir = Path(data_dir).resolve()
    if not _has_cluster(data_dir):
        return
    bin_dir = _bin_dir_for(data_dir)
    with _locked(data_dir):
        if not _running(data_dir):
            return
        lines = _pid_file_lines(data_dir)
        socket_dir = Path(lines[4]) if len(lines) > 4 and lines[4] else None
        began = time.monotonic()
        result = _run_server_tool(
            bin_dir, "pg_ctl", ["stop", "-m", "fast", "-w", "-t", str(TIMEOUT), "-D", str(data_dir)]
        )
        if result.returncode != 0 and _running(data_dir):
            raise PgError(f"pg_ctl stop failed for {data_dir}:\n{result.stdout}{result.stderr}")
        if socket_dir is not None and _is_our_socket_dir(socket_dir):
            shutil.rmtree(socket_dir, ignore_errors=True)
        _progress(f"stopped {data_dir} in {time.monotonic() - began:.1f} s")


def url(data_dir: Path) -> str:
    """The URL of the server running in data_dir; PgError if none runs."""
    data_dir = Path(data_dir).resolve()
    if not _has_cluster(data_dir):
        raise PgError(f"{data_dir} holds no PostgreSQL cluster")
    if not _running(data_dir):
        raise PgError(f"no server runs in {data_dir}")
    return _url(_running_port(data_dir))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pg_local.py", description="A throw-away PostgreSQL server on 127.0.0.1."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start (or reuse) DIR's server; print its URL")
    start_parser.add_argument("dir", type=Path)
    start_parser.add_argument("--port", type=int, default=None, help="default: a free port")
    commands.add_parser("stop", help="stop DIR's server").add_argument("dir", type=Path)
    commands.add_parser("url", help="print the URL of DIR's running server").add_argument(
        "dir", type=Path
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(start(args.dir, args.port).url)
        elif args.command == "stop":
            stop(args.dir)
        else:
            print(url(args.dir))
    except PgError as exc:
        print(f"pg_local: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, PgUnavailable) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
