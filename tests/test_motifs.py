"""Tests of motiflens.motifs: PPM operations, Motif, MEME and JASPAR readers/writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiflens.errors import FormatError
from motiflens.motifs import (
    Motif,
    consensus,
    information_content,
    read_jaspar,
    read_meme,
    reverse_complement,
    trim_motif,
    trim_ppm,
    write_jaspar,
    write_meme,
)

SHARED_MEME = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "tomtom"
    / "jaspar2016_vertebrates.meme"
)

HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n" \
         "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n"


def _random_ppm(rng: np.random.Generator, width: int) -> np.ndarray:
    return rng.dirichlet(np.ones(4), size=width).T


def _write(tmp_path: Path, text: str, name: str = "m.meme", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


# ------------------------------------------------------------------ PPM operations
def test_reverse_complement_flips_both_axes_and_twice_is_identity():
    ppm = np.array([[1.0, 0.0, 0.1], [0.0, 0.0, 0.2], [0.0, 0.0, 0.3], [0.0, 1.0, 0.4]])
    rc = reverse_complement(ppm)
    # last column (A .1 C .2 G .3 T .4) becomes the first, complemented: A .4 C .3 G .2 T .1
    np.testing.assert_allclose(rc[:, 0], [0.4, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(rc[:, 2], [0.0, 0.0, 0.0, 1.0])  # A -> T
    assert consensus(ppm) == "ATT" and consensus(rc) == "AAT"
    np.testing.assert_array_equal(reverse_complement(rc), ppm)
    m = Motif("x", ppm, name="n", nsites=5)
    assert m.reverse_complement().reverse_complement() == m


def test_information_content_uniform_onehot_and_half():
    assert np.allclose(information_content(np.full((4, 3), 0.25)), 0.0)
    assert np.allclose(information_content(np.eye(4)), 2.0)
    half = np.array([[0.5], [0.5], [0.0], [0.0]])
    assert information_content(half)[0] == pytest.approx(1.0)
    # a pseudocount pulls information towards 0
    assert information_content(np.eye(4), pseudocount=0.25)[0] < 2.0
    assert information_content(np.eye(4), pseudocount=0.25)[0] == pytest.approx(
        2 + 0.625 * np.log2(0.625) + 3 * 0.125 * np.log2(0.125)
    )


def test_motif_properties_and_validation():
    m = Motif("MA1", np.eye(4)[:, [0, 1, 2, 3, 3]], name="X")
    assert m.width == 5 and m.consensus() == "ACGTT"
    assert m.ppm.dtype == np.float64 and m.ppm.shape == (4, 5)
    np.testing.assert_allclose(m.information_content(), 2.0)
    with pytest.raises(ValueError, match="shape"):
        Motif("bad", np.ones((3, 2)) / 3)
    with pytest.raises(ValueError, match="sums to"):
        Motif("bad", np.full((4, 2), 0.3))


def test_trim_ppm_keeps_informative_span_plus_padding():
    uniform = np.full((4, 1), 0.25)
    onehot = np.eye(4)[:, [0]]
    ppm = np.hstack([uniform] * 5 + [onehot, uniform, onehot] + [uniform] * 6)  # w = 14
    assert trim_ppm(ppm, 0.5, 3) == (2, 11)
    assert trim_ppm(ppm, 0.5, 0) == (5, 8)
    assert trim_ppm(ppm, 0.5, 10) == (0, 14)
    assert trim_ppm(np.full((4, 7), 0.25)) == (0, 7)  # nothing informative: keep all
    trimmed = trim_motif(Motif("m", ppm, name="n"), 0.5, 1)
    assert trimmed.width == 5 and (trimmed.id, trimmed.name) == ("m", "n")
    np.testing.assert_array_equal(trimmed.ppm, ppm[:, 4:9])


# ------------------------------------------------------------------ MEME
def test_meme_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    motifs = [
        Motif("MA0001.1", _random_ppm(rng, 6), name="AGL3", nsites=97),
        Motif("filter_3", _random_ppm(rng, 19)),
        Motif("m3", _random_ppm(rng, 1), name="two words"),
    ]
    path = tmp_path / "out.meme"
    write_meme(motifs, path, background=(0.3, 0.2, 0.2, 0.3))
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")
    assert "A 0.300000 C 0.200000 G 0.200000 T 0.300000" in text
    assert "letter-probability matrix: alength= 4 w= 6 nsites= 97 E= 0" in text
    back = read_meme(path)
    assert [m.id for m in back] == ["MA0001.1", "filter_3", "m3"]
    assert [m.name for m in back] == ["AGL3", "", "two_words"]
    assert [m.nsites for m in back] == [97, 20, 20]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.ppm, b.ppm, atol=2e-6)
        np.testing.assert_allclose(b.ppm.sum(axis=0), 1.0, atol=1e-12)
    assert not list(tmp_path.glob(".tmp-*"))  # atomic write left nothing behind


def test_meme_tolerant_reader(tmp_path):
    text = (
        "MEME version 5.1.0\n\nALPHABET= ACGT\n\n"  # no strands, no background
        "MOTIF    first   alt name\n"
        "letter-probability matrix: alength= 4 w= 2 nsites= 12 E= 1.5e-005\n"
        " 0.5  0.5  0.0  0.0\n"
        "0.1 0.2 0.3 0.4\n"
        "URL http://jaspar.genereg.net/matrix/MA0001.1\n\n"
        "MOTIF second\n"
        "log-odds matrix: alength= 4 w= 1\n"
        "1.0 -2.0 -2.0 0.5\n"
        "letter-probability matrix:\n"       # no key=value pairs at all
        "0.250 0.250 0.250 0.249\n"           # slightly unnormalised (0.999)
        "0.0 0.0 0.0 1.0\n\n"
        "MOTIF third\n"
        "letter-probability matrix: w=1 alength=4\n"
        "0.0 1.0 0.0 0.0"                     # last motif, no trailing newline
    )
    path = _write(tmp_path, text, newline="\r\n")
    motifs = read_meme(path)
    assert [m.id for m in motifs] == ["first", "second", "third"]
    assert motifs[0].name == "alt name" and motifs[0].nsites == 12
    np.testing.assert_allclose(motifs[0].ppm, [[0.5, 0.1], [0.5, 0.2], [0.0, 0.3], [0.0, 0.4]])
    assert motifs[1].width == 2 and motifs[1].nsites is None
    np.testing.assert_allclose(motifs[1].ppm[:, 0], [0.25 / 0.999] * 3 + [0.249 / 0.999])
    assert motifs[2].consensus() == "C"


def test_meme_counts_matrix_is_normalised_with_warning(tmp_path):
    text = HEADER + "MOTIF c\nletter-probability matrix: alength= 4 w= 2\n10 0 5 5\n0 20 0 0\n"
    with pytest.warns(UserWarning, match="counts"):
        (motif,) = read_meme(_write(tmp_path, text))
    np.testing.assert_allclose(motif.ppm[:, 0], [0.5, 0.0, 0.25, 0.25])
    assert motif.nsites == 20


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("MOTIF a\nletter-probability matrix: w= 2\n0.25 0.25 0.5\n0 0 0 1\n", 12, "3 values"),
        ("MOTIF a\nletter-probability matrix: w= 2\n0.25 0.25 x 0.5\n0 0 0 1\n", 12, "'x'"),
        ("MOTIF a\nletter-probability matrix: w= 3\n0.25 0.25 0.25 0.25\n0 0 0 1\n\n"
         "MOTIF b\n", 11, "w= 3 but 2"),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.25 0.25 0.25 0.25\n0 0 0 1\n", 13,
         "more rows than w="),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.5 0.1 0.1 0.1\n", 12, "sum to 0.8"),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.5 -0.1 0.3 0.3\n", 12, ">= 0"),
        ("MOTIF a\nletter-probability matrix: alength= 20 w= 1\n", 11, "alength= 20"),
        ("MOTIF a\nURL x\n\nMOTIF b\n", 10, "no 'letter-probability matrix:'"),
        ("MOTIF\n", 10, "without an identifier"),
    ],
)
def test_meme_errors_name_file_and_line(tmp_path, body, line, message):
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(FormatError, match=message) as info:
        read_meme(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_meme_rejects_other_alphabets_and_empty_files(tmp_path):
    path = _write(tmp_path, "MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n")
    with pytest.raises(FormatError, match="ALPHABET") as info:
        read_meme(path)
    assert str(info.value).startswith(f"{path}:3:")
    with pytest.raises(FormatError, match="no motifs"):
        read_meme(_write(tmp_path, HEADER, name="empty.meme"))
    with pytest.raises(FormatError, match="not found"):
        read_meme(tmp_path / "missing.meme")


def test_meme_reads_jaspar2016_reference_file():
    if not SHARED_MEME.is_file():
        pytest.skip(f"{SHARED_MEME} not present")
    motifs = read_meme(SHARED_MEME)
    assert len(motifs) == 519
    assert len({m.id for m in motifs}) == 519
    first = motifs[0]
    assert (first.id, first.name, first.width, first.nsites) == ("MA0004.1", "Arnt", 6, 20)
    assert first.consensus() == "CACGTG"
    for motif in motifs:
        np.testing.assert_allclose(motif.ppm.sum(axis=0), 1.0, atol=1e-12)


# ------------------------------------------------------------------ JASPAR PFM
def test_read_jaspar_formats(tmp_path):
    text = (
        ">MA0001.1 AGL3\n"
        "A  [ 0  3 79 ]\n"
        "C  [94 75  4 ]\n"
        "G  [ 1  0  3 ]\n"
        "T  [ 2 19 11 ]\n"
        "\n"
        ">raw\n"             # bare numbers, no letters or brackets, A C G T order
        "1 0\n2 0\n3 0\n4 10\n"
        ">reordered\tname with tab\n"
        "T [ 1 ]\nG [ 0 ]\nC [ 0 ]\nA [ 3 ]"
    )
    motifs = read_jaspar(_write(tmp_path, text, "m.jaspar", newline="\r\n"))
    assert [m.id for m in motifs] == ["MA0001.1", "raw", "reordered"]
    assert motifs[0].name == "AGL3" and motifs[2].name == "name with tab"
    np.testing.assert_allclose(motifs[0].ppm[:, 0], np.array([0, 94, 1, 2]) / 97)
    assert motifs[0].nsites == 97
    np.testing.assert_allclose(motifs[1].ppm, [[0.1, 0], [0.2, 0], [0.3, 0], [0.4, 1]])
    np.testing.assert_allclose(motifs[2].ppm[:, 0], [0.75, 0, 0, 0.25])


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("A [ 1 2 ]\n", 1, "before any"),
        (">a\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 ]\nT [ 1 2 ]\n", 2, "different lengths"),
        (">a\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 y ]\nT [ 1 2 ]\n", 4, "'y'"),
        (">a\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\n>b\n", 1, "3 count rows"),
        (">a\nA [ 1 0 ]\nC [ 1 0 ]\nG [ 1 0 ]\nT [ 1 0 ]\n", 2, "column 2 has no counts"),
        (">a\nA [ 1 ]\nA [ 1 ]\nG [ 1 ]\nT [ 1 ]\n", 2, "A, C, G, T once each"),
    ],
)
def test_read_jaspar_errors(tmp_path, text, line, message):
    path = _write(tmp_path, text, "bad.jaspar")
    with pytest.raises(FormatError, match=message) as info:
        read_jaspar(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_jaspar_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    motifs = [Motif("MA0002.2", _random_ppm(rng, 8), name="RUNX1", nsites=123),
              Motif("p", _random_ppm(rng, 3))]
    path = tmp_path / "out.jaspar"
    write_jaspar(motifs, path)
    assert path.read_text().startswith(">MA0002.2\tRUNX1\nA  [ ")
    back = read_jaspar(path)
    assert [(m.id, m.name, m.nsites) for m in back] == [("MA0002.2", "RUNX1", 123), ("p", "", None)]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.ppm, b.ppm, atol=1e-5)


# ------------------------------------------------------------------ duplicate IDs
def test_meme_duplicate_motif_id_names_file_second_line_and_id(tmp_path):
    block = "letter-probability matrix: alength= 4 w= 1\n0.25 0.25 0.25 0.25\n\n"
    text = HEADER + "MOTIF m1 A\n" + block + "MOTIF m2\n" + block + "MOTIF m1 B\n" + block
    path = _write(tmp_path, text, "dup.meme")
    second = text.splitlines().index("MOTIF m1 B") + 1
    with pytest.raises(FormatError) as info:
        read_meme(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{second}: duplicate motif ID 'm1'")
    assert f"first at line {text.splitlines().index('MOTIF m1 A') + 1}" in message
    assert len(read_meme(_write(tmp_path, text.replace("MOTIF m1 B", "MOTIF m3 B"),
                                "ok.meme"))) == 3


def test_jaspar_duplicate_motif_id_names_file_second_line_and_id(tmp_path):
    counts = "A [ 1 ]\nC [ 1 ]\nG [ 1 ]\nT [ 1 ]\n"
    path = _write(tmp_path, ">MA1.1 a\n" + counts + ">MA2.1 b\n" + counts + ">MA1.1 c\n" + counts,
                  "dup.jaspar")
    with pytest.raises(FormatError, match=r"duplicate motif ID 'MA1\.1' \(first at line 1\)") \
            as info:
        read_jaspar(path)
    assert str(info.value).startswith(f"{path}:11: ")
