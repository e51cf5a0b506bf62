"""DeepSEA bundle ingestion on tiny fixture bundles in the real file formats.

train.mat is written as MATLAB 7.3 does (HDF5 after a 512-byte user block, dims reversed:
h5py sees ``trainxdata`` (L, 4, N), ``traindata`` (919, N)); valid.mat / test.mat with
``scipy.io.savemat`` (MATLAB 5: ``validxdata`` (N, 4, L), ``validdata`` (N, 919)).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from motiflens.data.dataset import load_dataset
from motiflens.data.deepsea import (
    PAPER_COLUMNS,
    PAPER_LABEL_NAMES,
    build_deepsea,
    open_mat_variable,
)
from motiflens.data.encoding import decode
from motiflens.errors import ConfigError, DatasetError

L = 40
RC = str.maketrans("ACGTN", "TGCAN")


def agct_onehot(seqs: list[str]) -> np.ndarray:
    """(N, 4, L) uint8 one-hot with rows A, G, C, T (the bundle's order); N = zeros."""
    order = "AGCT"
    X = np.zeros((len(seqs), 4, len(seqs[0])), dtype=np.uint8)
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s):
            if ch != "N":
                X[i, order.index(ch), j] = 1
    return X


def random_seqs(rng: np.random.Generator, n: int, length: int = L) -> list[str]:
    seqs = ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]
    return [s[:3] + "N" + s[4:] for s in seqs]  # an N in every sequence


