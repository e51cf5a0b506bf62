"""Tests of the in-process Tomtom (motiflens.interpret.tomtom and its tomtom_* modules).

The acceptance test compares with real MEME Tomtom 4.12.0 tables kept in
``tests/data/tomtom_reference`` (docs/TOMTOM.md, "Agreement with MEME Tomtom"): every row as
printed -- p, E, q, offset, overlap, orientation, consensus strings -- and the row order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiflens.errors import ConfigError, FormatError
from motiflens.interpret import tomtom_algorithm as alg
from motiflens.interpret import tomtom_null as null
from motiflens.interpret import tomtom_reference as reference
from motiflens.interpret.tomtom import (
    TSV_COLUMNS,
    format_agreement,
    TomtomConfig,
    TomtomHit,
    read_tomtom_tsv,
    run_tomtom,
    tomtom,
    write_tomtom_tsv,
)
from motiflens.interpret.tomtom_io import format_value
from motiflens.interpret.tomtom_qvalues import TomtomRandom
from motiflens.motifs import Motif, read_meme

REFERENCE = Path(__file__).resolve().parent / "data" / "tomtom_reference"


def _random_motifs(n: int, width: int | tuple[int, int], seed: int, prefix: str) -> list[Motif]:
    rng = np.random.default_rng(seed)
    motifs = []
    for i in range(n):
        w = width if isinstance(width, int) else int(rng.integers(width[0], width[1] + 1))
        motifs.append(Motif(f"{prefix}{i}", rng.dirichlet(np.full(4, 0.3), size=w).T))
    return motifs


@pytest.fixture(scope="module")
def database() -> list[Motif]:
    """60 random targets of widths 6-15 (enough for the q-value bootstrap: 2N > 100)."""
    return _random_motifs(60, (6, 15), seed=1, prefix="T")


# --------------------------------------------------------------------------------------------
# Hand-made behaviour
# --------------------------------------------------------------------------------------------
def test_identical_motif_is_best_hit_with_tiny_p(database):
    target = database[7]
    query = Motif("q", target.ppm.copy())
    res = run_tomtom([query], database, TomtomConfig(thresh=0.5))
    j = res.target_ids.index(target.id)
    assert res.pvalues.shape == (1, len(database))
    assert res.pvalues[0, j] == res.pvalues[0].min()
    assert res.pvalues[0, j] < 1e-6
    assert res.offsets[0, j] == 0 and res.overlaps[0, j] == target.width
    assert res.orientations[0, j] == "+"
    # E = p x N in float32, p's are probabilities
    np.testing.assert_array_equal(res.evalues, res.pvalues * np.float32(len(database)))
    assert np.all((res.pvalues > 0) & (res.pvalues <= 1))
    top = res.hits[0]
    assert (top.target_id, top.offset, top.overlap) == (target.id, 0, target.width)
    assert top.orientation == "+"
    assert top.query_consensus == top.target_consensus == target.consensus()


def test_reverse_complement_matches_on_minus_strand(database):
    target = database[3]
    query = Motif("rc", target.ppm[::-1, ::-1].copy())
    res = run_tomtom([query], database, TomtomConfig(thresh=0.5))
    j = res.target_ids.index(target.id)
    assert res.pvalues[0, j] == res.pvalues[0].min() and res.pvalues[0, j] < 1e-6
    assert res.orientations[0, j] == "-" and res.offsets[0, j] == 0
    hit = next(h for h in res.hits if h.target_id == target.id)
    assert hit.target_consensus == query.consensus()  # target shown in matched orientation


def test_single_strand_mode_misses_reverse_complement(database):
    target = database[3]
    query = Motif("rc", target.ppm[::-1, ::-1].copy())
    both = run_tomtom([query], database, TomtomConfig(thresh=1))
    single = run_tomtom([query], database, TomtomConfig(thresh=1, both_strands=False))
    j = both.target_ids.index(target.id)
    assert single.pvalues[0, j] > 1000 * both.pvalues[0, j]
    assert set(single.orientations.ravel()) == {"+"}


def test_embedded_motif_offset_and_min_overlap(database):
    """A target planted at column 5 of a noisy width-19 query is found at offset +5 (query
    column i <-> target column i + offset) and the overlap obeys min-overlap."""
    rng = np.random.default_rng(5)
    target = database[10]
    ppm = rng.dirichlet(np.ones(4), size=19).T
    ppm[:, 5 : 5 + target.width] = target.ppm
    res = run_tomtom([Motif("planted", ppm)], database, TomtomConfig(thresh=1))
    j = res.target_ids.index(target.id)
    assert res.offsets[0, j] == -5 and res.overlaps[0, j] == target.width
    assert res.pvalues[0, j] == res.pvalues[0].min()
    for m in (1, 5, 12):
        r = run_tomtom([Motif("planted", ppm)], database, TomtomConfig(min_overlap=m, thresh=1))
        need = np.minimum(min(m, 19), [t.width for t in database])
        assert np.all(r.overlaps[0] >= need)


def test_min_overlap_forbids_short_edge_alignment():
    """Query = last 3 columns of a motif; with min-overlap 5 it cannot align them alone."""
    rng = np.random.default_rng(2)
    targets = _random_motifs(40, 10, seed=3, prefix="T")
    edge = targets[0].ppm[:, -3:]
    query = Motif("edge", np.concatenate([edge, rng.dirichlet(np.ones(4), size=7).T], axis=1))
    free = run_tomtom([query], targets, TomtomConfig(thresh=1))
    assert free.offsets[0, 0] == 7 and free.overlaps[0, 0] == 3
    strict = run_tomtom([query], targets, TomtomConfig(thresh=1, min_overlap=5))
    assert strict.overlaps[0, 0] >= 5
    assert strict.pvalues[0, 0] > free.pvalues[0, 0]


def test_thresholds_and_one_row_per_target(database):
    queries = [Motif("self5", database[5].ppm.copy())] + _random_motifs(4, 12, seed=9, prefix="q")
    res = run_tomtom(queries, database, TomtomConfig(thresh=5.0))
    assert res.hits, "a self match must be reported"
    for qid in res.query_ids:
        rows = [h for h in res.hits if h.query_id == qid]
        assert len({h.target_id for h in rows}) == len(rows)
        assert [h.pvalue for h in rows] == sorted(h.pvalue for h in rows)
    assert all(h.evalue <= 5.0 for h in res.hits)
    # every pair below threshold is reported, with the matrix's values
    i = {q: n for n, q in enumerate(res.query_ids)}
    j = {t: n for n, t in enumerate(res.target_ids)}
    assert len(res.hits) == int((res.evalues.astype(np.float64) <= 5.0).sum())
    for h in res.hits:
        assert h.pvalue == res.pvalues[i[h.query_id], j[h.target_id]]
        assert h.offset == res.offsets[i[h.query_id], j[h.target_id]]
    by_q = run_tomtom(queries, database, TomtomConfig(evalue=False, thresh=0.5))
    assert by_q.hits and all(h.qvalue <= 0.5 for h in by_q.hits)
    assert tomtom(queries, database, TomtomConfig(thresh=5.0)) == res.hits


def test_pearson_distance_self_match(database):
    query = Motif("q", database[20].ppm.copy())
    res = run_tomtom([query], database, TomtomConfig(distance="pearson", thresh=1))
    assert res.target_ids[int(np.argmin(res.pvalues[0]))] == database[20].id


def test_qvalues_monotone_and_pi0_small_database():
    targets = _random_motifs(20, 8, seed=4, prefix="T")  # 2N = 40 <= 100: pi0 = 1
    queries = _random_motifs(3, 10, seed=6, prefix="q")
    res = run_tomtom(queries, targets, TomtomConfig(thresh=1000))
    for qid in res.query_ids:
        rows = [h for h in res.hits if h.query_id == qid]
        q = [h.qvalue for h in rows]
        assert q == sorted(q) and all(0 < v <= 1 for v in q)


def test_duplicate_ids_keep_first(database):
    dup = Motif(database[0].id, database[1].ppm.copy())
    res = run_tomtom([Motif("q", database[0].ppm.copy())], database + [dup])
    assert res.target_ids == [t.id for t in database]


def test_config_errors(database):
    with pytest.raises(ConfigError, match="distance"):
        TomtomConfig(distance="sandelin")
    with pytest.raises(ConfigError, match="q-value threshold"):
        TomtomConfig(evalue=False, thresh=2)
    with pytest.raises(ConfigError, match="min_overlap"):
        TomtomConfig(min_overlap=0)
    with pytest.raises(ConfigError, match="no target motifs"):
        run_tomtom(database[:1], [])


def test_no_queries_no_hits(database, tmp_path):
    """A layer whose filters are all dead has no queries: an empty report, not an error (the
    MEME file of no motifs written for it is refused as a query file, saying why)."""
    from motiflens.motifs import write_meme

    res = run_tomtom([], database)
    assert res.hits == [] and res.query_ids == [] and res.pvalues.shape == (0, len(database))
    write_meme([], tmp_path / "dead.meme")
    with pytest.raises(FormatError, match="filters are all dead"):
        read_meme(tmp_path / "dead.meme")


# --------------------------------------------------------------------------------------------
# Internals against naive implementations
# --------------------------------------------------------------------------------------------
def _column_pmfs_with_varied_supports(nq: int, ql: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.zeros((nq, ql, alg.BINS + 1))
    for j in range(nq):
        for i in range(ql):  # supports of different widths and offsets, one with a single value
            lo, w = int(rng.integers(0, 60)), int(rng.integers(1, 41)) if i else 1
            f[j, i, lo : lo + w] = rng.dirichlet(np.ones(w))
    return f


@pytest.mark.parametrize("max_len", [6, 3])
def test_range_tails_equal_naive_convolution(max_len):
    """Every range up to max_len columns, against np.convolve of the column pmfs."""
    ql = 6
    f = _column_pmfs_with_varied_supports(2, ql, seed=0)
    tails = null.range_tails(f, max_len)
    for j in range(2):
        for k in range(1, max_len + 1):
            for s in range(ql - k + 1):
                pmf = f[j, s]
                for i in range(s + 1, s + k):
                    pmf = np.convolve(pmf, f[j, i])
                want = np.cumsum(pmf[::-1])[::-1]
                y = np.arange(-3, alg.BINS * k + 5)
                got = tails.lookup(np.full(y.size, k), np.full(y.size, s),
                                   np.broadcast_to(y, (2, 1, y.size)).copy())[j, 0]
                inside = want[np.clip(y, 0, alg.BINS * k)]
                expect = np.where(y < 0, want[0], np.where(y <= alg.BINS * k, inside, 0))
                np.testing.assert_allclose(got, np.minimum(expect, 1.0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("block", [1, 5, 24, 200])
def test_range_tails_do_not_depend_on_block_or_group_size(monkeypatch, block):
    f = _column_pmfs_with_varied_supports(1, 9, seed=4)
    ref = null.range_tails(f, 7)
    monkeypatch.setattr(null, "CONV_BLOCK", block)
    monkeypatch.setattr(null, "START_GROUP", 2)
    got = null.range_tails(f, 7)
    k = np.repeat(np.arange(1, 8), 30)
    s = np.random.default_rng(1).integers(0, 10 - k)
    y = np.random.default_rng(2).integers(-2, 100 * 7 + 3, size=(1, 1, k.size))
    np.testing.assert_allclose(got.lookup(k, s, y), ref.lookup(k, s, y), rtol=1e-13, atol=0)


def test_lower_medians():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 12108):
        s = np.round(rng.random((5, n)) * 10) / 10  # ties included
        v = np.sort(s, axis=1)
        want = (v[:, max(n // 2 - 1, 0)] + v[:, max((n + 1) // 2 - 1, 0)]) / 2
        np.testing.assert_array_equal(alg.lower_medians(s), want)
        assert np.array_equal(s, np.round(s * 10) / 10)  # input untouched


def test_quantise_rounds_half_away_and_the_double_below_half_down():
    """off = 0, scale = 1, median 0: X is C round() of the raw value, 0.49999999999999994
    included (floor(x + 0.5) would give 1)."""
    below_half = np.nextafter(0.5, 0.0)
    raw = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, below_half, 0.5, 1.5, 2.5, 60.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.4999999999999996, 99.5, 0.0, 3.5]])
    m = alg.lower_medians(raw)
    assert list(m) == [0.0, 0.0]
    X = np.empty(raw.shape, dtype=np.int16)
    f = np.empty((2, alg.BINS + 1))
    Z = alg.quantise(raw.copy(), m, raw.min(axis=1) - m, raw.max(axis=1) - m, X, f)
    assert Z == 0
    np.testing.assert_array_equal(X, [[0, 0, 0, 0, 0, 0, 1, 2, 3, 60],
                                      [0, 0, 0, 0, 0, 0, 2, 100, 0, 4]])
    np.testing.assert_allclose(f.sum(axis=1), [1.0, 1.0], rtol=1e-15)
    assert f[0, 0] == 6 / 10 and f[1, 0] == 7 / 10 and f[1, 100] == 1 / 10


def _naive_tomtom_p(X: np.ndarray, Z: int, cols: list[np.ndarray], min_overlap: int):
    """Best alignment and p-value of one query against oriented targets, the slow way:
    every configuration scored by a loop, every range null by np.convolve, and the null of the
    best score as the pmf of the maximum built one alignment at a time (as Tomtom does)."""
    ql, T = X.shape
    f = np.stack([np.bincount(X[i], minlength=alg.BINS + 1) / T for i in range(ql)])
    out, start = [], 0
    for tc in cols:
        w = tc.shape[0]
        best = None
        lo, hi = (min(min_overlap, ql, w), ql + w - min(min_overlap, ql, w)) \
            if min_overlap > 1 else (1, ql + w - 1)
        for c in range(lo, hi + 1):
            pairs = [(i, i + c - ql) for i in range(ql) if 0 <= i + c - ql < w]
            C = sum(int(X[i, start + t]) for i, t in pairs) + (ql - len(pairs)) * Z
            if best is None or (C, len(pairs)) > (best[0], best[2]):
                best = (C, c - ql, len(pairs))
        pmf_max = np.zeros(alg.BINS * ql + 1)
        pmf_max[0] = 1.0
        for a in range(ql + w - 1):
            s = ql - 1 - a if a < ql else 0
            e = min(ql, s + w) - 1 if a < ql else min(ql, w + ql - 1 - a) - 1
            pmf = f[s]
            for i in range(s + 1, e + 1):
                pmf = np.convolve(pmf, f[i])
            pmf_c = np.zeros(alg.BINS * ql + 1)  # complete score: shifted by the unaligned Z
            shift = (ql - (e - s + 1)) * Z
            pmf_c[shift : shift + pmf.size] = pmf
            for _ in range(2):  # both strands
                cdf_m, cdf_c = np.cumsum(pmf_max) - pmf_max, np.cumsum(pmf_c) - pmf_c
                pmf_max = pmf_max * cdf_c + pmf_c * cdf_m + pmf_max * pmf_c
        out.append((pmf_max[best[0]:].sum(), best[1], best[2]))
        start += w
    return out


@pytest.mark.parametrize("ql,widths,min_overlap", [(30, (4, 7, 9), 1), (5, (9, 4, 12), 1),
                                                    (12, (3, 8, 15), 5)])
def test_compare_chunk_equals_naive_alignment_and_null(ql, widths, min_overlap):
    """Queries wider and narrower than the targets (the range nulls stop at the widest
    target), min-overlap, against the slow reference above."""
    rng = np.random.default_rng(ql)
    t_cols = [rng.dirichlet(np.full(4, 0.5), size=w) for w in widths]
    db, oriented = alg.build_database(t_cols, both_strands=True)
    queries = [rng.dirichlet(np.full(4, 0.5), size=ql) for _ in range(3)]
    p, offsets, overlaps = alg.compare_chunk(queries, db, "ed", min_overlap, mult=2)
    T = db.n_columns
    for j, q in enumerate(queries):
        X, f = np.empty((ql, T), dtype=np.int16), np.empty((ql, alg.BINS + 1))
        Z = alg.scaled_scores(q, db, "ed", X, f, np.empty((ql, T)), np.empty((ql, T)))
        # X is in width-group order: rebuild the oriented targets in that order
        order = np.concatenate([g.members for g in db.groups])
        naive = _naive_tomtom_p(X, Z, [oriented[m] for m in order], min_overlap)
        for (pv, off, ov), m in zip(naive, order):
            assert (offsets[j, m], overlaps[j, m]) == (off, ov)
            np.testing.assert_allclose(p[j, m], pv, rtol=1e-9)


def _genrand_1998(seed: int, n: int) -> list[int]:
    """Plain-Python MT19937 with the 1998 ``sgenrand`` seeding (independent reference)."""
    N, M = 624, 397
    mt = [seed & 0xFFFFFFFF]
    for i in range(1, N):
        mt.append((69069 * mt[i - 1]) & 0xFFFFFFFF)
    out, mti = [], N
    for _ in range(n):
        if mti >= N:
            for kk in range(N):
                y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % N] & 0x7FFFFFFF)
                mt[kk] = mt[(kk + M) % N] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            mti = 0
        y = mt[mti]
        mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        out.append(y)
    return out


def test_tomtom_random_generator_is_sgenrand_4357():
    rng = TomtomRandom()
    expect = _genrand_1998(4357, 1300)  # crosses two state regenerations
    u = rng.uniform(650)
    want = [(hi * 4294967296.0 + lo) * 2.0**-64 for hi, lo in zip(expect[::2], expect[1::2])]
    np.testing.assert_array_equal(u, want)


# --------------------------------------------------------------------------------------------
# tomtom.tsv
# --------------------------------------------------------------------------------------------
def test_tsv_round_trip(tmp_path, database):
    res = run_tomtom(_random_motifs(2, 12, seed=8, prefix="q") + [Motif("s", database[2].ppm)],
                     database, TomtomConfig(thresh=20))
    path = write_tomtom_tsv(res.hits, tmp_path / "out" / "tomtom.tsv", command="tomtom -test")
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(TSV_COLUMNS)
    assert lines[-1] == "# tomtom -test"
    back = read_tomtom_tsv(path)
    assert len(back) == len(res.hits)
    for a, b in zip(back, res.hits):
        assert (a.query_id, a.target_id, a.offset, a.overlap, a.orientation) == (
            b.query_id, b.target_id, b.offset, b.overlap, b.orientation)
        assert format_value(a.pvalue) == format_value(b.pvalue)
        assert format_value(a.qvalue) == format_value(b.qvalue)


def test_read_tsv_errors(tmp_path):
    with pytest.raises(FormatError, match="not found"):
        read_tomtom_tsv(tmp_path / "missing.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello\tworld\n")
    with pytest.raises(FormatError, match="header"):
        read_tomtom_tsv(bad)
    bad.write_text("\t".join(TSV_COLUMNS) + "\nq\tt\t0\t0.1\n")
    with pytest.raises(FormatError, match=r"bad\.tsv:2: row has 4 fields"):
        read_tomtom_tsv(bad)
    bad.write_text("\t".join(TSV_COLUMNS) + "\nq\tt\tx\t0.1\t1\t1\t3\tA\tA\t+\n")
    with pytest.raises(FormatError, match="bad number"):
        read_tomtom_tsv(bad)


def test_hit_is_plain_dataclass():
    hit = TomtomHit("q", "t", -1, 1e-5, 5e-3, 1e-2, 6, "ACGT", "ACGTAC", "+")
    assert hit.offset == -1 and hit.orientation == "+"


# --------------------------------------------------------------------------------------------
# Acceptance: real MEME Tomtom outputs
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def agreement() -> list[reference.Agreement]:
    return reference.compare_with_reference(REFERENCE)


def test_reference_data_is_in_the_repository():
    """The acceptance test never skips: its inputs and MEME's tables ship with the tests."""
    assert reference.REFERENCE_DIR == REFERENCE
    names = {p.name for p in REFERENCE.iterdir()}
    assert {reference.DATABASE_FILE, "queries_jaspar.meme", "queries_planted.meme"} <= names
    assert set(reference.REFERENCE_RUNS) <= names


