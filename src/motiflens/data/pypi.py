"""Data files shipped inside a wheel on PyPI: fetched on request with ``pip download``, cached,
checked against a pinned SHA-256, read from the zip without installing the package.

Nothing here runs at import time; only an explicit call downloads. The cache directory is
``--cache`` (the ``cache`` argument), else ``$MOTIFLENS_CACHE``, else
``$XDG_CACHE_HOME/motiflens``, else ``~/.cache/motiflens``. A machine without access to the
index can be given an already downloaded wheel (``wheel`` / ``--wheel PATH``) or have it
copied into the cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from motiflens.errors import ConfigError, FormatError

log = logging.getLogger(__name__)

CACHE_ENV = "MOTIFLENS_CACHE"


def default_cache_dir() -> Path:
    """``$MOTIFLENS_CACHE``, else ``$XDG_CACHE_HOME/motiflens``, else ``~/.cache/motiflens``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "motiflens"


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """``cache`` if given, else :func:`default_cache_dir`."""
    return Path(cache).expanduser() if cache is not None else default_cache_dir()


def sha256_of(data: bytes | str | os.PathLike) -> str:
    """Hex SHA-256 of bytes, or of a file's content (read in 1 MiB blocks)."""
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(data, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> str:
    """The SHA-256 of ``path``; FormatError (one line) naming both digests when it differs.

    Parameters
    ----------
    path : pathlib.Path
    expected : str
        Hex digest.
    what : str
        What the file should be, for the message (e.g. ``"the janggu 0.10.2 wheel on PyPI"``).
    """
    actual = sha256_of(path)
    if actual != expected.lower():
        raise FormatError(path, f"sha256 {actual}, expected {expected} ({what}); delete the file "
                                f"and run again, or pass the right file with --wheel PATH")
    return actual


def _no_download(requirement: str, filename: str, reason: str) -> str:
    return (f"could not download {requirement} with pip ({reason}); fetch {filename} where PyPI "
            f"is reachable and pass --wheel PATH, or put it in the cache directory (--cache DIR "
            f"or ${CACHE_ENV})")


def pip_download(requirement: str, directory: Path, filename: str) -> Path:
    """Run ``python -m pip download --no-deps --only-binary=:all: REQUIREMENT -d directory``.

    Parameters
    ----------
    requirement : str
        E.g. ``"janggu==0.10.2"``.
    directory : pathlib.Path
        Where pip saves the wheel.
    filename : str
        The wheel's expected file name (for messages and to find it).

    Returns
    -------
    pathlib.Path
        The downloaded wheel.

    Raises
    ------
    ConfigError
        One line when pip fails (no network, no index) or leaves no wheel.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--retries", "1", "--timeout", "30",
           "-d", str(directory), requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(_no_download(requirement, filename,
                                       f"{type(exc).__name__}: {exc}")) from None
    path = directory / filename
    if proc.returncode != 0 or not path.is_file():
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        reason = (errors or lines or [f"pip left no {filename}"])[-1]
        if proc.returncode == 0:
            reason = f"pip left no {filename}"
        raise ConfigError(_no_download(requirement, filename, reason))
    return path


def fetch_wheel(requirement: str, filename: str, expected_sha256: str, *,
                cache: str | os.PathLike | None = None, wheel: str | os.PathLike | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """A verified wheel: ``wheel`` if given, else ``CACHE/filename``, else a pip download there.

    Parameters
    ----------
    requirement : str
        pip requirement, e.g. ``"janggu==0.10.2"``.
    filename : str
        The wheel's file name, e.g. ``"janggu-0.10.2-py2.py3-none-any.whl"``.
    expected_sha256 : str
        Hex digest the wheel must have.
    cache : path-like, optional
        Cache directory (see :func:`cache_dir`).
    wheel : path-like, optional
        An already downloaded wheel; used in place, nothing is downloaded or copied.
    progress : callable, optional
        Receives one-line messages.

    Returns
    -------
    (pathlib.Path, str)
        The wheel and its SHA-256.

    Raises
    ------
    ConfigError
        ``wheel`` missing, or pip cannot download (naming ``--wheel`` and the cache).
    FormatError
        Wrong checksum (the download is discarded, a cached or given file left as it is).
    """
    say = progress or log.info
    what = f"{filename} on PyPI"
    if wheel is not None:
        path = Path(wheel).expanduser()
        if not path.is_file():
            raise ConfigError(f"--wheel {path}: file not found (expected {filename})")
        return path, verify_sha256(path, expected_sha256, what)
    directory = cache_dir(cache)
    target = directory / filename
    if target.is_file():
        say(f"using cached {target}")
        return target, verify_sha256(target, expected_sha256, what)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-download-", dir=directory))
    try:
        say(f"downloading {requirement} with pip into {directory}")
        got = pip_download(requirement, tmp, filename)
        digest = verify_sha256(got, expected_sha256, what)
        os.replace(got, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, digest


def read_members(wheel: Path, members: Sequence[str]) -> dict[str, bytes]:
    """The bytes of ``members`` of the zip file ``wheel``.

    Raises
    ------
    FormatError
        ``wheel`` is not a zip file, or a member is missing (naming it).
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FormatError(wheel, f"not a wheel (zip) file: {exc}") from None
    with archive:
        names = set(archive.namelist())
        missing = [m for m in members if m not in names]
        if missing:
            raise FormatError(wheel, f"no member {missing[0]} in the wheel (expected "
                                     f"{', '.join(members)})")
        return {m: archive.read(m) for m in members}
