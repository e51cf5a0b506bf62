"""Verdicts: is each number the paper's text reports consistent with ours?

One rule per kind of reported number (docs/RESULTS.md states them):

- ``mean ± sd`` (5 trials in the paper): consistent when our mean lies within 2 combined
  standard deviations, ``|ours − paper| ≤ 2·sqrt(sd_ours² + sd_paper²)`` (our sd is 0 with a
  single trial);
- a number without sd ("93 %", "none"): consistent when within 0.10;
- an "at best" / "at worst" claim about a group: the rule above applied to the best / worst
  group member's mean (and that member's sd);
- the qualitative findings: by their thresholds (:func:`evaluate_finding`), "well above"
  meaning a gap of at least 0.30.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

from motiflens.errors import ConfigError
from motiflens.tables import fmt_mean_sd

#: The per-(model, layer) metrics of a sweep summary.
METRICS = ("auroc", "aupr", "match_db", "match_gt")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
#: Tolerance for a paper number reported without a standard deviation.
NO_SD_TOLERANCE = 0.10
#: Combined standard deviations within which a mean ± sd is consistent.
N_SD = 2.0


def verdict(ours: float | None, ours_sd: float | None, paper: list[float] | None
            ) -> tuple[str, str]:
    """``(verdict, rule)``: verdict ``consistent`` / ``inconsistent`` / ``not run``."""
    if not paper:
        return "no paper number", ""
    if ours is None:
        return "not run", ""
    if len(paper) == 1:
        ok = abs(ours - paper[0]) <= NO_SD_TOLERANCE + 1e-12
        return ("consistent" if ok else "inconsistent"), f"within {NO_SD_TOLERANCE:g}"
    limit = N_SD * math.sqrt((ours_sd or 0.0) ** 2 + float(paper[1]) ** 2)
    ok = abs(ours - paper[0]) <= limit + 1e-12
    return ("consistent" if ok else "inconsistent"), f"within {N_SD:g} combined sd ({limit:.3f})"


def fidelity_rows(summary: dict[str, Any], paper: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reported number of ``paper`` (``load_paper_numbers``) beside ours, with a verdict.

    Parameters
    ----------
    summary : dict
        ``aggregate.summarize`` output.
    paper : dict
        ``registry.load_paper_numbers`` output for the sweep's experiment.
    """
    by_key = {(r["model_id"], int(r["layer"])): r for r in summary["rows"]}
    rows = []
    for model_id, layers in paper.get("rows", {}).items():
        for layer, metrics in layers.items():
            row = by_key.get((model_id, int(layer)))
            for metric, value in metrics.items():
                mean = row.get(f"{metric}_mean") if row else None
                sd = row.get(f"{metric}_sd") if row else None
                result, rule = verdict(mean, sd, list(value))
                rows.append({
                    "claim": f"{model_id} layer {layer}", "metric": metric,
                    "paper": list(value), "ours_mean": mean, "ours_sd": sd,
                    "n_trials": row["n_trials"] if row else 0, "rule": rule, "verdict": result,
                })
    for claim in paper.get("claims", []):
        layer = int(claim.get("layer", 1))
        present = [by_key[(m, layer)] for m in claim["models"]
                   if (m, layer) in by_key and by_key[(m, layer)].get(f"{claim['metric']}_mean") is not None]
        pick = max if claim.get("kind", "best") == "best" else min
        chosen = pick(present, key=lambda r: r[f"{claim['metric']}_mean"]) if present else None
        mean = chosen[f"{claim['metric']}_mean"] if chosen else None
        sd = chosen[f"{claim['metric']}_sd"] if chosen else None
        result, rule = verdict(mean, sd, list(claim.get("value") or []))
        if present and len(present) < len(claim["models"]):
            result += f" (on {len(present)} of {len(claim['models'])} models so far)"
        rows.append({
            "claim": f"{claim['text']} [{chosen['model_id'] if chosen else '–'}]",
            "metric": claim["metric"], "paper": list(claim.get("value") or []),
            "ours_mean": mean, "ours_sd": sd, "n_trials": chosen["n_trials"] if chosen else 0,
            "rule": rule, "verdict": result,
        })
    for finding in summary.get("findings", []):
        rows.append({
            "claim": finding["text"], "metric": "", "paper": [], "ours_mean": None,
            "ours_sd": None, "n_trials": None, "rule": finding["detail"],
            "verdict": finding["status"],
        })
    return rows


