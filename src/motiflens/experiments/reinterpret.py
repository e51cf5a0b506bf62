"""Re-interpret a finished sweep under other interpretation settings, without retraining.

Each complete trial's best weights (``checkpoint.pt``) go through filter → PPM → Tomtom →
scores again with other settings (alignment mode, activation threshold, trimming, database,
ground-truth list). A variant named ``NAME`` writes, per trial::

    runs/<model>/trial-<k>/reinterpret/NAME/layer<N>/{filters.meme, queries.meme, tomtom.tsv,
                                                      filters.tsv, summary.json}
    runs/<model>/trial-<k>/reinterpret/NAME/result.json     the trial's result under NAME

and, for the sweep, ``summary/reinterpret/NAME/`` (the usual tables) plus
``summary/reinterpret/NAME/compare.{tsv,md}``: every model, layer and match metric under the
original settings and under NAME side by side, with the paired difference over trials and a
paired t-test (the same trials, so the same seeds, on both sides).

A variant is resumable: trials whose variant ``result.json`` exists and whose recorded settings
match are skipped.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.experiments.aggregate import (
    collect_results, load_sweep_experiment, reinterpretation_names, result_file, summarize,
    summary_dir, write_summary,
)
from motiflens.experiments.registry import InterpretSpec
from motiflens.experiments.sweep import RECORD_FORMAT
from motiflens.experiments.sweep_data import prepare_dataset, verify_dataset
from motiflens.tables import fmt_mean_sd, to_markdown, write_markdown, write_tsv

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
COMPARED = ("match_db", "match_gt")


def variant_spec(original: InterpretSpec | None, **changes: Any) -> InterpretSpec:
    """The original interpretation settings with ``changes`` (None values ignored) applied.

    Raises
    ------
    ConfigError
        Unknown setting, or a sweep that was never interpreted and no mode given.
    """
    base = original or InterpretSpec()
    valid = {f.name for f in dataclasses.fields(InterpretSpec)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ConfigError(f"reinterpret: unknown setting(s) {unknown}; valid: {sorted(valid)}")
    updates = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(base, **updates)


def reinterpret_sweep(results_dir: str | Path, name: str, data: str | Path | None = None,
                      progress: Callable[[str], None] | None = None,
                      **changes: Any) -> Path:
    """Re-interpret every complete trial of a sweep as variant ``name``; write its summaries.

    Parameters
    ----------
    results_dir : path
        A sweep directory (or committed records of one: checkpoints are needed).
    name : str
        Variant name (a directory name), e.g. ``"paper-alignment"``.
    data : path or None
        The sweep's dataset; default: the sweep's own (simulated again when absent, and
        checked against the recorded content digest).
    progress : callable or None
        Called with one line per trial.
    **changes
        ``mode``, ``threshold``, ``trim``, ``db``, ``gt_list`` (see ``InterpretSpec``).

    Returns
    -------
    Path
        The variant's summary directory.

    Raises
    ------
    ConfigError
        Bad name or setting; a variant of that name made with other settings; a trial without
        its checkpoint.
    """
    from motiflens.interpret.pipeline import interpret_run

    if not _NAME_RE.match(name):
        raise ConfigError(f"--name {name!r}: letters, digits, '.', '_', '+', '-' (it names a folder)")
    root = Path(results_dir).expanduser().resolve()
    experiment = load_sweep_experiment(root)
    spec = variant_spec(experiment.interpret, **changes)
    dataset = prepare_dataset(experiment, root, data)
    verify_dataset(root, dataset)
    settings = spec.as_kwargs()
    results = collect_results(root, experiment)
    for entry in experiment.models:
        for original in results[entry.id]:
            trial = Path(original["trial_dir"])
            done = result_file(trial, name)
            if done.is_file():
                if _io.read_json(done).get("interpret") != _io.to_jsonable(settings):
                    raise ConfigError(f"{done}: variant {name!r} was made with other settings; "
                                      "choose another --name")
                continue
            if not (trial / "checkpoint.pt").is_file():
                raise ConfigError(f"{trial}: no checkpoint.pt (the records' best weights are "
                                  "needed to re-interpret)")
            t0 = time.perf_counter()
            summaries = interpret_run(trial, layers=tuple(entry.layers), data=str(dataset),
                                      out_dir=done.parent, logos=False, **settings)
            result = {k: v for k, v in original.items() if k != "trial_dir"}
            result.update({
                "record_format": RECORD_FORMAT, "variant": name, "interpret": settings,
                "layers": {str(k): v for k, v in summaries.items()},
                "interpret_s": time.perf_counter() - t0,
                "provenance": _io.provenance(seed=original.get("seed")),
            })
            _io.write_json(done, result)
            if progress is not None:
                gt = [f"L{k} gt {v.get('frac_match_gt', 0):.3f}" for k, v in summaries.items()]
                progress(f"{entry.id} trial {original['trial']}: {', '.join(gt)}")
    write_summary(root, name)
    write_comparison(root, name)
    return summary_dir(root, name)


def _paired(original: list[float | None], variant: list[float | None]) -> dict[str, Any]:
    """Mean ± sd of the paired differences and the paired t-test's p-value."""
    pairs = [(a, b) for a, b in zip(original, variant) if a is not None and b is not None]
    out: dict[str, Any] = {"n_pairs": len(pairs), "diff_mean": None, "diff_sd": None, "p_paired_t": None}
    if not pairs:
        return out
    diffs = np.array([b - a for a, b in pairs], dtype=float)
    out["diff_mean"] = float(diffs.mean())
    if len(diffs) > 1:
        out["diff_sd"] = float(diffs.std(ddof=1))
        # Match fractions move in steps of 1 / filters: pairs that all differ by the same step
        # have no spread (up to rounding), and the t-test no p-value (not 0: undefined).
        tolerance = 1e-9 * max(1.0, float(np.abs(diffs).max()))
        if out["diff_sd"] > tolerance:
            from scipy.stats import ttest_rel

            p = float(ttest_rel([b for _, b in pairs], [a for a, _ in pairs]).pvalue)
            out["p_paired_t"] = None if math.isnan(p) else p
        else:
            out["diff_sd"] = 0.0
            out["p_paired_t"] = 1.0 if abs(out["diff_mean"]) <= tolerance else None
    return out


