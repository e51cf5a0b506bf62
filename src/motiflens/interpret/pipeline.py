"""Interpret a trained run end to end: filters → PPMs → Tomtom → scores → logos.

``interpret_run(run_dir)`` writes, for each requested layer, into ``run_dir/interpret/layer{N}/``:

- ``filters.meme``  the PPMs of the live filters (untrimmed), MEME minimal format
- ``queries.meme``  the queries Tomtom compared (trimmed when ``trim``): ``motiflens tomtom
                    queries.meme DB`` reproduces ``tomtom.tsv``
- ``tomtom.tsv``    the in-process Tomtom report (MEME ``tomtom.tsv`` columns)
- ``filters.tsv``   one row per filter: best hit, E, q, ground-truth TF, IC, alive/dead
- ``summary.json``  match fractions, per-TF coverage, redundancy, plus the full settings
                    and provenance of this interpretation
- ``logos.png`` / ``logos.pdf``  all filters as information-content logos, labelled with
                    their significant match, the ground-truth motifs underneath
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from motiflens import _io
from motiflens.errors import ConfigError


@dataclasses.dataclass
class InterpretConfig:
    """Settings of one interpretation, saved in every ``summary.json``.

    Attributes
    ----------
    layers : tuple of int
        Convolutional layers to interpret, 1-based (1 = first Conv1d).
    mode : {"paper", "code"}
        Alignment rule (see :mod:`motiflens.interpret.filters`).
    threshold : float or None
        Activation threshold as a fraction; None = the mode's default (0.7 / 0.5).
    db : str
        Motif database: a JASPAR release name (``JASPAR2016``), ``paper`` (the paper's 518
        motifs) or a MEME/JASPAR file.
    gt_list : str
        Name of the ground-truth ID list (``paper`` or ``code``, see resources).
    trim : bool
        Trim PPMs to the columns with IC > 0.5 bits, ± 3 columns, before Tomtom (as the
        authors' code does).
    evalue_threshold : float
        A filter matches when a hit has E ≤ this (the paper: 0.1).
    distance : {"ed", "pearson"}
        Tomtom column score; ``ed`` is Tomtom's real default and so the paper's.
    n_sequences : int or None
        Scan only the first N test sequences (None = all).
    data : str or None
        Dataset whose test set is scanned (None = the run's own dataset).
    """

    layers: tuple[int, ...] = (1,)
    mode: str = "paper"
    threshold: float | None = None
    db: str = "JASPAR2016"
    gt_list: str = "paper"
    trim: bool = True
    evalue_threshold: float = 0.1
    distance: str = "ed"
    n_sequences: int | None = None
    data: str | None = None

    def __post_init__(self) -> None:
        from motiflens.interpret.filters import _check_settings

        _check_settings(self.mode, self.threshold, "auto")  # the alignment's own rule
        checks = [
            ("layers", "1-based layer numbers (1 = first convolution)",
             bool(self.layers) and all(int(x) >= 1 for x in self.layers)),
            ("n_sequences", "a positive number of test sequences",
             self.n_sequences is None or int(self.n_sequences) >= 1),
            ("distance", "'ed' or 'pearson'", self.distance in ("ed", "pearson")),
            ("evalue_threshold", "a positive E-value", float(self.evalue_threshold) > 0),
        ]
        for key, expected, ok in checks:  # (the command line adds the flag of the key)
            if not ok:
                raise ConfigError(f"{key}: expected {expected}, got {getattr(self, key)!r}")


def _test_sequences(path: Path, n_sequences: int | None
                    ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """The test set's one-hot sequences ``(N, 4, L) float32``, the label names, the attrs."""
    from motiflens.data.dataset import load_dataset

    with load_dataset(path, in_memory=False) as dataset:
        n = len(dataset.test) if n_sequences is None else min(n_sequences, len(dataset.test))
        X, _ = dataset.test.take(np.arange(n))
        return X, list(dataset.label_names), dict(dataset.attrs)


def dataset_ground_truth(label_names: Sequence[str], attrs: dict[str, Any],
                         gt_list: str = "paper") -> dict[str, list[str]]:
    """The ground truth a dataset itself defines: label -> JASPAR IDs that count as its motif.

    In order: the dataset's own relevant-motif map (``attrs["relevant_motifs"]``, e.g. the
    real-data example); else, for labels that are the paper's TFs (the synthetic benchmark, the
    DeepSEA subset), the ground-truth ID list ``gt_list``; else, for labels the committed
    relevant-motif map knows by name or alias (``resources/relevant_motifs.yaml``: a user's
    own ``MafK`` / ``Oct4`` FASTA), that list. Labels known to none have no ground truth; an
    empty result means "no ground truth": nothing is scored against it.
    """
    from motiflens.data.example import dataset_relevant_motifs, relevant_motif_ids
    from motiflens.jaspar import ground_truth_ids

    own = dataset_relevant_motifs(attrs)
    if own is not None:
        return {label: list(own[label]) for label in label_names if own.get(label)}
    paper = ground_truth_ids(gt_list)
    known = relevant_motif_ids([label for label in label_names if label not in paper])
    return {label: list(paper[label]) if label in paper else known[label]
            for label in label_names if label in paper or label in known}


def _reference_motifs(label_names: Sequence[str], gt_ids: dict[str, list[str]]) -> list:
    """Ground-truth motifs for the logo figure, when the labels are the paper's TFs."""
    from motiflens.jaspar import ground_truth_motifs

    truth = {m.name: m for m in ground_truth_motifs()}
    return [truth[name] for name in label_names if name in truth and name in gt_ids]


def _trimmed(motifs: list, trim: bool) -> list:
    from motiflens.motifs import trim_motif

    return [trim_motif(m) for m in motifs] if trim else list(motifs)


class _Stages:
    """Prints ``[prefix] stage`` lines with the time the previous stage took (stderr)."""

    def __init__(self, prefix: str, enabled: bool) -> None:
        import time

        self.prefix, self.enabled, self.clock = prefix, enabled, time.perf_counter
        self.last: tuple[str, float] | None = None

    def __call__(self, stage: str) -> None:
        if not self.enabled:
            return
        import sys

        now = self.clock()
        if self.last is not None:
            print(f"  ({self.last[0]}: {now - self.last[1]:.1f} s)", file=sys.stderr, flush=True)
        if stage != "done":
            print(f"[{self.prefix}] {stage} ...", file=sys.stderr, flush=True)
        self.last = (stage, now)


def interpret_layer(model: Any, X: np.ndarray, layer: int, config: InterpretConfig,
                    database: list, gt_ids: dict[str, list[str]], out_dir: Path,
                    reference_motifs: Sequence = (), title: str = "",
                    logos: bool = True, extra: dict[str, Any] | None = None,
                    progress: bool = False) -> dict[str, Any]:
    """Interpret one convolutional layer of ``model`` on sequences ``X: (N, 4, L)``.

    Writes the files listed in the module docstring into ``out_dir`` and returns the summary;
    ``progress`` prints each stage and its time on stderr.
    """
    step = _Stages(f"layer {layer}", progress)
    with _io.atomic_dir(out_dir) as tmp:  # a failed layer leaves its old files as they were
        summary = _interpret_layer_into(model, X, layer, config, database, gt_ids, tmp, step,
                                        reference_motifs, title, logos)
        summary.update({"out_dir": str(out_dir), **(extra or {})})
        _io.write_json(tmp / "summary.json", {
            "summary": summary, "interpret_config": config, "provenance": _io.provenance(),
        })
    return summary


def _interpret_layer_into(model: Any, X: np.ndarray, layer: int, config: InterpretConfig,
                          database: list, gt_ids: dict[str, list[str]], out_dir: Path,
                          step: _Stages, reference_motifs: Sequence, title: str, logos: bool
                          ) -> dict[str, Any]:
    """The body of :func:`interpret_layer`: every file but ``summary.json`` into ``out_dir``."""
    from motiflens.interpret.filters import filters_to_motifs
    from motiflens.interpret.logos import plot_filter_logos
    from motiflens.interpret.scoring import score_filters, summarize, write_filter_table
    from motiflens.interpret.tomtom import TomtomConfig, run_tomtom, write_tomtom_tsv
    from motiflens.motifs import write_meme

    step(f"filters -> PPMs on {X.shape[0]} sequences ({config.mode} alignment)")
    fm = filters_to_motifs(model, X, layer=layer, mode=config.mode, threshold=config.threshold)
    alive = fm.alive_motifs()
    write_meme(alive, out_dir / "filters.meme")
    tt_config = TomtomConfig(distance=config.distance, thresh=config.evalue_threshold)
    queries = _trimmed(alive, config.trim)
    write_meme(queries, out_dir / "queries.meme")  # exactly what Tomtom compared
    step(f"Tomtom: {len(queries)} live filters x {len(database)} motifs")
    result = run_tomtom(queries, database, tt_config) if alive else None
    hits = result.hits if result is not None else []
    write_tomtom_tsv(hits, out_dir / "tomtom.tsv")
    scores = score_filters(fm, hits, gt_ids, evalue_threshold=config.evalue_threshold,
                           target_names=database)
    write_filter_table(scores, out_dir / "filters.tsv")
    summary = summarize(scores, tfs=list(gt_ids))
    if not gt_ids:  # no ground truth for this dataset: nothing to score against
        for key in ("frac_match_ground_truth", "frac_match_ground_truth_alive"):
            summary[key] = None
    summary.update({
        # short aliases used by the demo, the sweeps and the reports
        "frac_match_db": summary["frac_match_database"],
        "frac_match_gt": summary["frac_match_ground_truth"],
        "n_tfs_found": summary["n_tfs_covered"],
        "n_tfs": len(summary["tfs"]),
        "tf_coverage": summary["redundancy"],
        "layer": layer,
        "window": fm.window,
        "n_sequences": int(X.shape[0]),
    })
    if logos:
        step(f"logos of {len(fm.motifs)} filters")
        plot_filter_logos(fm, labels=scores, reference_motifs=list(reference_motifs) or None,
                          path_png=out_dir / "logos.png", path_pdf=out_dir / "logos.pdf",
                          title=title or f"layer {layer}")
    step("done")
    return summary


def interpret_run(run_dir: str | Path, layers: Sequence[int] = (1,), mode: str = "paper",
                  db: str = "JASPAR2016", gt_list: str = "paper", data: str | None = None,
                  threshold: float | None = None, trim: bool = True,
                  n_sequences: int | None = None, distance: str = "ed",
                  out_dir: str | Path | None = None, logos: bool = True,
                  progress: bool = False) -> dict[int, dict]:
    """Interpret the best checkpoint of a training run directory.

    Parameters
    ----------
    run_dir : path
        A directory written by :func:`motiflens.train.train`.
    layers : sequence of int
        1-based convolutional layers.
    mode, db, gt_list, data, threshold, trim, n_sequences, distance
        See :class:`InterpretConfig`.
    out_dir : path or None
        Where the ``layer{N}/`` folders go (default ``run_dir/interpret``).
    logos : bool
        Draw ``logos.png`` / ``logos.pdf`` (the slowest step; off for quick re-interpretation).
    progress : bool
        Print each stage of each layer and its time on stderr.

    Returns
    -------
    dict
        layer -> summary (see :func:`motiflens.interpret.scoring.summarize`, plus the aliases
        ``frac_match_db``, ``frac_match_gt``, ``n_tfs_found``, ``n_tfs``, ``out_dir``).
    """
    from motiflens.jaspar import load_motif_source
    from motiflens.train import check_run_dataset, load_run, run_dataset, unfinished_reason

    run_dir = Path(run_dir)
    config = InterpretConfig(layers=tuple(int(x) for x in layers), mode=mode,
                             threshold=threshold, db=db, gt_list=gt_list, trim=trim,
                             distance=distance, n_sequences=n_sequences, data=data)
    model, spec, _ = load_run(run_dir)
    n_conv = len(getattr(spec, "conv", [])) or None
    for layer in config.layers:
        if layer < 1 or (n_conv is not None and layer > n_conv):
            raise ConfigError(f"{run_dir}: layer {layer}: expected 1..{n_conv} "
                              f"({spec.name} has {n_conv} convolutional layers)")
    data_path = run_dataset(run_dir, data)
    X, label_names, attrs = _test_sequences(data_path, n_sequences)
    check_run_dataset(spec, data_path, X.shape, len(label_names))
    database = load_motif_source(db)
    gt_ids = dataset_ground_truth(label_names, attrs, gt_list)
    references = _reference_motifs(label_names, gt_ids)
    root = Path(out_dir) if out_dir is not None else run_dir / "interpret"
    summaries = {}
    for layer in config.layers:
        summaries[layer] = interpret_layer(
            model, X, layer, config, database, gt_ids, root / f"layer{layer}",
            reference_motifs=references, title=f"{spec.name} layer {layer}", logos=logos,
            extra={"training_unfinished": unfinished_reason(run_dir)}, progress=progress,
        )
    return summaries
