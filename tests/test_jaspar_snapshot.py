"""JASPAR snapshots: the same motifs as pyjaspar, on machines without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from motiflens import jaspar, jaspar_pyjaspar
from motiflens.errors import ConfigError, FormatError
from motiflens.jaspar_snapshot import SNAPSHOT_ENV, read_snapshot, snapshot_releases
from motiflens.motifs import read_jaspar, write_jaspar_counts

SRC = Path(jaspar.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def snapshot_2016(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("snapshot")
    jaspar.export_snapshot("JASPAR2016", folder)
    return folder


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x.id == y.id and x.name == y.name and x.nsites == y.nsites and np.array_equal(x.ppm, y.ppm)
        for x, y in zip(a, b))


def _queries() -> dict[str, list]:
    return {
        "paper database": jaspar.paper_database(),
        "ground truth": jaspar.ground_truth_motifs(),
        "every matrix": jaspar.jaspar_database("JASPAR2016", None, None, latest=False),
        "CORE insects, all versions": jaspar.jaspar_database("JASPAR2016", "CORE", "insects",
                                                            latest=False),
        "PBM, any tax group": jaspar.load_motif_source("JASPAR2016:PBM:all"),
    }


def test_a_snapshot_gives_pyjaspars_motifs_bit_for_bit(snapshot_2016, monkeypatch):
    """Same IDs, order, names, nsites and PPMs (counts / column sum) for every query the
    package makes, including the probability-stored MA0298.1 (nsites 1)."""
    from_pyjaspar = _queries()
    monkeypatch.setenv(SNAPSHOT_ENV, str(snapshot_2016))
    assert snapshot_releases() == ["JASPAR2016"]
    from_snapshot = _queries()
    assert [len(v) for v in from_snapshot.values()] == [518, 12, 2049, 139, 208]
    for name in from_pyjaspar:
        assert _same(from_pyjaspar[name], from_snapshot[name]), name
    with pytest.raises(ConfigError, match="unknown JASPAR collection 'NOPE'.*CORE"):
        jaspar.jaspar_database("JASPAR2016", "NOPE")
    with pytest.raises(ConfigError, match="MA9999.1 is not in release JASPAR2016"):
        jaspar._by_ids("JASPAR2016", ("MA9999.1",))
    # other releases still come from pyjaspar
    assert len(jaspar.jaspar_database("JASPAR2018")) > 519


def test_a_changed_snapshot_is_refused_naming_the_file(snapshot_2016, tmp_path):
    folder = tmp_path / "edited"
    folder.mkdir()
    for path in snapshot_2016.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    text = (folder / "JASPAR2016.jaspar").read_text()
    (folder / "JASPAR2016.jaspar").write_text(text.replace("[  0  3 79", "[  1  3 79", 1))
    with pytest.raises(FormatError, match=r"JASPAR2016\.jaspar: missing or changed.*"
                                          r"motiflens jaspar-snapshot"):
        read_snapshot("JASPAR2016", folder)
    with pytest.raises(FormatError, match="no snapshot of JASPAR2018 here"):
        read_snapshot("JASPAR2018", folder)


def test_matrices_without_a_ppm_are_left_out_with_a_warning(tmp_path, monkeypatch):
    """JASPAR2022 holds two UNVALIDATED matrices with empty columns: both paths leave them
    out (pyjaspar's with a warning naming them), the snapshot records them."""
    jaspar_pyjaspar.pyjaspar_database.cache_clear()
    with pytest.warns(UserWarning, match="left out UN0498.1, UN0570.1"):
        every = jaspar.jaspar_database("JASPAR2022", None, None, latest=False)
    manifest = json.loads(jaspar.export_snapshot("JASPAR2022", tmp_path).read_text())
    assert manifest["left_out"] == ["UN0498.1", "UN0570.1"]
    monkeypatch.setenv(SNAPSHOT_ENV, str(tmp_path))
    assert _same(every, jaspar.jaspar_database("JASPAR2022", None, None, latest=False))


def test_exact_counts_read_back_bit_for_bit(tmp_path):
    counts = np.array([[1 / 3, 2.0, 0.0], [7.25, 1e-7, 3.0], [0.1, 0.2, 0.3], [12.0, 0.0, 1.0]])
    write_jaspar_counts([("M1", "name with space", counts)], tmp_path / "m.jaspar")
    motif = read_jaspar(tmp_path / "m.jaspar")[0]
    assert motif.name == "name with space"
    assert np.array_equal(motif.ppm, counts / counts.sum(axis=0))


def _run_without_pyjaspar(tmp_path: Path, code: str, env_extra: dict[str, str]
                          ) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where ``import pyjaspar`` fails, as on a GPU image."""
    blocker = tmp_path / "blocker" / "pyjaspar"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text("raise ImportError('pyjaspar is not installed')\n")
    env = {k: v for k, v in os.environ.items() if k != SNAPSHOT_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker.parent), str(SRC)])
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_without_pyjaspar_the_snapshot_serves_everything(snapshot_2016, tmp_path):
    code = ("from motiflens import jaspar\n"
            "from motiflens._io import package_versions\n"
            "print(jaspar.available_releases(), len(jaspar.load_motif_source('paper')),\n"
            "      len(jaspar.ground_truth_motifs()),\n"
            "      package_versions()['jaspar_snapshot'])\n")
    done = _run_without_pyjaspar(tmp_path, code, {SNAPSHOT_ENV: str(snapshot_2016)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['JASPAR2016']", "518", "12", str(snapshot_2016)]


def test_without_pyjaspar_or_a_snapshot_the_error_says_what_to_do(tmp_path):
    code = ("from motiflens.cli import main\n"
            "raise SystemExit(main(['tomtom', 'JASPAR2016', 'paper']))\n")
    done = _run_without_pyjaspar(tmp_path, code, {})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "pyjaspar is not installed" in lines[0] and "motiflens jaspar-snapshot" in lines[0]
    assert SNAPSHOT_ENV in lines[0]


def test_cli_writes_a_snapshot_and_says_how_to_use_it(tmp_path, capsys):
    from motiflens.cli import main

    assert main(["jaspar-snapshot", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert f"{SNAPSHOT_ENV}={(tmp_path / 's').resolve()}" in out
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "JASPAR2016.jaspar", "JASPAR2016.json", "JASPAR2016.tsv"]
    assert main(["jaspar-snapshot", "--release", "JASPAR1999", "--out", str(tmp_path)]) == 2
    assert "--release: unknown JASPAR release 'JASPAR1999'" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert snapshot_releases(tmp_path / "s") == ["JASPAR2016"]