def test_reference_files_all_compared(agreement):
    names = [a.file for a in agreement]
    expected = {p.name for p in REFERENCE.iterdir() if p.name.endswith((".tsv", ".tsv.gz"))}
    assert names == list(reference.REFERENCE_RUNS) and set(names) == expected
    assert len(names) == 10


def test_matches_meme_tomtom_row_by_row(agreement):
    """Every reference row, as printed: the same (query, target) pairs in the same order with
    identical p-, E- and q-values (%g of float32), offset, overlap, orientation and both
    consensus strings."""
    print("\n" + format_agreement(agreement))
    for a in agreement:
        assert a.same_pairs, f"{a.file}: reported (query, target) pairs differ"
        assert a.rows_ours == a.rows_ref, a.file
        assert a.rows_identical == 1.0, f"{a.file}: {a.first_difference}"
        assert a.pvalue == a.evalue == a.qvalue == a.qvalue_1pct == 1.0, a.file
        assert a.offset == a.overlap == a.orientation == a.consensus == 1.0, a.file
        assert a.rank_order == 1.0, a.file
    assert sum(a.rows_ref for a in agreement) == 108971


def test_direct_threshold_equals_rethresholded_full_run():
    """compare_with_reference thresholds one full run; the real thresholding path must agree
    (and must reproduce the paper-default reference file itself)."""
    db = read_meme(REFERENCE / "jaspar2016_vertebrates.meme")
    queries = read_meme(REFERENCE / "queries_jaspar.meme")
    direct = tomtom(queries, db, TomtomConfig())  # the paper's: ed, E <= 0.1, min-overlap 1
    full = run_tomtom(queries, db, TomtomConfig(thresh=1e9))
    assert direct == reference.rethreshold(full.hits, 0.1)
    ref = read_tomtom_tsv(REFERENCE / "jaspar__paper_default.tsv")
    assert [reference.printed_row(h) for h in direct] == [reference.printed_row(h) for h in ref]


