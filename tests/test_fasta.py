"""User FASTA / BED input and the Altschul-Erickson dinucleotide shuffle."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from motiflens.data.dataset import load_dataset
from motiflens.data.encoding import decode
from motiflens.data.fasta import build_bed, build_fasta, dinucleotide_shuffle, read_fasta
from motiflens.errors import DatasetError, FormatError


def dinucs(s: str) -> Counter:
    return Counter(s[i:i + 2] for i in range(len(s) - 1))


def rc(s: str) -> str:
    return s.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def test_shuffle_preserves_dinucleotides_and_ends():
    rng = np.random.default_rng(0)
    for length in (3, 10, 57, 1000):
        for _ in range(10):
            s = "".join(rng.choice(list("ACGTNacgt"), size=length)).upper()
            t = dinucleotide_shuffle(s, rng)
            assert len(t) == len(s)
            assert dinucs(t) == dinucs(s)
            assert t[0] == s[0] and t[-1] == s[-1]
    s = "ACGTTGCAAACCGGTTACGATCGATCGGGATCCAN" * 3
    assert dinucleotide_shuffle(s, 5) == dinucleotide_shuffle(s, 5)  # seeded
    assert dinucleotide_shuffle(s, 5) != s
    assert dinucleotide_shuffle("acgtacggt", 1).isupper()  # soft-masked input accepted
    with pytest.raises(FormatError, match="invalid character 'X'"):
        dinucleotide_shuffle("ACXGT", 0)


def test_shuffle_is_uniform_over_dinucleotide_preserving_sequences():
    s = "ACAGACATAG"
    target = dinucs(s)
    space = {"".join(p) for p in set(itertools.permutations(s))
             if p[0] == s[0] and dinucs("".join(p)) == target}
    assert len(space) == 12
    rng = np.random.default_rng(1)
    n = 200 * len(space)
    seen = Counter(dinucleotide_shuffle(s, rng) for _ in range(n))
    assert set(seen) == space
    chi2 = stats.chisquare([seen[x] for x in sorted(space)])
    assert chi2.pvalue > 1e-3


def write_fa(path: Path, records: list[tuple[str, str]], width: int = 7) -> Path:
    with open(path, "w") as f:
        for header, seq in records:
            f.write(f">{header}\n")
            for i in range(0, len(seq), width):
                f.write(seq[i:i + width] + "\n")
    return path


def rand_seqs(rng, n, length=30):
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


def test_class_files_with_shuffled_negatives(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rand_seqs(rng, 20), rand_seqs(rng, 10)
    a[0] = a[0][:5] + "nnacgt" + a[0][11:]  # soft-masked and N
    fa = write_fa(tmp_path / "a.fa", [(f"a{i} desc", s) for i, s in enumerate(a)])
    fb = write_fa(tmp_path / "b.fa", [(f"b{i}", s) for i, s in enumerate(b)])
    out = build_fasta(tmp_path / "o.h5", classes={"A": fa, "B": fb}, negatives="shuffle",
                      negatives_per_sequence=2, valid_fraction=0.2, test_fraction=0.2, seed=3)
    ds = load_dataset(out)
    assert ds.label_names == ["A", "B"] and ds.length == 30
    lookup = {s.upper(): (1, 0) for s in a} | {s: (0, 1) for s in b}
    total_pos = 0
    for split in ("train", "valid", "test"):
        part = ds.split(split)
        seqs = decode(part.X)
        pos = part.Y.sum(axis=1) > 0
        n_pos = int(pos.sum())
        assert len(part) == 3 * n_pos  # two negatives per positive, in the same split
        assert pos[:n_pos].all() and not pos[n_pos:].any()
        for s, y in zip(seqs[:n_pos], part.Y[:n_pos]):
            assert tuple(y.astype(int)) == lookup[s]
        sources = seqs[:n_pos]
        for k, neg in enumerate(seqs[n_pos:]):
            assert dinucs(neg) == dinucs(sources[k // 2])
        total_pos += n_pos
    assert total_pos == 30
    assert (len(ds.valid) // 3, len(ds.test) // 3) == (6, 6)
    again = load_dataset(build_fasta(tmp_path / "o2.h5", classes={"A": fa, "B": fb},
                                     negatives="shuffle", negatives_per_sequence=2,
                                     valid_fraction=0.2, test_fraction=0.2, seed=3))
    np.testing.assert_array_equal(again.train.X, ds.train.X)


def test_labels_in_headers_key_and_column(tmp_path):
    rng = np.random.default_rng(1)
    seqs = rand_seqs(rng, 12)
    labels = ["CTCF", "YY1", "CTCF,YY1", "none"] * 3
    f1 = write_fa(tmp_path / "k.fa", [(f"s{i} label={lab} x=1", s)
                                      for i, (s, lab) in enumerate(zip(seqs, labels))])
    ds = load_dataset(build_fasta(tmp_path / "k.h5", labelled=f1, valid_fraction=0.25,
                                  test_fraction=0.25, reverse_complement=True))
    assert ds.label_names == ["CTCF", "YY1"]
    want = {s: lab for s, lab in zip(seqs, labels)}
    for split in ("train", "valid", "test"):
        part = ds.split(split)
        n = len(part) // 2
        got = decode(part.X)
        assert got[n:] == [rc(s) for s in got[:n]]
        for s, y in zip(got[:n], part.Y[:n]):
            names = [nm for nm, v in zip(ds.label_names, y) if v]
            assert ",".join(names) == ("" if want[s] == "none" else want[s])
    f2 = write_fa(tmp_path / "c.fa", [(f"s{i}|{lab}", s) for i, (s, lab)
                                      in enumerate(zip(seqs, labels))])
    ds2 = load_dataset(build_fasta(tmp_path / "c.h5", labelled=f2, label_field=1,
                                   label_names=["YY1", "CTCF"], valid_fraction=0.25,
                                   test_fraction=0.25))
    assert ds2.label_names == ["YY1", "CTCF"]
    assert int(ds2.train.Y.sum() + ds2.valid.Y.sum() + ds2.test.Y.sum()) == 12
    with pytest.raises(FormatError, match=r"c\.fa:1: record 's0\|CTCF': unknown label 'CTCF'"):
        build_fasta(tmp_path / "x.h5", labelled=f2, label_field=1, label_names=["YY1"])
    with pytest.raises(FormatError, match=r"c\.fa:1: header has no 'label=\.\.\.' field"):
        build_fasta(tmp_path / "x.h5", labelled=f2)


def test_fasta_format_errors_name_file_and_line(tmp_path):
    good = "ACGT" * 5
    bad = write_fa(tmp_path / "bad.fa", [("s1", good), ("s2", "ACGTACGRACGTACGTACGT")], width=7)
    # line 1 '>s1', lines 2-4 s1, line 5 '>s2', line 6 'ACGTACG', line 7 'RACGTAC'
    with pytest.raises(FormatError, match=r"bad\.fa:7: invalid character 'R' at position 1"):
        list(read_fasta(bad))
    (tmp_path / "nohead.fa").write_text("ACGT\n>s\nACGT\n")
    with pytest.raises(FormatError, match=r"nohead\.fa:1: sequence before the first '>'"):
        list(read_fasta(tmp_path / "nohead.fa"))
    (tmp_path / "empty.fa").write_text(">s1\nACGT\n>s2\n>s3\nAC\n")
    with pytest.raises(FormatError, match=r"empty\.fa:3: record 's2' has no sequence"):
        list(read_fasta(tmp_path / "empty.fa"))
    uneven = write_fa(tmp_path / "u.fa", [("s1", good), ("s2", good + "A")])
    other = write_fa(tmp_path / "o.fa", [("t1", good)] * 3)
    with pytest.raises(FormatError, match=r"u\.fa:5: record 's2' has length 21, expected 20"):
        build_fasta(tmp_path / "x.h5", classes={"u": uneven, "o": other})
    with pytest.raises(DatasetError, match="single class"):
        build_fasta(tmp_path / "x.h5", classes={"u": uneven})
    assert not (tmp_path / "x.h5").exists()


def test_length_crop_and_pad(tmp_path):
    long = "AAAAACCCCCGGGGGTTTTT"
    short = "ACGTA"
    f = write_fa(tmp_path / "l.fa", [("a label=X", long), ("b label=Y", short)] * 5)
    ds = load_dataset(build_fasta(tmp_path / "l.h5", labelled=f, length=10, valid_fraction=0.2,
                                  test_fraction=0.2))
    seqs = set(decode(np.concatenate([ds.split(s).X for s in ("train", "valid", "test")])))
    assert seqs == {"CCCCCGGGGG", "NNACGTANNN"}
    assert ds.attrs["provenance"]["length_fixes"] == {"cropped": 5, "padded": 5}


def test_bed_and_genome(tmp_path):
    rng = np.random.default_rng(2)
    chroms = {"chr1": 3000, "chr7": 1500, "chr8": 1500}
    seqs = {c: "".join(rng.choice(list("ACGTacgt"), size=n)) for c, n in chroms.items()}
    write_fa(tmp_path / "g.fa", list(seqs.items()), width=50)
    bed_a = tmp_path / "a.bed"
    bed_a.write_text("# comment\nchr1\t100\t300\tp1\t0\t+\nchr1\t1000\t1100\tp2\t0\t-\n"
                     "chr7\t500\t700\nchr8\t600\t800\nchr2\t10\t20\nchr1\t2990\t3100\n")
    bed_b = tmp_path / "b.bed"
    bed_b.write_text("chr1\t1000\t1100\tq\t0\t-\nchr1\t2000\t2100\nchr7\t100\t200\n"
                     "chr8\t100\t300\nchr1\t10\t30\n")
    out = build_bed(tmp_path / "g.fa", {"A": bed_a, "B": bed_b}, tmp_path / "bed.h5",
                    length=200, negatives="shuffle")
    ds = load_dataset(out)
    up = {c: s.upper() for c, s in seqs.items()}
    n = len(ds.train) // 2
    got = decode(ds.train.X[:n])
    # chr1 windows in genome order: 100-300 (+, A), 950-1150 (-, A and B merged), 1950-2150 (B)
    assert got == [up["chr1"][100:300], rc(up["chr1"][950:1150]), up["chr1"][1950:2150]]
    np.testing.assert_array_equal(ds.train.Y[:n], [[1, 0], [1, 1], [0, 1]])
    assert not ds.train.Y[n:].any()
    assert decode(ds.valid.X[:2]) == [up["chr7"][50:250], up["chr7"][500:700]]
    skipped = ds.attrs["provenance"]["skipped"]["counts"]
    assert skipped == {"intervals on chromosomes absent from the genome": 1,
                       "intervals past a chromosome end": 1,
                       "windows running past a chromosome end": 1}
    # all intervals of a class unusable -> error naming the file
    bed_c = tmp_path / "c.bed"
    bed_c.write_text("1\t100\t300\n")
    with pytest.raises(DatasetError, match=r"c\.bed: none of the 1 intervals of class 'C'"):
        build_bed(tmp_path / "g.fa", {"A": bed_a, "C": bed_c}, tmp_path / "x.h5")
    bed_bad = tmp_path / "bad.bed"
    bed_bad.write_text("chr1\t100\t300\nchr1\t500\n")
    with pytest.raises(FormatError, match=r"bad\.bed:2: expected at least 3 columns"):
        build_bed(tmp_path / "g.fa", {"A": bed_a, "C": bed_bad}, tmp_path / "x.h5")


def test_split_by_chromosome_from_interval_names(tmp_path):
    """Peaks named chrom:start-end: whole chromosomes held out (test chr8/chr9, valid chr7)."""
    from motiflens.errors import ConfigError

    rng = np.random.default_rng(1)
    chroms = ["chr1", "chr2", "chr7", "chr8", "chr9", "chr1", "chr2", "chr8"]
    seqs = rand_seqs(rng, len(chroms))
    names = [f"{c}:{1000 * i}-{1000 * i + 30}" for i, c in enumerate(chroms)]
    fa = write_fa(tmp_path / "p.fa", list(zip(names, seqs)))
    ds = load_dataset(build_fasta(tmp_path / "c.h5", classes={"TF": fa}, negatives="shuffle",
                                  test_chroms=["chr8", "chr9"], valid_chroms=["chr7"]))
    by_seq = dict(zip(seqs, chroms))
    held = {split: {by_seq[s] for s, y in zip(decode(ds.split(split).X), ds.split(split).Y)
                    if y.any()} for split in ("train", "valid", "test")}
    assert held == {"train": {"chr1", "chr2"}, "valid": {"chr7"}, "test": {"chr8", "chr9"}}
    assert len(ds.test) == 2 * 3  # three test peaks and their shuffled copies
    bad = write_fa(tmp_path / "bad.fa", [("chr1:1-31", seqs[0]), ("peak7", seqs[1])])
    with pytest.raises(FormatError, match=r"bad.fa:7: record .peak7.*chrom:start-end"):
        build_fasta(tmp_path / "x.h5", classes={"TF": bad}, negatives="shuffle",
                    test_chroms=["chr8"])
    with pytest.raises(ConfigError, match="needs --test-chroms"):
        build_fasta(tmp_path / "y.h5", classes={"TF": fa}, negatives="shuffle",
                    valid_chroms=["chr7"])
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "y.h5").exists()
