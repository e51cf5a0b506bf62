"""The motiflens HDF5 dataset layout: writing, loading (in memory and lazy), validation, encoding."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from motiflens.data import (
    FORMAT,
    DatasetWriter,
    decode,
    load_dataset,
    one_hot_encode,
    write_dataset,
)
from motiflens.errors import DatasetError

LENGTH = 30
NAMES = ["a", "b", "c"]


def random_split(rng: np.random.Generator, n: int, length: int = LENGTH, classes: int = 3):
    """(X one-hot float32 (n, 4, L), Y binary float32 (n, C))."""
    bases = rng.integers(0, 4, size=(n, length))
    X = (bases[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32)
    Y = (rng.random((n, classes)) < 0.3).astype(np.float32)
    return X, Y


@pytest.fixture
def splits():
    rng = np.random.default_rng(0)
    return {name: random_split(rng, n) for name, n in (("train", 40), ("valid", 7), ("test", 11))}


def raw_file(path: Path, arrays: dict[str, np.ndarray], attrs: dict | None = None) -> Path:
    """An HDF5 file with exactly these keys (to build good and bad inputs)."""
    with h5py.File(path, "w") as handle:
        for key, value in arrays.items():
            handle.create_dataset(key, data=value)
        for key, value in (attrs or {}).items():
            handle.attrs[key] = value
    return path


def flat(splits: dict) -> dict[str, np.ndarray]:
    out = {}
    for name, (X, Y) in splits.items():
        out[f"X_{name}"], out[f"Y_{name}"] = X, Y
    return out


# ------------------------------------------------------------------------------------------
# one-hot encoding
# ------------------------------------------------------------------------------------------


def test_one_hot_encode_rows_acgt_and_unknown_as_zero():
    X = one_hot_encode(["ACGTN", "acgtR"])
    assert X.shape == (2, 4, 5) and X.dtype == np.float32
    expected = np.zeros((4, 5), dtype=np.float32)
    expected[[0, 1, 2, 3], [0, 1, 2, 3]] = 1
    np.testing.assert_array_equal(X[0], expected)
    np.testing.assert_array_equal(X[1], expected)   # lowercase accepted, R -> zeros


def test_one_hot_single_string_and_decode_round_trip():
    seq = "GATTACANNC"
    X = one_hot_encode(seq, dtype=np.uint8)
    assert X.shape == (1, 4, 10) and X.dtype == np.uint8
    assert decode(X) == [seq]
    assert decode(X[0]) == [seq]


def test_one_hot_unequal_lengths_is_an_error():
    with pytest.raises(DatasetError, match="sequence 1 has length 3, expected 4"):
        one_hot_encode(["ACGT", "ACG"])


# ------------------------------------------------------------------------------------------
# write + load
# ------------------------------------------------------------------------------------------


def test_round_trip_in_memory(tmp_path, splits):
    path = write_dataset(
        tmp_path / "d.h5", splits, NAMES, config={"seed": 3}, provenance={"who": "test"},
        extra={"model_train": np.full((40, 4, LENGTH), 0.25, dtype=np.float32),
               "ground_truth": {"train": {"seq": np.array([0, 1]), "tf": np.array([2, 0]),
                                          "strand": np.array([1, -1], dtype=np.int8),
                                          "start": np.array([5, 9]), "width": np.array([6, 6])}}},
    )
    ds = load_dataset(path)
    assert ds.label_names == NAMES and ds.length == LENGTH and ds.n_classes == 3
    assert ds.attrs["format"] == FORMAT
    assert ds.attrs["config"] == {"seed": 3} and ds.attrs["provenance"] == {"who": "test"}
    for name, (X, Y) in splits.items():
        split = ds.split(name)
        assert split.X.dtype == np.float32 and split.Y.dtype == np.float32
        np.testing.assert_array_equal(split.X, X)
        np.testing.assert_array_equal(split.Y, Y)
        assert not split.lazy and len(split) == X.shape[0]
    np.testing.assert_array_equal(ds.read_model("train"), np.full((40, 4, LENGTH), 0.25))
    assert ds.read_model("test") is None
    gt = ds.read_ground_truth("train")
    np.testing.assert_array_equal(gt["strand"], [1, -1])
    assert gt["strand"].dtype == np.int8
    assert ds.read_ground_truth("valid") is None


def test_storage_is_uint8_chunked_compressed(tmp_path, splits):
    path = write_dataset(tmp_path / "d.h5", splits, NAMES, config=None)
    with h5py.File(path, "r") as handle:
        X = handle["X_train"]
        assert X.dtype == np.uint8 and X.chunks[1:] == (4, LENGTH) and X.compression == "gzip"
        assert handle["Y_train"].dtype == np.uint8
        assert json.loads(handle.attrs["label_names"]) == NAMES
        assert "versions" in json.loads(handle.attrs["provenance"])   # default provenance
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]           # no temp file left


def test_lazy_loading_streams_from_open_file(tmp_path, splits):
    path = write_dataset(tmp_path / "d.h5", splits, NAMES)
    with load_dataset(path, in_memory=False) as ds:
        split = ds.train
        assert split.lazy and isinstance(split.X, h5py.Dataset)
        index = np.array([7, 2, 2, 39, 0])          # unsorted, with a duplicate
        X, Y = split.take(index)
        assert X.dtype == np.float32
        np.testing.assert_array_equal(X, splits["train"][0][index])
        np.testing.assert_array_equal(Y, splits["train"][1][index])
        Xs, _ = split.take(slice(3, 9))
        np.testing.assert_array_equal(Xs, splits["train"][0][3:9])
        file = ds._file
    assert not file.id.valid                         # closed by the with block


def test_original_koo_eddy_layout_gets_default_names(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {}
    for name, n in (("train", 6), ("valid", 2), ("test", 3)):
        X, Y = random_split(rng, n, length=200, classes=12)
        arrays[f"X_{name}"], arrays[f"Y_{name}"] = X, Y
        arrays[f"model_{name}"] = np.full((n, 4, 200), 0.25, dtype=np.float32)
    path = raw_file(tmp_path / "synthetic_code_dataset.h5", arrays)
    ds = load_dataset(path)
    assert ds.label_names[0] == "Arid3a" and ds.label_names[-1] == "YY1" and len(ds.label_names) == 12
    assert ds.attrs["label_names_defaulted"] is True
    np.testing.assert_array_equal(ds.test.X, arrays["X_test"])
    assert ds.read_model("valid").shape == (2, 4, 200)

    three = {k: (v[:, :3] if k.startswith("Y_") else v) for k, v in arrays.items()}
    ds3 = load_dataset(raw_file(tmp_path / "three.h5", three))
    assert ds3.label_names == ["class_0", "class_1", "class_2"]


# ------------------------------------------------------------------------------------------
# validation errors: one line naming file and key
# ------------------------------------------------------------------------------------------


def test_missing_file_and_not_hdf5(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.h5: file not found"):
        load_dataset(tmp_path / "nope.h5")
    text = tmp_path / "text.h5"
    text.write_text("hello\n")
    with pytest.raises(DatasetError, match=r"text\.h5: not an HDF5 file"):
        load_dataset(text)


def _mutate(splits, key, value):
    arrays = flat(splits)
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    return arrays


@pytest.mark.parametrize(
    "key, make, pattern",
    [
        ("Y_valid", lambda s: None, r"missing key 'Y_valid'"),
        ("X_train", lambda s: s["train"][0][:, 0, :], r"key 'X_train': expected shape \(N, 4, L\), found \(40, 30\)"),
        ("X_test", lambda s: np.zeros((11, 5, LENGTH)), r"key 'X_test': expected shape \(N, 4, L\), found \(11, 5, 30\)"),
        ("Y_test", lambda s: np.zeros((11,)), r"key 'Y_test': expected shape \(N, C\), found \(11,\)"),
        ("Y_train", lambda s: s["train"][1][:39], r"key 'Y_train': expected 40 rows to match 'X_train' \(40, 4, 30\), found \(39, 3\)"),
        ("X_valid", lambda s: np.zeros((7, 4, 31)), r"key 'X_valid': expected length L=30 as in 'X_train', found shape \(7, 4, 31\)"),
        ("Y_test", lambda s: np.zeros((11, 4)), r"key 'Y_test': expected C=3 classes as in 'Y_train', found shape \(11, 4\)"),
    ],
)
def test_bad_layouts_name_file_and_key(tmp_path, splits, key, make, pattern):
    path = raw_file(tmp_path / "bad.h5", _mutate(splits, key, make(splits)))
    with pytest.raises(DatasetError, match=pattern) as info:
        load_dataset(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_label_names_length_must_match(tmp_path, splits):
    path = raw_file(tmp_path / "bad.h5", flat(splits), {"label_names": json.dumps(["a", "b"])})
    with pytest.raises(DatasetError, match=r"bad\.h5: attribute 'label_names': expected 3 names .* found 2"):
        load_dataset(path)


def test_write_rejects_non_binary_and_wrong_names(tmp_path, splits):
    bad = dict(splits)
    bad["valid"] = (splits["valid"][0] * 0.5, splits["valid"][1])
    with pytest.raises(DatasetError, match=r"key 'X_valid': expected values in \{0, 1\}"):
        write_dataset(tmp_path / "d.h5", bad, NAMES)
    with pytest.raises(DatasetError, match=r"attribute 'label_names': expected 3 names"):
        write_dataset(tmp_path / "d.h5", splits, ["a"])
    with pytest.raises(DatasetError, match=r"missing \['test'\]"):
        write_dataset(tmp_path / "d.h5", {k: splits[k] for k in ("train", "valid")}, NAMES)
    assert not list(tmp_path.iterdir())


def test_failed_overwrite_keeps_the_old_file(tmp_path, splits):
    path = write_dataset(tmp_path / "d.h5", splits, NAMES)
    before = path.read_bytes()
    with pytest.raises(DatasetError):
        write_dataset(path, splits, NAMES, extra={"weird": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]


# ------------------------------------------------------------------------------------------
# DatasetWriter
# ------------------------------------------------------------------------------------------


def test_writer_appends_batches_and_publishes_on_close(tmp_path, splits):
    path = tmp_path / "big.h5"
    with DatasetWriter(path, NAMES, length=LENGTH, config={"source": "test"}, chunk_rows=8) as writer:
        for name, (X, Y) in splits.items():
            for lo in range(0, X.shape[0], 9):
                writer.append(name, X[lo : lo + 9].astype(np.uint8), Y[lo : lo + 9])
        assert writer.counts() == {"train": 40, "valid": 7, "test": 11}
        assert not path.exists()                     # only the temp file exists until close
        writer.set_extra({"model_test": np.zeros((11, 4, LENGTH), dtype=np.float32)})
    ds = load_dataset(path)
    for name, (X, Y) in splits.items():
        np.testing.assert_array_equal(ds.split(name).X, X)
        np.testing.assert_array_equal(ds.split(name).Y, Y)
    assert ds.attrs["config"] == {"source": "test"}
    assert ds.read_model("test").shape == (11, 4, LENGTH)
    assert [p.name for p in tmp_path.iterdir()] == ["big.h5"]


def test_writer_discards_everything_on_error(tmp_path, splits):
    path = tmp_path / "big.h5"
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, NAMES, length=LENGTH) as writer:
            writer.append("train", *splits["train"])
            raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())


def test_writer_checks_shapes_and_empty_splits(tmp_path, splits):
    path = tmp_path / "big.h5"
    writer = DatasetWriter(path, NAMES, length=LENGTH)
    with pytest.raises(DatasetError, match=r"key 'X_train': expected shape \(B, 4, 30\), found \(40, 4, 29\)"):
        writer.append("train", splits["train"][0][:, :, :29], splits["train"][1])
    with pytest.raises(DatasetError, match=r"key 'Y_train': expected shape \(40, 3\), found \(40, 2\)"):
        writer.append("train", splits["train"][0], splits["train"][1][:, :2])
    with pytest.raises(DatasetError, match="unknown split 'dev'"):
        writer.append("dev", *splits["train"])
    writer.append("train", *splits["train"])
    writer.append("test", *splits["test"])
    with pytest.raises(DatasetError, match=r"big\.h5: key 'X_valid': expected at least one sequence"):
        writer.close()
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------
# value checks at load time; constant labels at write time
# ------------------------------------------------------------------------------------------


def _nan_at(X, row):
    X = X.astype(np.float32)
    X[row, 2, 5] = np.nan
    return X


def _two_at(X, row):
    X = X.astype(np.uint8)
    X[row, 1, 3] = 2
    return X


def _two_ones_at(X, row):
    X = X.astype(np.uint8)
    X[row, :, 4] = [1, 0, 1, 0]
    return X


@pytest.mark.parametrize("key, damage, pattern", [
    ("X_valid", _nan_at, r"key 'X_valid': expected one-hot .*found value NaN at row 4 "),
    ("X_test", _two_at, r"key 'X_test': expected one-hot .*found value 2 at row 6 "),
    ("X_train", _two_ones_at, r"key 'X_train': expected one-hot .*at most one 1 per position"
                              r".*found 2 ones at position 4 of row 9 "),
])
@pytest.mark.parametrize("in_memory", [True, False])
def test_load_rejects_non_one_hot_sequences_naming_key_and_row(tmp_path, splits, key, damage,
                                                               pattern, in_memory):
    row = {"X_valid": 4, "X_test": 6, "X_train": 9}[key]
    arrays = flat(splits)
    arrays[key] = damage(arrays[key], row)
    path = raw_file(tmp_path / "bad.h5", arrays)
    with pytest.raises(DatasetError, match=pattern) as info:
        load_dataset(path, in_memory=in_memory)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("in_memory", [True, False])
def test_load_rejects_labels_outside_0_1_naming_row(tmp_path, splits, in_memory):
    arrays = flat(splits)
    arrays["Y_test"] = arrays["Y_test"].copy()
    arrays["Y_test"][3, 2] = np.nan
    with pytest.raises(DatasetError, match=r"key 'Y_test': expected labels in \{0, 1\}, found "
                                           r"value NaN at row 3 "):
        load_dataset(raw_file(tmp_path / "bad.h5", arrays), in_memory=in_memory)


def test_value_checks_accept_n_columns_and_float_files(tmp_path, splits):
    arrays = flat(splits)
    arrays["X_train"] = arrays["X_train"].copy()
    arrays["X_train"][0, :, :5] = 0                  # N positions: all-zero columns are fine
    ds = load_dataset(raw_file(tmp_path / "ok.h5", arrays))   # float32, like Koo & Eddy's files
    np.testing.assert_array_equal(ds.train.X, arrays["X_train"])


def test_write_warns_once_with_a_count_about_constant_labels(tmp_path, splits):
    from motiflens.data.dataset import ConstantLabelWarning

    constant = {name: (X, Y.copy()) for name, (X, Y) in splits.items()}
    constant["valid"][1][:, 0] = 1                   # 'a' positive for every valid sequence
    constant["test"][1][:, 2] = 0                    # 'c' never positive in test
    with pytest.warns(ConstantLabelWarning) as record:
        write_dataset(tmp_path / "d.h5", constant, NAMES)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"{tmp_path / 'd.h5'}: 2 label/split pair(s)")
    assert "label 'a' in split 'valid' (all positive, 7 rows)" in message
    assert "label 'c' in split 'test' (all negative, 11 rows)" in message
    assert record[0].filename == __file__            # attributed to the caller
    with pytest.warns(ConstantLabelWarning, match=r"1 label/split pair\(s\).*label 'a' in split "
                                                  r"'valid' \(all positive"):
        with DatasetWriter(tmp_path / "w.h5", NAMES, length=LENGTH) as writer:
            for name, (X, Y) in constant.items():
                Y = Y.copy()
                if name == "test":
                    Y[:, 2] = splits["test"][1][:, 2]
                writer.append(name, X[:5], Y[:5])     # two batches: counts add up
                writer.append(name, X[5:], Y[5:])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantLabelWarning)
        write_dataset(tmp_path / "fine.h5", splits, NAMES)   # no constant label: no warning
