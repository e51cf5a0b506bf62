"""The HTML report of a sweep: content, escaping, figures, and rendering in headless Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from motiflens.experiments import run_experiment
from motiflens.report.html import render_report, significant_matches, write_report

TINY = """\
name: tiny-report
description: Report <b>test</b> & "escaping" check
dataset:
  kind: synthetic
  simulation: {n_sequences: 300, seed: 2}
protocol: paper
train: {batch_size: 50, patience: null, num_threads: 1}
interpret: {mode: paper, db: JASPAR2016, gt_list: paper}
paper_numbers: deeper-layers
findings:
  - {text: "AU-ROC <script>alert(1)</script> above 0", metric: auroc, models: ["<m>"], op: ">", value: 0}
models:
  - {id: CNN-1, label: "tiny <x> & y", model: CNN-1, layers: [1, 2]}
  - {id: never-run, model: "8x19p25-16x5p4-d16"}
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    definition = root / "tiny.yaml"
    definition.write_text(TINY)
    out = root / "sweep"
    run_experiment(definition, out, trials=1, epochs=2, progress=False)
    # a second row that has no complete trial: the report must say so, not fail
    shutil.rmtree(out / "runs" / "never-run")
    return out


@pytest.fixture(scope="module")
def report(sweep) -> Path:
    return write_report(sweep)


def test_report_files(sweep, report):
    assert report == sweep / "report.html"
    for name in ("summary.tsv", "summary.md", "tf_coverage.tsv", "tf_coverage.md", "findings.tsv",
                 "findings.md", "trials.tsv", "summary.json"):
        assert (sweep / "summary" / name).is_file(), name
    figures = sweep / "figures"
    for name in ("CNN-1_training.png", "CNN-1_training.pdf", "CNN-1_layer1_logos.png",
                 "CNN-1_layer2_logos.png"):
        assert (figures / name).is_file(), name
    assert (figures / "CNN-1_training.pdf").read_bytes().startswith(b"%PDF")


def test_report_content_is_self_contained_and_escaped(sweep, report):
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # no external resources: every image is inline base64 PNG
    sources = re.findall(r'<img [^>]*src="([^"]*)"', text)
    # training curves + logos of layers 1 and 2 + the S1 Fig analogue (CNN-1 layers 1 and 2)
    assert len(sources) == 4
    assert "s1fig" in text and (sweep / "figures" / "s1fig.pdf").read_bytes().startswith(b"%PDF")
    assert "The paper&#x27;s numbers and ours" in text or "The paper's numbers and ours" in text
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert "<link" not in text and "<script" not in text and "http" not in text.split("</style>")[1].split("Generated")[0]
    # user text is escaped, never interpreted
    assert "Report &lt;b&gt;test&lt;/b&gt; &amp; &quot;escaping&quot; check" in text
    assert "tiny &lt;x&gt; &amp; y" in text and "<x>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "No complete trial yet" in text
    # the paper's numbers of the deeper-layers experiment sit beside ours for CNN-1
    assert "0.847 ± 0.021" in text and "0.240 ± 0.083" in text


def test_tomtom_table_lists_only_significant_matches(sweep, report):
    layer_dir = sweep / "runs" / "CNN-1" / "trial-0" / "interpret" / "layer1"
    rows = significant_matches(layer_dir)
    from motiflens.tables import read_tsv

    table = read_tsv(layer_dir / "filters.tsv")
    significant = [r for r in table if r["matches_database"] == "true" or r["matches_ground_truth"] == "true"]
    assert [str(r["filter"]) for r in rows] == [r["filter"] for r in significant]
    assert all(float(r["E-value"]) <= 0.1 for r in rows)
    text = report.read_text()
    assert f"Tomtom: {len(rows)} of 30 layer-1 filters have a significant match" in text
    for row in rows:
        assert html.escape(row["best match"]) in text


def test_summary_matches_results(sweep, report):
    summary = json.loads((sweep / "summary" / "summary.json").read_text())
    result = json.loads((sweep / "runs" / "CNN-1" / "trial-0" / "result.json").read_text())
    row = next(r for r in summary["rows"] if r["model_id"] == "CNN-1" and r["layer"] == 2)
    assert row["auroc_mean"] == pytest.approx(result["auroc"]) and row["auroc_sd"] is None
    assert row["paper_match_gt"] == "0.847 ± 0.021"
    never = next(r for r in summary["rows"] if r["model_id"] == "never-run")
    assert never["n_trials"] == 0 and never["auroc_mean"] is None
    assert render_report(sweep).count("<section") == 2