def test_row_agreement_reports_the_first_difference():
    hit = TomtomHit("q", "t", -1, 1e-5, 5e-3, 1e-2, 6, "ACGT", "ACGTAC", "+")
    other = TomtomHit("q", "t", -1, 1.00001e-5, 5e-3, 1e-2, 6, "ACGT", "ACGTAC", "+")
    same = reference.row_agreement("x", [hit], [hit])
    assert same.rows_identical == 1.0 and same.first_difference == ""
    diff = reference.row_agreement("x", [hit], [other])
    assert diff.rows_identical == 0.0 and diff.pvalue == 0.0 and diff.offset == 1.0
    assert diff.first_difference.startswith("row 1: reference ('q', 't', -1, '1e-05'")


def test_threads_do_not_change_results(database):
    queries = _random_motifs(5, (8, 14), seed=12, prefix="q")
    one = run_tomtom(queries, database, TomtomConfig(thresh=10), n_jobs=1)
    two = run_tomtom(queries, database, TomtomConfig(thresh=10), n_jobs=2)
    np.testing.assert_array_equal(one.pvalues, two.pvalues)
    np.testing.assert_array_equal(one.qvalues, two.qvalues)
    assert one.hits == two.hits


# --------------------------------------------------------------------------------------------
# Command line: query formats, output place
# --------------------------------------------------------------------------------------------
def _cli_files(tmp_path, database):
    from motiflens.motifs import write_jaspar, write_meme

    queries = [Motif("s", database[2].ppm.copy(), nsites=20), Motif("t", database[5].ppm.copy())]
    write_meme(queries, tmp_path / "q.meme")
    write_jaspar(queries, tmp_path / "q.jaspar")
    write_meme(database, tmp_path / "db.meme")
    write_jaspar(database, tmp_path / "db.jaspar")
    return tmp_path / "q.meme", tmp_path / "q.jaspar", tmp_path / "db.meme", tmp_path / "db.jaspar"


