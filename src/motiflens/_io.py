"""Small I/O helpers shared by every module: atomic writes, JSON/YAML records, provenance."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from motiflens._machine import machine_info


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Nothing already at ``path`` is lost or left half-written if the body raises (or the
    process is killed): the temporary file is removed, or at worst left as ``.tmp-*``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files: give the usual umask-based mode
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; it replaces ``path`` only on success.

    If the body raises, the temporary folder is removed and whatever was at ``path`` stays as
    it was (a parent folder made for it is removed again when left empty).
    """
    import shutil

    path = Path(path)
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            for folder in made:  # innermost first
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing and rename it onto ``path`` when the block succeeds."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, numpy scalars/arrays and paths into JSON-serialisable values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and (obj != obj):  # NaN -> null, JSON has no NaN
        return None
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_open(path, "w") as handle:
        json.dump(to_jsonable(obj), handle, indent=2, sort_keys=False)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a syntax error names the file and line."""
    from motiflens.errors import FormatError

    try:
        with open(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None


def write_yaml(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as YAML (block style, keys in insertion order), atomically."""
    import yaml

    with atomic_open(path, "w") as handle:
        yaml.safe_dump(to_jsonable(obj), handle, sort_keys=False, default_flow_style=False)


def git_revision(start: str | os.PathLike | None = None) -> str | None:
    """The git revision of the motiflens source tree (``+dirty`` if modified), or None."""
    where = Path(start) if start else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


#: Names a JASPAR snapshot folder (:mod:`motiflens.jaspar_snapshot` owns the files); defined
#: here, the lowest layer, because provenance records it.
JASPAR_SNAPSHOT_ENV = "MOTIFLENS_JASPAR_SNAPSHOT"


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that decide numerical results (and the JASPAR
    snapshot folder in use, if any)."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in ("motiflens", "torch", "numpy", "scipy", "h5py", "scikit-learn", "pyjaspar"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    snapshot = os.environ.get(JASPAR_SNAPSHOT_ENV, "").strip()
    if snapshot:
        versions["jaspar_snapshot"] = snapshot  # JASPAR matrices read from this folder
    return versions


def provenance(seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """A record of what produced a result: time, host, versions, git revision, seed, command."""
    record: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "git_revision": git_revision(),
        "command": " ".join(sys.argv),
        "machine": machine_info(),
    }
    if seed is not None:
        record["seed"] = int(seed)
    record.update(extra)
    return record


def check_writable(path: str | os.PathLike, flag: str) -> None:
    """Fail early, before any work, when ``path`` (a file or directory to be made) cannot be
    written: its nearest existing ancestor must be a writable directory.

    Raises
    ------
    motiflens.errors.ConfigError
        Naming the path, the reason and the CLI flag that chooses another place.
    """
    from motiflens.errors import ConfigError

    target = Path(path).expanduser().absolute()
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir() and probe != target:
        raise ConfigError(f"{target}: cannot write here ({probe} is a file, not a folder); "
                          f"choose another {flag}")
    folder = probe if probe.is_dir() else probe.parent
    try:  # a real write: os.access says yes to root on read-only file systems and /proc
        fd, name = tempfile.mkstemp(prefix=".tmp-write-check-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write here ({folder}: {exc.strerror or exc}); "
                          f"choose another {flag}") from None