# ----------------------------------------------------------------------------- browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if webdriver is not None and driver_path:
        options = Options()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        options.binary_location = browser
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
        try:
            driver.get(report.resolve().as_uri())
            assert driver.title == "motiflens: tiny-report"
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
            assert len(images) == 4 and all(c and w > 100 and h > 50 for c, w, h in images), images
            rows = driver.execute_script(
                "return Array.from(document.querySelectorAll('table.results tbody tr'))"
                ".map(r => Array.from(r.cells).map(c => c.innerText))")
            assert [r[0] for r in rows] == ["tiny <x> & y", "tiny <x> & y", "never-run"]
            assert [r[1] for r in rows] == ["1", "2", "1"]
            assert rows[1][rows[1].index("0.847 ± 0.021")] == "0.847 ± 0.021"
            shown = driver.execute_script(
                "return Array.from(document.querySelectorAll('table.findings tr'))"
                ".map(r => Array.from(r.cells).map(c => c.innerText))")
            assert ["AU-ROC <script>alert(1)</script> above 0", "not run"] == shown[-1][:2]
            assert driver.execute_script("return document.scripts.length") == 0
        finally:
            driver.quit()
        return
    # no selenium: the DOM as Chromium parsed it, and a screenshot that is not blank
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          report.resolve().as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert dom.count("<tr>") >= 5 and dom.count("data:image/png;base64,") == 3
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,2400", report.resolve().as_uri()],
                   capture_output=True, timeout=60)
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert hi - lo > 100


def test_in_vivo_sweeps_get_the_in_vivo_figures_with_relevant_motifs(sweep, tmp_path):
    """A sweep on real sequences: CNN-1 layers 1 + 2 become the S2 Fig analogue (not S1), with
    each label's relevant motif (MAFK for MafK, Pou5f1::Sox2 for Oct4) underneath."""
    from motiflens.report.figures import relevant_references, write_paper_figures

    refs = relevant_references(["MafK", "Oct4", "not-a-tf"])
    assert [m.id for m in refs] == ["MA0496.1", "MA0142.1"]
    assert refs[0].name.startswith("MafK")
    written = write_paper_figures(sweep, [], ["MafK", "Oct4"], "real", "code", tmp_path,
                                  in_vivo=True)
    assert set(written) == {"s2fig"}
    assert written["s2fig"].read_bytes().startswith(b"\x89PNG")
    assert set(write_paper_figures(sweep, [], ["MafK"], "x", "code", tmp_path)) == {"s1fig"}


def test_exponential_rows_get_their_own_logo_figures(sweep, tmp_path):
    """Rows with an exponential first layer (ids <model>-exp, the activation experiments) get
    the same figures as their ReLU twins, named <figure>-exp, and records keep them."""
    import shutil

    from motiflens.experiments.records import is_record_file
    from motiflens.report.figures import write_paper_figures

    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    shutil.move(copy / "runs" / "CNN-1", copy / "runs" / "CNN-1-exp")
    written = write_paper_figures(copy, [], ["MafK", "Oct4"], "real", "code", tmp_path / "f",
                                  in_vivo=True)
    assert set(written) == {"s2fig-exp"}
    assert written["s2fig-exp"].read_bytes().startswith(b"\x89PNG")
    assert is_record_file("figures/s2fig-exp.png") and is_record_file("figures/fig2-exp.pdf")
    assert not is_record_file("figures/fig9-exp.png")


def test_pool_size_figure_draws_the_paper_only_beside_pools_that_ran(tmp_path):
    """The paper's CNN-1 number is not drawn when the sweep has no CNN-1 row (a lone marker
    at a pool with no data and no tick label); CNN-25's is."""
    from motiflens.report.figures import pool_size_figure

    rows = [{"model_id": m, "layer": 1, "n_trials": 5, "match_gt_mean": g, "match_gt_sd": 0.02,
             "match_db_mean": g, "match_db_sd": 0.02} for m, g in (("CNN-2", 0.05), ("CNN-25", 0.97))]
    fig = pool_size_figure(rows, tmp_path / "pool.png",
                           paper={"CNN-1": (0.007, 0.013), "CNN-25": (0.980, 0.027)})
    ax = fig.axes[0]
    assert len(ax.containers) == 3  # ground truth, JASPAR, the paper's CNN-25
    paper_x = [float(c.lines[0].get_xdata()[0]) for c in ax.containers[2:]]
    assert paper_x == [25.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "25"]
    assert (tmp_path / "pool.png").is_file()


def test_rows_left_out_of_the_comparison_are_named_escaped():
    """A row with a paper model's name but another architecture is named above the fidelity
    table instead of being judged by that model's numbers (user text escaped)."""
    from motiflens.report.html_sections import _fidelity_html

    paper = {"source": "", "rows": {}, "claims": [], "findings": [],
             "unlike": {"CNN-25": "model <tiny>: not the paper's CNN-25"}}
    text = _fidelity_html({"paper": paper, "rows": [], "findings": []})
    assert "Not compared with the paper" in text and "CNN-25 (model &lt;tiny&gt;" in text
