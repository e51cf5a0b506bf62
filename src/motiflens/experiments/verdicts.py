"""Verdicts: is each number the paper's text reports consistent with ours?

One rule per kind of reported number (docs/RESULTS.md states them):

- ``mean ± sd`` (5 trials in the paper): consistent when our mean lies within 2 combined
  standard deviations, ``|ours − paper| ≤ 2·sqrt(sd_ours² + sd_paper²)`` (our sd is 0 with a
  single trial);
- a number without sd ("93 %", "none"): consistent when within 0.10;
- an "at best" / "at worst" claim about a group: the rule above applied to the best / worst
  group member's mean (and that member's sd);
- the qualitative findings: by their thresholds (``aggregate.evaluate_finding``), "well above"
  meaning a gap of at least 0.30.
"""

from __future__ import annotations

import math
from typing import Any

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
