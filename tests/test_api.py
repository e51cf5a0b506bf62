"""The front door: ``import motiflens`` is cheap and offers the user's whole path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def test_every_public_name_resolves():
    import motiflens

    for name in motiflens._PUBLIC:
        assert getattr(motiflens, name) is not None, name
    assert set(motiflens._PUBLIC) <= set(dir(motiflens))


def test_import_is_lazy():
    code = ("import sys, motiflens; heavy = [m for m in ('torch', 'matplotlib', 'h5py', "
            "'sklearn') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_readme_own_model_example_in_two_imports():
    """The README's "Your own PyTorch model" block, run as printed, on a model it did not define."""
    import re
    from pathlib import Path

    import torch
    from torch import nn

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Your own PyTorch model", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    assert len(imports) <= 2, imports

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 8, 11, padding=5), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
                          nn.Flatten(), nn.Linear(8, 2))
    rng = np.random.default_rng(0)
    X_test = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (200, 100))].transpose(0, 2, 1)
    namespace = {"model": model, "X_test": X_test}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert len(namespace["fm"].motifs) == 8
    assert namespace["maps"].shape == (10, 4, 100)
