"""Tests of motiflens.interpret.logos."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from motiflens.errors import ConfigError
from motiflens.motifs import Motif
from motiflens.interpret.logos import logo_heights, plot_filter_logos, plot_logo


def random_motifs(n: int, width: int, seed: int = 0, prefix: str = "filter_") -> list[Motif]:
    rng = np.random.default_rng(seed)
    return [Motif(f"{prefix}{i}", rng.dirichlet(np.full(4, 0.3), size=width).T, name=f"TF{i}")
            for i in range(n)]


def test_logo_heights_are_p_times_ic() -> None:
    ppm = np.array([[1.0, 0.25, 0.5], [0.0, 0.25, 0.5], [0.0, 0.25, 0.0], [0.0, 0.25, 0.0]])
    heights = logo_heights(ppm)
    assert np.allclose(heights, ppm * np.array([2.0, 0.0, 1.0]))
    assert np.allclose(logo_heights(ppm, scale="probability"), ppm)
    with pytest.raises(ConfigError):
        logo_heights(ppm[:3])


def test_plot_logo_draws_visible_letters_stacked() -> None:
    ax = Figure().add_subplot()
    ppm = np.array([[0.7, 0.25], [0.1, 0.25], [0.1, 0.25], [0.1, 0.25]])
    plot_logo(ax, ppm)
    (collection,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    paths = collection.get_paths()
    assert len(paths) == 4  # the uniform column has IC 0: nothing drawn
    tops = sorted(p.vertices[:, 1].max() for p in paths)
    ic = 2 + 0.7 * np.log2(0.7) + 3 * 0.1 * np.log2(0.1)
    assert tops[-1] == pytest.approx(ic, rel=1e-6)  # the A (tallest) sits on top
    assert ax.get_ylim() == (0.0, 2.0)


def test_filter_grid_with_references_and_dead(tmp_path) -> None:
    motifs = random_motifs(10, 19)
    refs = random_motifs(3, 11, seed=1, prefix="MA000")
    alive = [i != 4 for i in range(10)]
    labels = ["SP1" if i == 2 else "" for i in range(10)]
    png, pdf = tmp_path / "logos.png", tmp_path / "logos.pdf"
    fig = plot_filter_logos(motifs, labels, reference_motifs=refs, path_png=png, path_pdf=pdf,
                            ncols=4, alive=alive)
    assert len(fig.axes) == 10 + 2 * 3
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert pdf.read_bytes()[:4] == b"%PDF"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2] == "filter_2: SP1" and titles[4] == "filter_4: dead"
    assert titles[10] == "TF0 (MA0000)" and titles[11] == "TF0 (rc)"
    assert not fig.axes[4].collections  # dead: no letters
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logos.pdf", "logos.png"]


def test_grid_accepts_filter_motifs_and_scores(tmp_path) -> None:
    class Fake:
        motifs = random_motifs(3, 5)
        alive = np.array([True, False, True])

    class Score:
        def __init__(self, label: str) -> None:
            self.label = label

    fig = plot_filter_logos(Fake(), [Score("CEBPB"), Score(""), Score("MAX")], ncols=1,
                            reference_motifs=random_motifs(1, 4, prefix="M"))
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes][:3] == [
        "filter_0: CEBPB", "filter_1: dead", "filter_2: MAX"]
    with pytest.raises(ConfigError, match="labels"):
        plot_filter_logos(Fake(), ["a"])
    with pytest.raises(ConfigError, match="ncols"):
        plot_filter_logos(Fake(), ncols=0)


def test_logomaker_engine_matches_layout() -> None:
    ax = Figure().add_subplot()
    plot_logo(ax, random_motifs(1, 4)[0], engine="logomaker")
    assert ax.get_ylim() == (0.0, 2.0) and len(ax.patches) > 0


def test_wide_layers_get_a_png_and_no_stale_pdf(tmp_path):
    """A deep layer's logo grid (thousands of columns) is written as PNG only: a vector PDF of
    ~70,000 glyphs takes seconds to write and nobody reads it."""
    from motiflens.interpret.logos import PDF_MAX_COLUMNS

    rng = np.random.default_rng(0)
    width = PDF_MAX_COLUMNS // 20 + 1
    wide = [Motif(f"f{i}", rng.dirichlet(np.ones(4), size=width).T) for i in range(20)]
    png, pdf = tmp_path / "logos.png", tmp_path / "logos.pdf"
    pdf.write_bytes(b"%PDF stale")
    plot_filter_logos(wide, path_png=png, path_pdf=pdf)
    assert png.read_bytes().startswith(b"\x89PNG") and not pdf.exists()
    narrow = [Motif(f"f{i}", rng.dirichlet(np.ones(4), size=19).T) for i in range(30)]
    plot_filter_logos(narrow, path_png=png, path_pdf=pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