def compare(results_dir: str | Path, variant: str, other: str | None = None) -> list[dict[str, Any]]:
    """Rows of the side-by-side table: original (or variant ``other``) vs ``variant``.

    Trials are paired by trial number; only trials present on both sides count.
    """
    root = Path(results_dir)
    return compare_sides(summarize(root, other), summarize(root, variant))


def compare_sweeps(left_dir: str | Path, right_dir: str | Path, left_variant: str | None = None,
                   right_variant: str | None = None) -> list[dict[str, Any]]:
    """Two sweeps side by side (e.g. two fidelity arms), paired by row and trial number.

    Rows pair by id, or by the id whose seeds a row borrows (``seed_from``: the exponential
    twin ``CNN-2-exp`` of ``CNN-2``). With the same sweep seed, paired trials share initial
    weights and batch order: the paired t-test then compares the arms, not the seeds.
    """
    for root, variant, flag in ((left_dir, left_variant, "--left-variant"),
                                (right_dir, right_variant, "--right-variant")):
        known = reinterpretation_names(root)
        if variant is not None and variant not in known:
            raise ConfigError(f"{flag}: {root} has no re-interpretation {variant!r}; it has "
                              f"{', '.join(known) or 'none'} (`motiflens reinterpret` makes one)")
    return compare_sides(summarize(left_dir, left_variant), summarize(right_dir, right_variant),
                         metrics=("auroc", "match_db", "match_gt"),
                         left_pairs=_seed_sources(left_dir), right_pairs=_seed_sources(right_dir))


def _seed_sources(results_dir: str | Path) -> dict[str, str]:
    """Row id -> the row id its trial seeds derive from (itself unless ``seed_from``)."""
    experiment = load_sweep_experiment(Path(results_dir).expanduser().resolve())
    return {m.id: m.seed_from or m.id for m in experiment.models}


