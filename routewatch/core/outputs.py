"""The one door for every file a command writes (export, annotate, evidence, digest, transcribe-file, bench).

In: the path the user gave (`-o`/`--out`), the data dir and the command's own input files.  Out: an open file
that becomes the target only when the command finishes (temp file in the target's folder, then an atomic
rename). Never writes over the catalog or any file of the data dir, the command's own input (by path or inode),
a symlink or special file unless `--force` (then it writes through the existing file), nor under /dev, /proc,
/sys; never leaves its temp file behind, on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from routewatch.core.errors import Code, RouteWatchError

# A data dir's own files and folders (routewatch.core.catalog, routewatch.core.privacy, crawlers, fetch).
DATA_DIR_FILES = ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal",
                  ".routewatch.lock", ".pseudonym.key", "routewatch.toml")
DATA_DIR_FOLDERS = ("media", "snapshots")
SYSTEM_ROOTS = (Path("/dev"), Path("/proc"), Path("/sys"))
SQLITE_MAGIC = b"SQLite format 3\x00"


class Terminated(SystemExit):
    """SIGTERM (or SIGHUP) turned into an exception so `finally` blocks run; exits 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """While inside: SIGTERM / SIGHUP raise `Terminated` in the main thread (SIGINT already raises
    KeyboardInterrupt). Handlers someone else installed are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: dict[int, Any] = {}

    def _raise(signum: int, _frame: Any) -> None:
        raise Terminated(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        prev = signal.getsignal(sig)
        if prev in (signal.SIG_DFL, None):
            installed[sig] = prev
            signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, prev in installed.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)


@dataclass(frozen=True)
class OutputTarget:
    """Where the bytes go: `path` (the real file) and whether to write through it instead of renaming."""

    path: Path
    through: bool
    fifo: bool = False


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "a special file"


def _stat(path: Path, *, follow: bool = True) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise RouteWatchError(Code.E916, f"cannot check output {path}: {e.strerror or e}") from e


def _protected(data_dir: Path | None) -> tuple[list[Path], list[Path]]:
    """The data dir's files and folders, as real paths (a symlinked data dir counts by its target)."""
    if data_dir is None:
        return [], []
    real = _real(data_dir)
    return [real / n for n in DATA_DIR_FILES], [real / n for n in DATA_DIR_FOLDERS]


def _same_inode(st: os.stat_result, paths: Iterable[Path]) -> Path | None:
    for p in paths:
        other = _stat(p)
        if other is not None and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return p
    return None


def _linked_data_file(st: os.stat_result, folders: list[Path]) -> Path | None:
    """A hard link to a file under media/ or snapshots/ (looked for only when the target has links)."""
    if st.st_nlink < 2:
        return None
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            hit = _same_inode(st, (Path(root) / f for f in files))
            if hit:
                return hit
    return None


def _link_chain(path: Path) -> list[Path]:
    """`path` and every path its symlinks lead through (a link to /dev/stdout passes /dev, whatever the
    final file is)."""
    chain = [path]
    cur = path
    for _ in range(40):
        try:
            nxt = os.readlink(cur)
        except OSError:
            break
        cur = Path(os.path.normpath(cur.parent / nxt))
        chain.append(cur)
    for p in list(chain):
        chain.append(Path(os.path.realpath(p.parent)) / p.name)
    return chain