def paper_text(values: Sequence[float] | None) -> str:
    """A paper number as printed: ``"0.93"`` (no sd) or ``"0.847 ± 0.021"``; ``""`` for none."""
    if not values:
        return ""
    if len(values) == 1:
        return f"{float(values[0]):g}"
    return fmt_mean_sd(float(values[0]), float(values[1]), 3)


def _mean_of(means: dict, model: str, layer: int, metric: str) -> float | None:
    """The mean of ``metric`` for ``(model, layer)`` in ``means``; None when not run."""
    row = means.get((model, int(layer)))
    if row is None or not row["n_trials"]:
        return None
    return row.get(f"{metric}_mean")


def evaluate_claim(claim: dict[str, Any], means: dict) -> dict[str, Any]:
    """A paper claim about a group ("at best" / "at worst") beside the sweep's best/worst member."""
    metric, layer, kind = claim["metric"], int(claim.get("layer", 1)), claim.get("kind", "best")
    values = {m: _mean_of(means, m, layer, metric) for m in claim["models"]}
    present = {m: v for m, v in values.items() if v is not None}
    ours, which = None, ""
    if present:
        pick = max if kind == "best" else min
        which = pick(present, key=lambda m: present[m])
        ours = present[which]
    return {
        "text": claim["text"], "metric": metric, "layer": layer, "kind": kind,
        "paper": paper_text(claim.get("value")), "ours": ours, "model": which,
        "n_models": len(present), "models": list(claim["models"]),
    }


def evaluate_finding(finding: dict[str, Any], means: dict) -> dict[str, Any]:
    """Check one qualitative finding on the sweep's means.

    Two forms: ``{metric, models, op, value}`` (every listed model's mean satisfies ``op value``)
    and ``{metric, above: {model, layer}, below: [{model, layer}, ...], by}`` (the first exceeds
    every one of the others by at least ``by``).

    Returns
    -------
    dict
        ``text``, ``status`` ("holds", "does not hold", "not run", or for a finding on a list of
        models of which only some have run, "not run on all (k of n models): holds so far" /
        "... does not hold so far"), ``detail`` (the numbers).
    """
    metric = finding.get("metric")
    if metric not in METRICS:
        raise ConfigError(f"finding {finding.get('text')!r}: metric must be one of {METRICS}, got {metric!r}")
    text = str(finding.get("text", ""))
    if "models" in finding:
        op_name = finding.get("op", ">=")
        if op_name not in _OPS:
            raise ConfigError(f"finding {text!r}: op must be one of {sorted(_OPS)}, got {op_name!r}")
        threshold = float(finding["value"])
        layer = int(finding.get("layer", 1))
        values = {m: _mean_of(means, m, layer, metric) for m in finding["models"]}
        detail = ", ".join(f"{m}: {'–' if v is None else f'{v:.3f}'}" for m, v in values.items())
        present = [v for v in values.values() if v is not None]
        holds = all(_OPS[op_name](v, threshold) for v in present)
        if not present:
            status = "not run"
        elif len(present) < len(values):  # say what the models run so far show
            status = (f"not run on all ({len(present)} of {len(values)} models): "
                      f"{'holds' if holds else 'does not hold'} so far")
        else:
            status = "holds" if holds else "does not hold"
        detail = f"{detail} (need {op_name} {threshold:g})"
    elif "above" in finding:
        above = finding["above"]
        below = finding.get("below") or []
        by = float(finding.get("by", 0.0))
        a = _mean_of(means, above["model"], int(above.get("layer", 1)), metric)
        bs = [_mean_of(means, b["model"], int(b.get("layer", 1)), metric) for b in below]

        def name(ref: dict) -> str:
            return f"{ref['model']} L{int(ref.get('layer', 1))}"

        parts = [f"{name(above)}: {'–' if a is None else f'{a:.3f}'}"]
        parts += [f"{name(r)}: {'–' if v is None else f'{v:.3f}'}" for r, v in zip(below, bs)]
        if a is None or any(v is None for v in bs) or not bs:
            status = "not run"
        else:
            gap = a - max(bs)
            status = "holds" if gap >= by and gap > 0 else "does not hold"
        detail = ", ".join(parts) + f" (need a gap >= {by:g})"
    else:
        raise ConfigError(f"finding {text!r}: expected 'models' + 'op' + 'value', or 'above' + 'below'")
    return {"text": text, "metric": metric, "status": status, "detail": detail}