def compare_sides(left: dict[str, Any], right: dict[str, Any],
                  metrics: tuple[str, ...] = COMPARED, left_pairs: dict[str, str] | None = None,
                  right_pairs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Paired rows for the models and layers of ``left`` that ``right`` also has.

    ``left_pairs`` / ``right_pairs`` map a side's row ids to the ids they pair under
    (default: themselves); trials pair only when their recorded seeds are equal.
    """
    pair_of = {"a": left_pairs or {}, "b": right_pairs or {}}
    by_trial: dict[tuple, dict[str, Any]] = {}
    for side, summary in (("a", left), ("b", right)):
        for row in summary["trials"]:
            key = (pair_of[side].get(row["model_id"], row["model_id"]), row["layer"], row["trial"])
            by_trial.setdefault(key, {})[side] = row
    rows = []
    for row in left["rows"]:
        pair_id = pair_of["a"].get(row["model_id"], row["model_id"])
        for metric in metrics:
            keys = sorted(k for k in by_trial if k[:2] == (pair_id, row["layer"])
                          and {"a", "b"} <= set(by_trial[k])
                          and by_trial[k]["a"].get("seed") == by_trial[k]["b"].get("seed"))
            if not keys:
                continue
            a = [by_trial[k]["a"].get(metric) for k in keys]
            b = [by_trial[k]["b"].get(metric) for k in keys]
            paired = _paired(a, b)
            rows.append({
                "model_id": row["model_id"], "b_model_id": by_trial[keys[0]]["b"]["model_id"],
                "layer": row["layer"], "metric": metric,
                "a_mean": _mean(a), "a_sd": _sd(a), "b_mean": _mean(b), "b_sd": _sd(b), **paired,
            })
    return rows


def _clean(values: list[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None]


def _mean(values: list[float | None]) -> float | None:
    clean = _clean(values)
    return float(np.mean(clean)) if clean else None


def _sd(values: list[float | None]) -> float | None:
    clean = _clean(values)
    return float(np.std(clean, ddof=1)) if len(clean) > 1 else None


def write_comparison(results_dir: str | Path, variant: str, other: str | None = None) -> Path:
    """Write ``compare.tsv`` / ``compare.md`` into the variant's summary directory."""
    root = Path(results_dir)
    rows = compare(root, variant, other)
    note = (f"Each trial's best weights interpreted under the {other or 'original'} settings "
            f"and under `{variant}`; ")
    return write_comparison_table(rows, summary_dir(root, variant) / "compare.md",
                                  other or "original", variant, note)


def write_comparison_table(rows: list[dict[str, Any]], path: Path, left: str, right: str,
                           note: str = "", sources: dict[str, Any] | None = None) -> Path:
    """``path`` (Markdown) and the same name ``.tsv``: paired rows of :func:`compare_sides`;
    with ``sources`` (what was compared), also ``.json``: them and the provenance."""
    write_tsv(path.with_suffix(".tsv"), rows)
    if sources is not None:
        _io.write_json(path.with_suffix(".json"), {"compared": sources,
                                                   "provenance": _io.provenance()})
        note += "".join(f"{side}: `{where}`. " for side, where in sources.items())
    text = (f"{note}difference = {right} − {left}, paired by row and trial (same seed); both "
            "means ± sd are over the paired trials only (`pairs`); p: two-sided paired t-test "
            "(blank where undefined: fewer than two pairs, or every pair differs by the same "
            "amount).\n\n")
    shown = comparison_display_rows(rows, left, right)
    write_markdown(path, [("Side by side", text + to_markdown(shown))],
                   title=f"{left} vs {right}")
    return path


def comparison_display_rows(rows: list[dict[str, Any]], left: str, right: str
                            ) -> list[dict[str, Any]]:
    """Rows of :func:`compare_sides` as printed: columns model, layer, metric, ``left``,
    ``right`` (mean ± sd), paired difference, paired t-test p, pairs."""
    return [{
        "model": r["model_id"] if r.get("b_model_id", r["model_id"]) == r["model_id"]
        else f"{r['model_id']} / {r['b_model_id']}",
        "layer": r["layer"], "metric": r["metric"],
        left: fmt_mean_sd(r["a_mean"], r["a_sd"], 3), right: fmt_mean_sd(r["b_mean"], r["b_sd"], 3),
        "paired difference": fmt_mean_sd(r["diff_mean"], r["diff_sd"], 3),
        "paired t-test p": "" if r["p_paired_t"] is None else f"{r['p_paired_t']:.3g}",
        "pairs": r["n_pairs"],
    } for r in rows]