def test_cli_accepts_the_same_formats_for_query_and_target(tmp_path, capsys, database):
    from motiflens.cli import main

    q_meme, q_jaspar, db_meme, db_jaspar = _cli_files(tmp_path, database)
    tables = {}
    for query in (q_meme, q_jaspar):
        for target in (db_meme, db_jaspar):
            out = tmp_path / f"{query.suffix}{target.suffix}.tsv"
            assert main(["tomtom", str(query), str(target), "--out", str(out)]) == 0, \
                capsys.readouterr().err
            tables[(query.suffix, target.suffix)] = [
                (h.query_id, h.target_id, h.offset) for h in read_tomtom_tsv(out)]
    first = tables[(".meme", ".meme")]
    assert ("s", database[2].id, 0) in first
    assert all(rows == first for rows in tables.values())


def test_cli_without_out_prints_the_table_and_writes_no_file(tmp_path, capsys, database,
                                                             monkeypatch):
    from motiflens.cli import main

    q_meme, _, db_meme, _ = _cli_files(tmp_path, database)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "tomtom.tsv").write_text("mine\n")
    assert main(["tomtom", str(q_meme), str(db_meme)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split("\t") == list(TSV_COLUMNS)
    assert any(line.startswith(f"s\t{database[2].id}\t0\t") for line in out.splitlines())
    assert "matches of 2 queries" in err and "->" not in err
    assert (work / "tomtom.tsv").read_text() == "mine\n"         # not overwritten
    assert sorted(p.name for p in work.iterdir()) == ["tomtom.tsv"]


def test_config_errors_name_the_cli_flags(tmp_path, capsys, database):
    from motiflens.cli import main

    with pytest.raises(ConfigError, match=r"q-value threshold must be <= 1 \(drop --qvalue"):
        TomtomConfig(evalue=False, thresh=2)
    q_meme, _, db_meme, _ = _cli_files(tmp_path, database)
    for flag, value in (("--min-overlap", "0"), ("--thresh", "-1"), ("--pseudocount", "-0.5")):
        assert main(["tomtom", str(q_meme), str(db_meme), flag, value]) == 2
        out, err = capsys.readouterr()
        assert f"({flag}) " in err and len(err.strip().splitlines()) == 1 and out == ""