def with_rc(seqs: list[str], labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Forward strands followed by their reverse complements, labels repeated."""
    return seqs + [s.translate(RC)[::-1] for s in seqs], np.vstack([labels, labels])


def write_v73(path: Path, xkey: str, ykey: str, X: np.ndarray, Y: np.ndarray,
              chunks: bool = True) -> None:
    """A MATLAB 7.3 MAT-file: HDF5 with a 512-byte user block and reversed dims."""
    with h5py.File(path, "w", userblock_size=512) as f:
        kw = {"chunks": (L, 4, 7)} if chunks and X.shape[0] >= 7 else {}
        f.create_dataset(xkey, data=X.T, **kw)          # (L, 4, N)
        f.create_dataset(ykey, data=Y.T)                # (919, N)
        for key in (xkey, ykey):
            f[key].attrs["MATLAB_class"] = np.bytes_("uint8")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan 1 00:00:00 2015 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(512, b" "))


def make_labels(rng: np.random.Generator, n: int, positive: np.ndarray) -> np.ndarray:
    """(n, 919) labels: rows in ``positive`` get one random paper column set; every row gets
    noise in non-paper columns."""
    Y = np.zeros((n, 919), dtype=np.uint8)
    other = np.setdiff1d(np.arange(919), PAPER_COLUMNS)
    Y[:, rng.choice(other, size=5)] = rng.integers(0, 2, size=(n, 5))
    for i in positive:
        k = rng.integers(1, 4)
        Y[i, rng.choice(PAPER_COLUMNS, size=k, replace=False)] = 1
    Y[positive[0], [592, 602]] = 1  # every split has rows for a 2-column selection
    return Y


def make_bundle(root: Path, seed: int = 0, n: dict | None = None,
                compress_test: bool = True) -> dict:
    """A bundle with planted sequences/labels; returns the forward data per split."""
    rng = np.random.default_rng(seed)
    n = n or {"train": 25, "valid": 6, "test": 9}
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for split, count in n.items():
        seqs = random_seqs(rng, count)
        positive = np.sort(rng.choice(count, size=max(1, count // 2), replace=False))
        labels = make_labels(rng, count, positive)
        all_seqs, all_labels = with_rc(seqs, labels)
        X = agct_onehot(all_seqs)
        truth[split] = {"seqs": all_seqs, "labels": all_labels, "positive": positive}
        if split == "train":
            write_v73(root / "train.mat", "trainxdata", "traindata", X, all_labels)
        else:
            scipy.io.savemat(root / f"{split}.mat",
                             {f"{split}xdata": X, f"{split}data": all_labels},
                             do_compression=compress_test and split == "test")
    return truth


def test_planted_bases_labels_strands_and_filtering(tmp_path):
    truth = make_bundle(tmp_path / "bundle")
    out = build_deepsea(tmp_path / "bundle", tmp_path / "invivo.h5", chunk_rows=4)
    ds = load_dataset(out)
    assert ds.label_names == list(PAPER_LABEL_NAMES)
    assert ds.length == L
    cols = list(PAPER_COLUMNS)
    for split in ("train", "valid", "test"):
        t = truth[split]
        n_fwd = len(t["seqs"]) // 2
        keep = np.flatnonzero(t["labels"][:, cols].sum(axis=1) >= 1)
        # only the planted positives survive, on both strands, forward half first
        expected = np.concatenate([t["positive"], t["positive"] + n_fwd])
        np.testing.assert_array_equal(keep, expected)
        part = ds.split(split)
        assert len(part) == len(keep)
        # channel order A, C, G, T: decoding the output gives back the planted strings (N too)
        assert decode(part.X) == [t["seqs"][i] for i in keep]
        np.testing.assert_array_equal(part.Y, t["labels"][keep][:, cols])
        # second half = reverse complements of the first half
        k = len(keep) // 2
        np.testing.assert_array_equal(part.X[k:], part.X[:k, ::-1, ::-1])
        np.testing.assert_array_equal(part.Y[k:], part.Y[:k])
    record = ds.attrs["provenance"]["splits"]
    assert record["train"]["rows_read"] == 50
    assert record["train"]["rows_kept"] == len(ds.train)
    assert record["train"]["kept_forward_half"] == record["train"]["kept_reverse_half"]
    assert record["test"]["positives_per_label"] == ds.test.Y.sum(axis=0).astype(int).tolist()
    assert ds.attrs["config"]["label_columns"] == cols
    assert ds.attrs["config"]["label_names"] == list(PAPER_LABEL_NAMES)
    # the compressed test.mat was decompressed to a scratch file next to the output; gone now
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_chunk_size_does_not_change_the_result(tmp_path):
    make_bundle(tmp_path / "b")
    a = load_dataset(build_deepsea(tmp_path / "b", tmp_path / "a.h5", chunk_rows=3))
    b = load_dataset(build_deepsea(tmp_path / "b", tmp_path / "b.h5", chunk_rows=10_000))
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.split(split).X, b.split(split).X)
        np.testing.assert_array_equal(a.split(split).Y, b.split(split).Y)


def test_custom_columns_names_and_forward_only(tmp_path):
    truth = make_bundle(tmp_path / "b", seed=3)
    cols = [602, 592]
    out = build_deepsea(tmp_path / "b", tmp_path / "o.h5", label_columns=cols,
                        label_names=["CEBPB", "Arid3a"], strands="forward")
    ds = load_dataset(out)
    assert ds.label_names == ["CEBPB", "Arid3a"]
    t = truth["valid"]
    n_fwd = len(t["seqs"]) // 2
    keep = np.flatnonzero(t["labels"][:n_fwd, cols].sum(axis=1) >= 1)
    np.testing.assert_array_equal(ds.valid.Y, t["labels"][keep][:, cols])
    assert decode(ds.valid.X) == [t["seqs"][i] for i in keep]
    with pytest.raises(ConfigError, match="label_names"):
        build_deepsea(tmp_path / "b", tmp_path / "x.h5", label_columns=cols)
    with pytest.raises(ConfigError, match="duplicated"):
        build_deepsea(tmp_path / "b", tmp_path / "x.h5", label_columns=[1, 1], label_names=["a", "b"])
    with pytest.raises(ConfigError, match=r"\[0, 919\)"):
        build_deepsea(tmp_path / "b", tmp_path / "x.h5", label_columns=[919], label_names=["a"])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_mat5_reader_matches_scipy(tmp_path, compress, dtype):
    rng = np.random.default_rng(1)
    arrays = {"a": np.arange(3.0), "validxdata": rng.integers(0, 2, (5, 4, 11)).astype(dtype),
              "validdata": rng.integers(0, 2, (5, 919)).astype(dtype)}
    path = tmp_path / "v.mat"
    scipy.io.savemat(path, arrays, do_compression=compress)
    ref = scipy.io.loadmat(path)
    x = open_mat_variable(path, "validxdata", tmp_dir=tmp_path)
    y = open_mat_variable(path, "validdata", tmp_dir=tmp_path)
    assert x.shape == (5, 4, 11) and y.shape == (5, 919)
    np.testing.assert_array_equal(x.rows(1, 4), ref["validxdata"][1:4])
    np.testing.assert_array_equal(y.rows(0, 5, [600, 3, 918]), ref["validdata"][:, [600, 3, 918]])
    x.close()
    y.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mat"]  # temp files removed
    with pytest.raises(DatasetError, match="missing key 'nope'.*validxdata"):
        open_mat_variable(path, "nope")


def _rewrite_train(root: Path, X: np.ndarray, Y: np.ndarray) -> None:
    (root / "train.mat").unlink()
    write_v73(root / "train.mat", "trainxdata", "traindata", X, Y, chunks=False)


def test_input_errors_are_clear_and_leave_no_output(tmp_path):
    root = tmp_path / "b"
    truth = make_bundle(root, compress_test=False)
    out = tmp_path / "o.h5"
    X = agct_onehot(truth["train"]["seqs"])
    Y = truth["train"]["labels"]

    # wrong key
    (root / "train.mat").unlink()
    write_v73(root / "train.mat", "trainx", "traindata", X, Y)
    with pytest.raises(DatasetError, match=r"train\.mat: missing key 'trainxdata' \(found: "):
        build_deepsea(root, out)
    # wrong shape: 918 label columns
    _rewrite_train(root, X, Y[:, :918])
    with pytest.raises(DatasetError, match=r"'traindata': expected shape \(919, N\) as seen by h5py"):
        build_deepsea(root, out)
    # transposed sequences (someone saved (N, 4, L) through h5py)
    (root / "train.mat").unlink()
    with h5py.File(root / "train.mat", "w") as f:
        f["trainxdata"] = X.transpose(1, 0, 2)  # (4, N, L): channel axis in the wrong place
        f["traindata"] = Y.T
    with pytest.raises(DatasetError, match=r"'trainxdata': expected shape \(L, 4, N\)"):
        build_deepsea(root, out)
    # label / sequence count mismatch
    _rewrite_train(root, X, Y[:-1])
    with pytest.raises(DatasetError, match="count mismatch.*50 sequences.*49 label rows"):
        build_deepsea(root, out)
    # non-binary label
    Y2 = Y.copy()
    Y2[3, 592] = 2
    _rewrite_train(root, X, Y2)
    with pytest.raises(DatasetError, match=r"expected labels in \{0, 1\}, found 2 at row 3, column 592"):
        build_deepsea(root, out)
    # not one-hot (two channels at one position) in a kept row
    X2 = X.copy()
    row = int(truth["train"]["positive"][0])
    X2[row, :, 5] = 1
    _rewrite_train(root, X2, Y)
    with pytest.raises(DatasetError, match=f"row {row} is not one-hot"):
        build_deepsea(root, out)
    # empty result: no row positive for the chosen column
    _rewrite_train(root, X, Y)
    with pytest.raises(DatasetError, match="empty result"):
        build_deepsea(root, out, label_columns=[0], label_names=["x"])
    # missing file
    (root / "valid.mat").unlink()
    with pytest.raises(DatasetError, match=r"valid\.mat: file not found"):
        build_deepsea(root, out)
    # a MATLAB 5 file with the wrong key
    scipy.io.savemat(root / "valid.mat", {"validx": np.zeros((2, 4, L), np.uint8),
                                          "validdata": np.zeros((2, 919), np.uint8)})
    with pytest.raises(DatasetError, match=r"valid\.mat: missing key 'validxdata' \(found: validx"):
        build_deepsea(root, out)
    assert not out.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_failure_keeps_an_existing_output(tmp_path):
    root = tmp_path / "b"
    make_bundle(root)
    out = build_deepsea(root, tmp_path / "o.h5")
    before = out.read_bytes()
    with pytest.raises(DatasetError):
        build_deepsea(root, out, label_columns=[0], label_names=["x"])
    assert out.read_bytes() == before
    assert json.loads(h5py.File(out, "r").attrs["label_names"]) == list(PAPER_LABEL_NAMES)
