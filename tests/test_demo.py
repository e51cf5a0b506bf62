"""`make demo` end to end on a tiny schedule: the authors'-code sweep subset, printed side by side."""

from __future__ import annotations

import json

from motiflens.demo import run_authors_code_demo


def test_authors_code_demo_prints_the_models_side_by_side(tmp_path, capsys):
    rows = run_authors_code_demo(tmp_path / "demo", ["CNN-25"], seed=0, n_sequences=400, epochs=1)
    out = capsys.readouterr().out
    assert set(rows) == {"CNN-25"} and 0.0 <= rows["CNN-25"]["auroc"] <= 1.0
    assert "filters matching ground truth" in out and "0.980 ± 0.027" in out
    assert rows["CNN-25"]["precision"] in ("fp32", "bf16")
    result = tmp_path / "demo/authors-code/runs/CNN-25/trial-0/result.json"
    assert result.is_file()
    config = json.loads((result.parent / "config.json").read_text())
    assert config["train_config"]["dropout_masks"] == "fast"  # the committed sweeps' masks