def _refuse_system(given: Path, real: Path) -> None:
    for p in [*_link_chain(given), real]:
        for root in SYSTEM_ROOTS:
            if _under(p, root):
                raise RouteWatchError(Code.E915, f"refusing to write {given}: it leads to {p}, under {root} "
                                      "(give a regular file path)")


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def check_output(path: str | Path, *, data_dir: str | Path | None = None, inputs: Iterable[str | Path] = (),
                 force: bool = False) -> OutputTarget:
    """Decide whether `path` may be written, and how; raises E913/E914/E915/E916 with the reason."""
    given = Path(os.path.abspath(os.fsdecode(path)))
    real = _real(given)
    _refuse_system(given, real)
    link = _stat(given, follow=False)
    is_link = link is not None and stat.S_ISLNK(link.st_mode)
    try:
        st = _stat(given)
    except RouteWatchError:
        if not is_link:
            raise
        st = None  # a symlink loop or a link into an unreadable place: refused below as a symlink
    if is_link and not force:
        raise RouteWatchError(Code.E915, f"refusing to write {given}: it is a symlink to {real} "
                              "(pass --force to write through it)")
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise RouteWatchError(Code.E915, f"refusing to write {given}: it is a directory (give a file path)")
    special = st is not None and not stat.S_ISREG(st.st_mode)
    if special and not force:
        raise RouteWatchError(Code.E915, f"refusing to write {given}: it is {_kind(st.st_mode)} "  # type: ignore[union-attr]
                              "(pass --force to write into it)")
    files, folders = _protected(Path(data_dir) if data_dir is not None else None)
    for p in files:
        if real == p:
            raise RouteWatchError(Code.E913, f"refusing to write {given}: it is the data dir's {p.name}")
    for d in folders:
        if _under(real, d):
            raise RouteWatchError(Code.E913, f"refusing to write {given}: it is inside the data dir's {d.name}/")
    if st is not None:
        hit = _same_inode(st, files) or _linked_data_file(st, folders)
        if hit:
            raise RouteWatchError(Code.E913, f"refusing to write {given}: it is the same file as {hit}")
    for inp in inputs:
        ip = Path(os.fsdecode(inp))
        ist = _stat(ip)
        if _real(ip) == real or (st is not None and ist is not None
                                 and (ist.st_dev, ist.st_ino) == (st.st_dev, st.st_ino)):
            raise RouteWatchError(Code.E914, f"refusing to write {given}: it is this command's input {ip} "
                                  "(choose another output file)")
    if st is not None and stat.S_ISREG(st.st_mode) and not force and _is_sqlite(real):
        raise RouteWatchError(Code.E913, f"refusing to write {given}: it is an SQLite database "
                              "(a catalog?); pass --force to overwrite it")
    fifo = st is not None and stat.S_ISFIFO(st.st_mode)
    return OutputTarget(path=real, through=bool(is_link or special), fifo=fifo)


def _open_through(target: OutputTarget, mode: str, encoding: str | None, newline: str | None) -> IO[Any]:
    flags = os.O_WRONLY | os.O_TRUNC | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if target.fifo:
        flags |= os.O_NONBLOCK  # no reader → ENXIO at once instead of waiting for ever
    try:
        fd = os.open(target.path, flags)
    except OSError as e:
        why = "nobody reads the FIFO" if e.errno == errno.ENXIO else (e.strerror or str(e))
        raise RouteWatchError(Code.E916, f"cannot write {target.path}: {why}") from e
    if target.fifo:
        os.set_blocking(fd, True)
    return os.fdopen(fd, mode, encoding=encoding, newline=newline) if "b" not in mode else os.fdopen(fd, mode)


def _final_mode(existing: Path) -> int:
    st = _stat(existing)
    if st is not None:
        return stat.S_IMODE(st.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def open_output(path: str | Path, mode: str = "w", *, data_dir: str | Path | None = None,
                inputs: Iterable[str | Path] = (), force: bool = False, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """An open file for `path` ("w" text or "wb" bytes); the target appears whole when the block ends
    without an error, and is left as it was otherwise."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    enc = None if "b" in mode else encoding
    target = check_output(path, data_dir=data_dir, inputs=inputs, force=force)
    with signals_as_exceptions():
        if target.through:
            f = _open_through(target, mode, enc, newline)
            try:
                with f:
                    yield f
            except OSError as e:
                raise RouteWatchError(Code.E916, f"writing {target.path} failed: {e.strerror or e}") from e
            return
        tmp: str | None = None
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.path.name[:100]}.", suffix=".tmp", dir=target.path.parent)
            f = os.fdopen(fd, mode, encoding=enc, newline=newline) if enc else os.fdopen(fd, mode)
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, _final_mode(target.path))
            os.replace(tmp, target.path)
            tmp = None
        except OSError as e:
            raise RouteWatchError(Code.E916, f"writing {target.path} failed: {e.strerror or e}") from e
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def write_output(path: str | Path, data: str | bytes, **kw: Any) -> Path:
    """Write all of `data` to `path` through `open_output`; returns the path written."""
    with open_output(path, "wb" if isinstance(data, bytes) else "w", **kw) as f:
        f.write(data)
    return Path(path)


def check_output_dir(path: str | Path, *, data_dir: str | Path | None = None) -> Path:
    """A folder for several outputs (digest): refused when it is a file, under /dev, /proc, /sys or inside the
    data dir's own folders; created when missing."""
    given = Path(os.path.abspath(os.fsdecode(path)))
    real = _real(given)
    _refuse_system(given, real)
    st = _stat(given)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise RouteWatchError(Code.E915, f"refusing to write into {given}: it is not a directory")
    files, folders = _protected(Path(data_dir) if data_dir is not None else None)
    for d in folders:
        if _under(real, d):
            raise RouteWatchError(Code.E913, f"refusing to write into {given}: it is inside the data dir's {d.name}/")
    try:
        real.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RouteWatchError(Code.E916, f"cannot create {given}: {e.strerror or e}") from e
    return given
