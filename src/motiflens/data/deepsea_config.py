"""DeepSEA bundle constants and :class:`DeepSEAConfig`: which labels, rows and strands to keep.

The paper's 12 K562 label columns, the bundle's file/key layout and channel order, and the
validated settings of one conversion (stored as the output dataset's ``config`` attribute).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from motiflens.errors import ConfigError

#: The 12 K562 label columns of docs/PAPER.md §6 (0-based), in the paper's class order.
PAPER_COLUMNS: tuple[int, ...] = (592, 602, 344, 345, 635, 636, 349, 642, 359, 361, 661, 369)
#: Names of :data:`PAPER_COLUMNS` (STAT1 is the IFNa30-treated K562 experiment).
PAPER_LABEL_NAMES: tuple[str, ...] = ("Arid3a", "CEBPB", "FOSL1", "Gabpa", "MAFK", "MAX",
                                      "MEF2A", "NFYB", "SP1", "SRF", "STAT1", "YY1")
#: Bundle channel order A, G, C, T -> motiflens A, C, G, T.
AGCT_TO_ACGT: tuple[int, int, int, int] = (0, 2, 1, 3)
#: split -> (file, sequence key, label key).
BUNDLE_FILES: dict[str, tuple[str, str, str]] = {
    "train": ("train.mat", "trainxdata", "traindata"),
    "valid": ("valid.mat", "validxdata", "validdata"),
    "test": ("test.mat", "testxdata", "testdata"),
}
N_DEEPSEA_LABELS = 919


@dataclass
class DeepSEAConfig:
    """How a DeepSEA bundle becomes a dataset (stored as the output's ``config`` attribute).

    Attributes
    ----------
    bundle_dir : str
        Directory holding train.mat, valid.mat, test.mat.
    label_columns : list of int
        0-based columns of the 919 DeepSEA labels to keep, in output order.
    label_names : list of str
        One name per column.
    min_positive : int
        Keep rows positive for at least this many of the selected columns (1 = paper).
    strands : {"both", "forward"}
        "both" keeps every row as in the bundle (forward half, then reverse-complement half);
        "forward" keeps only the first half of each file.
    chunk_rows : int
        Rows read per chunk (train.mat reads are rounded to its HDF5 chunking).
        Memory is about ``chunk_rows * 4 * L`` bytes times ~3.
    channel_order : str
        The bundle's one-hot row order (A, G, C, T per docs/PAPER.md §6).
    """

    bundle_dir: str
    label_columns: list[int] = field(default_factory=lambda: list(PAPER_COLUMNS))
    label_names: list[str] = field(default_factory=lambda: list(PAPER_LABEL_NAMES))
    min_positive: int = 1
    strands: str = "both"
    chunk_rows: int = 50_000
    channel_order: str = "AGCT"

    def validate(self) -> None:
        """Raise ConfigError for inconsistent settings."""
        cols = list(self.label_columns)
        if not cols:
            raise ConfigError("label_columns: expected at least one column")
        if len(set(cols)) != len(cols):
            raise ConfigError(f"label_columns: duplicated columns in {cols}")
        bad = [c for c in cols if not 0 <= int(c) < N_DEEPSEA_LABELS]
        if bad:
            raise ConfigError(f"label_columns: expected 0-based columns in [0, {N_DEEPSEA_LABELS}),"
                              f" found {bad}")
        if len(self.label_names) != len(cols):
            raise ConfigError(f"label_names: expected {len(cols)} names (one per label column), "
                              f"found {len(self.label_names)}")
        if len(set(self.label_names)) != len(self.label_names):
            raise ConfigError(f"label_names: duplicated names in {list(self.label_names)}")
        if self.min_positive < 1:
            raise ConfigError(f"min_positive: expected >= 1, found {self.min_positive}")
        if self.strands not in ("both", "forward"):
            raise ConfigError(f"strands: expected 'both' or 'forward', found {self.strands!r}")
        if self.chunk_rows < 1:
            raise ConfigError(f"chunk_rows: expected >= 1, found {self.chunk_rows}")
        if sorted(self.channel_order) != sorted("ACGT") or len(self.channel_order) != 4:
            raise ConfigError(f"channel_order: expected a permutation of ACGT, "
                              f"found {self.channel_order!r}")

    @property
    def channel_index(self) -> list[int]:
        """Indices that reorder the bundle's channels to A, C, G, T."""
        return [self.channel_order.index(b) for b in "ACGT"]
