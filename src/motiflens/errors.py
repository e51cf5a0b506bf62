"""Error types. Every user-facing error is a ``MotiflensError`` whose message names the file,
the line or key, and what was expected; the CLI prints it as one line, without a traceback."""

from __future__ import annotations


class MotiflensError(Exception):
    """Base class of all errors meant for the user (bad input, bad configuration)."""


class FormatError(MotiflensError):
    """A file does not follow the format it claims (MEME, JASPAR, FASTA, BED, ...)."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}" if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class DatasetError(MotiflensError):
    """An HDF5 dataset has missing keys, mismatched shapes or invalid values."""


class ConfigError(MotiflensError):
    """A configuration value (model name, split fractions, protocol, ...) is invalid."""
