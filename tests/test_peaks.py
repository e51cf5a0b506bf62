"""Genome + peaks -> dataset, checked against a brute-force per-base computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiflens.data.dataset import load_dataset
from motiflens.data.encoding import decode
from motiflens.data.peaks import bin_coverage, build_peaks, label_bins, merge_intervals
from motiflens.errors import ConfigError, DatasetError, FormatError

SIZES = {"chr1": 12_000, "chr7": 4_000, "chr8": 5_000, "chrM": 700}


def write_genome(path: Path, seed: int = 0) -> dict[str, str]:
    """Random genome with soft-masked stretches and N runs; 60 nt per FASTA line."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for chrom, size in SIZES.items():
        s = np.array(list("".join(rng.choice(list("ACGT"), size=size))))
        s[100:160] = np.char.lower(s[100:160])  # soft-masked repeat
        s[size // 2: size // 2 + 30] = "N"
        seqs[chrom] = "".join(s)
    write_fasta(path, seqs)
    return seqs


def write_fasta(path: Path, seqs: dict[str, str]) -> None:
    with open(path, "w") as f:
        for chrom, s in seqs.items():
            f.write(f">{chrom} some description\n")
            for i in range(0, len(s), 60):
                f.write(s[i:i + 60] + "\n")


def write_peaks(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    """narrowPeak (10 columns), with a track line."""
    with open(path, "w") as f:
        f.write('track type=narrowPeak name="test"\n')
        for i, (c, s, e) in enumerate(rows):
            f.write(f"{c}\t{s}\t{e}\tpeak{i}\t500\t.\t5.1\t-1\t3.2\t{(e - s) // 2}\n")
    return path


PEAKS_A = [("chr1", 2_000, 2_450), ("chr1", 2_300, 2_900), ("chr1", 5_150, 5_300),
           ("chr1", 11_700, 11_990), ("chr7", 1_000, 1_400), ("chr8", 2_490, 2_800),
           ("chr8", 100, 400)]
PEAKS_B = [("chr1", 2_600, 3_100), ("chr1", 7_000, 7_101), ("chr1", 8_000, 8_100),
           ("chr7", 2_050, 2_300), ("chr8", 4_000, 4_500), ("chrM", 0, 700)]


def brute_force(seqs: dict[str, str], peaks: list[list[tuple[str, int, int]]], bin_size=200,
                length=1000, chroms=("chr1", "chr7", "chr8", "chrM")):
    """Rows (split, chrom, start, labels) by per-base coverage arrays."""
    split_of = {"chr8": "test", "chr9": "test", "chr7": "valid"}
    rows = {"train": [], "valid": [], "test": []}
    for chrom in chroms:
        size = len(seqs[chrom])
        cover = np.zeros((len(peaks), size), dtype=bool)
        for c, plist in enumerate(peaks):
            for ch, s, e in plist:
                if ch == chrom:
                    cover[c, s:e] = True
        for b in range((size + bin_size - 1) // bin_size):
            lab = (cover[:, b * bin_size:(b + 1) * bin_size].sum(axis=1) > bin_size // 2)
            if not lab.any():
                continue
            start = b * bin_size - (length - bin_size) // 2
            if start < 0 or start + length > size:
                continue
            rows[split_of.get(chrom, "train")].append((chrom, start, lab.astype(np.uint8)))
    return rows


@pytest.fixture()
def fixture(tmp_path):
    seqs = write_genome(tmp_path / "genome.fa")
    a = write_peaks(tmp_path / "A.narrowPeak", PEAKS_A)
    b = write_peaks(tmp_path / "B.narrowPeak", PEAKS_B)
    return tmp_path, seqs, {"A": str(a), "B": str(b)}


def test_rows_labels_splits_match_brute_force(fixture):
    tmp, seqs, peaks = fixture
    out = build_peaks(tmp / "genome.fa", peaks, tmp / "p.h5", length=600, chunk_rows=3)
    ds = load_dataset(out)
    expected = brute_force(seqs, [PEAKS_A, PEAKS_B], length=600)
    assert ds.label_names == ["A", "B"] and ds.length == 600
    for split in ("train", "valid", "test"):
        rows = expected[split]
        part = ds.split(split)
        assert len(part) == len(rows) > 0
        np.testing.assert_array_equal(part.Y, np.array([r[2] for r in rows]))
        # soft-masked lower case reads as upper case; N stays N (all-zero column)
        assert decode(part.X) == [seqs[c][s:s + 600].upper() for c, s, _ in rows]
    prov = ds.attrs["provenance"]
    assert prov["rows_per_split"] == {s: len(expected[s]) for s in expected}
    # the chr1 window at 11_700 and the chr8 window at 100 run off the ends: counted skips
    assert prov["skipped"]["counts"]["windows running past a chromosome end"] >= 2
    assert ds.attrs["config"]["peaks"] == peaks


def test_soft_mask_and_n(fixture):
    tmp, seqs, _ = fixture
    p = write_peaks(tmp / "m.bed", [("chr1", 50, 350), ("chr1", 5_900, 6_150),
                                    ("chr7", 1_000, 1_200), ("chr8", 1_000, 1_200)])
    ds = load_dataset(build_peaks(tmp / "genome.fa", {"m": p}, tmp / "m.h5", length=400,
                                  negatives="shuffle"))   # one label: negatives are required
    # bin [0, 200) is positive but its window [-100, 300) runs off the start: skipped.
    # bin [200, 400) -> window [100, 500), over the soft-masked 100..159; bin [6000, 6200)
    # -> [5900, 6300), over the N run 6000..6029. Then their 2 shuffles.
    assert len(ds.train) == 4 and ds.train.Y[:, 0].tolist() == [1, 1, 0, 0]
    X = ds.train.X[:2]
    assert decode(X) == [seqs["chr1"][s:s + 400].upper() for s in (100, 5_900)]
    assert seqs["chr1"][100:160].islower()
    assert X[0][:, :60].sum(axis=0).tolist() == [1] * 60
    n_cols = ~X[1].any(axis=0)
    np.testing.assert_array_equal(np.flatnonzero(n_cols), np.arange(100, 130))
    skipped = ds.attrs["provenance"]["skipped"]["counts"]
    assert skipped == {"windows running past a chromosome end": 1}


def test_half_overlap_threshold_and_merging():
    # exactly 100 of 200 covered -> not positive; 101 -> positive
    bins, y = label_bins([(np.array([0]), np.array([100])), (np.array([200]), np.array([301]))],
                         200)
    np.testing.assert_array_equal(bins, [1])
    np.testing.assert_array_equal(y, [[0, 1]])
    # two overlapping peaks covering 60 + 60 with 40 shared = 80 covered bases, not 120
    b, cov = bin_coverage(np.array([10, 50]), np.array([70, 110]), 200)
    np.testing.assert_array_equal(cov, [100])
    s, e = merge_intervals(np.array([50, 0, 10, 300]), np.array([60, 20, 55, 400]))
    np.testing.assert_array_equal(s, [0, 300])
    np.testing.assert_array_equal(e, [60, 400])
    # a peak spanning three bins
    b, cov = bin_coverage(np.array([150]), np.array([520]), 200)
    np.testing.assert_array_equal(b, [0, 1, 2])
    np.testing.assert_array_equal(cov, [50, 200, 120])


def test_reverse_complements_follow_forward_rows(fixture):
    tmp, _, peaks = fixture
    fwd = load_dataset(build_peaks(tmp / "genome.fa", peaks, tmp / "f.h5", length=600))
    both = load_dataset(build_peaks(tmp / "genome.fa", peaks, tmp / "b.h5", length=600,
                                    reverse_complement=True))
    for split in ("train", "valid", "test"):
        f, b = fwd.split(split), both.split(split)
        n = len(f)
        assert len(b) == 2 * n
        np.testing.assert_array_equal(b.X[:n], f.X)
        np.testing.assert_array_equal(b.X[n:], f.X[:, ::-1, ::-1])
        np.testing.assert_array_equal(b.Y[n:], f.Y)


def test_skips_are_counted_and_reported(fixture):
    tmp, seqs, peaks = fixture
    extra = write_peaks(tmp / "C.bed", PEAKS_A + [("chrUn_gl000220", 10, 500),
                                                  ("chr8", 4_900, 5_200)])
    ds = load_dataset(build_peaks(tmp / "genome.fa", {**peaks, "C": str(extra)}, tmp / "s.h5",
                                  length=600))
    counts = ds.attrs["provenance"]["skipped"]["counts"]
    assert counts["intervals on chromosomes absent from the genome"] == 1
    assert counts["intervals past a chromosome end"] == 1
    examples = ds.attrs["provenance"]["skipped"]["examples"]
    assert "C.bed:9 chrUn_gl000220" in examples["intervals on chromosomes absent from the genome"]


def test_errors(fixture):
    tmp, seqs, peaks = fixture
    g = tmp / "genome.fa"
    # every peak of a label unusable -> error naming the file
    bad = write_peaks(tmp / "hg38.bed", [("1", 10, 500), ("chr1", 11_000, 13_000)])
    with pytest.raises(DatasetError, match=r"hg38\.bed: none of the 2 peaks of label 'X'"):
        build_peaks(g, {**peaks, "X": str(bad)}, tmp / "o.h5")
    # a label whose peaks are all narrower than half a bin
    narrow = write_peaks(tmp / "narrow.bed", [("chr1", 1_000, 1_050)])
    with pytest.raises(DatasetError, match=r"labels \['N'\]: no 200-nt bin"):
        build_peaks(g, {**peaks, "N": str(narrow)}, tmp / "o.h5")
    # empty validation split (no peak on the chosen validation chromosome)
    with pytest.raises(DatasetError, match=r"split\(s\) \['valid'\] would be empty.*"
                                           r"chromosomes \['chr2'\] \(0 peak\(s\)\).*"
                                           r"--test-chroms/--valid-chroms"):
        build_peaks(g, peaks, tmp / "o.h5", valid_chroms=["chr2"])
    # malformed peak file: file and line
    broken = tmp / "broken.bed"
    broken.write_text("chr1\t10\t500\nchr1\tten\t600\n")
    with pytest.raises(FormatError, match=r"broken\.bed:2: start/end must be integers"):
        build_peaks(g, {"b": str(broken)}, tmp / "o.h5", negatives="shuffle")
    # a character other than ACGTN in the genome
    chr1 = seqs["chr1"]
    write_fasta(tmp / "badgenome.fa", {**seqs, "chr1": chr1[:2500] + "X" + chr1[2501:]})
    with pytest.raises(FormatError, match=r"badgenome\.fa: invalid character 'X' at chr1:"
                                          r"position 2501 \(1 invalid"):
        build_peaks(tmp / "badgenome.fa", peaks, tmp / "o.h5")
    with pytest.raises(ConfigError, match="both test_chroms and valid_chroms"):
        build_peaks(g, peaks, tmp / "o.h5", valid_chroms=["chr8"])
    assert not (tmp / "o.h5").exists()


def test_valid_fraction_holds_out_blocks(fixture):
    tmp, _, peaks = fixture
    out = build_peaks(tmp / "genome.fa", peaks, tmp / "v.h5", length=600, valid_fraction=0.5,
                      seed=1)
    ds = load_dataset(out)
    again = load_dataset(build_peaks(tmp / "genome.fa", peaks, tmp / "v2.h5", length=600,
                                     valid_fraction=0.5, seed=1))
    np.testing.assert_array_equal(ds.valid.X, again.valid.X)
    # chromosomes here are < 1 Mb: each non-test chromosome is one block, wholly train or valid
    total = sum(len(ds.split(s)) for s in ("train", "valid"))
    fwd = load_dataset(build_peaks(tmp / "genome.fa", peaks, tmp / "f.h5", length=600))
    assert total == len(fwd.train) + len(fwd.valid)
    assert len(ds.test) == len(fwd.test)


def test_single_peak_set_is_refused_without_negatives(fixture, capsys):
    from motiflens.cli import main

    tmp, _, peaks = fixture
    with pytest.raises(DatasetError, match=r"a single peak set \('A'\) without negatives gives "
                                           r"every row label 1; add --shuffled-negatives"):
        build_peaks(tmp / "genome.fa", {"A": peaks["A"]}, tmp / "o.h5")
    args = ["data", "peaks", "--genome", str(tmp / "genome.fa"), "--peaks", f"A={peaks['A']}",
            "--length", "600", "--out", str(tmp / "o.h5")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--shuffled-negatives" in err
    assert not (tmp / "o.h5").exists()
    assert main(args + ["--shuffled-negatives", "--reverse-complement"]) == 0
    both = load_dataset(tmp / "o.h5")
    fwd = load_dataset(build_peaks(tmp / "genome.fa", {"A": peaks["A"]}, tmp / "f.h5",
                                   length=600, negatives="shuffle"))
    for split in ("train", "valid", "test"):
        part, f = both.split(split), fwd.split(split)
        n = len(f)
        assert n >= 2 and f.Y[:, 0].sum() == n // 2          # one negative per positive
        assert sorted(set(f.Y[:, 0].tolist())) == [0, 1]
        pos, neg = f.X[f.Y[:, 0] == 1], f.X[f.Y[:, 0] == 0]
        for p_seq, n_seq in zip(decode(pos), decode(neg)):   # shuffles keep the composition
            assert sorted(p_seq) == sorted(n_seq)
            assert p_seq[0] == n_seq[0] and p_seq[-1] == n_seq[-1]
        np.testing.assert_array_equal(part.X[:n], f.X)       # forward rows, then their RCs
        np.testing.assert_array_equal(part.X[n:], f.X[:, ::-1, ::-1])
        np.testing.assert_array_equal(part.Y[n:], f.Y)


def test_bed_files_gzipped_under_any_name_or_with_stray_bytes_are_read(tmp_path):
    """A .bgz / suffix-less gzip file is gzip by its first bytes; a non-UTF-8 byte in the name
    column does not stop the read (it was a UnicodeDecodeError traceback)."""
    import gzip

    from motiflens.data.genome import read_bed

    text = b"track name=x\nchr1\t10\t500\tpe\xe9k\t0\t+\nchr1\t600\t900\n"
    (tmp_path / "plain.bed").write_bytes(text)
    (tmp_path / "peaks.bgz").write_bytes(gzip.compress(text))
    for name in ("plain.bed", "peaks.bgz"):
        rows = read_bed(tmp_path / name)
        assert [(r.chrom, r.start, r.end) for r in rows] == [("chr1", 10, 500), ("chr1", 600, 900)]
        assert rows[0].name.startswith("pe")


def test_a_held_out_chromosome_missing_from_the_genome_is_named(fixture):
    tmp, _, peaks = fixture
    with pytest.warns(UserWarning, match=r"held-out chromosome\(s\) \['chrX8'\] are not in the "
                                         r"genome \(it has chr1, chr7, chr8, chrM\)"):
        build_peaks(tmp / "genome.fa", peaks, tmp / "o.h5", test_chroms=["chr8", "chrX8"])
