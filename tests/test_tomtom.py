"""Tests of the in-process Tomtom (motiflens.interpret.tomtom).

The acceptance test compares with real MEME Tomtom outputs in ``shared/reference/tomtom``
(next to the repository); it is skipped when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiflens.errors import ConfigError, FormatError
from motiflens.interpret import tomtom as tt
from motiflens.interpret.tomtom import (
    TSV_COLUMNS,
    TomtomConfig,
    TomtomHit,
    read_tomtom_tsv,
    run_tomtom,
    tomtom,
    write_tomtom_tsv,
)
from motiflens.motifs import Motif

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "tomtom"


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
    with pytest.raises(ConfigError):
        run_tomtom([], database)


# --------------------------------------------------------------------------------------------
# Internals against naive implementations
# --------------------------------------------------------------------------------------------
def test_range_tails_equal_naive_convolution():
    rng = np.random.default_rng(0)
    ql = 6
    f = np.zeros((ql, tt.BINS + 1))
    for i in range(ql):  # supports of different widths and offsets, one with a single value
        lo, w = int(rng.integers(0, 60)), int(rng.integers(1, 41)) if i else 1
        f[i, lo : lo + w] = rng.dirichlet(np.ones(w))
    tails = tt._range_tails(f)
    for k in range(1, ql + 1):
        for s in range(ql - k + 1):
            pmf = f[s]
            for i in range(s + 1, s + k):
                pmf = np.convolve(pmf, f[i])
            want = np.cumsum(pmf[::-1])[::-1]
            y = np.arange(-3, tt.BINS * k + 5)
            got = tails.lookup(np.full(y.size, k), np.full(y.size, s), y)
            inside = want[np.clip(y, 0, tt.BINS * k)]
            expect = np.where(y < 0, want[0], np.where(y <= tt.BINS * k, inside, 0))
            np.testing.assert_allclose(got, np.minimum(expect, 1.0), rtol=1e-12, atol=0)


def test_order_statistics_exact_including_fallback():
    rng = np.random.default_rng(3)
    for n in (101, 5000, 12108, 12109):
        for ties in (False, True):
            s = rng.random((7, n))
            if ties:
                s = np.round(s * 10) / 10
            k1, k2 = max(n // 2 - 1, 0), max((n + 1) // 2 - 1, 0)
            v1, v2 = tt._order_statistics(s, k1, k2)
            part = np.partition(s, sorted({k1, k2}), axis=1)
            np.testing.assert_array_equal(v1, part[:, k1])
            np.testing.assert_array_equal(v2, part[:, k2])
    # the strided sample sees only tiny values: bounds miss, the fallback must still be exact
    s = rng.random((3, 12108)) + 10.0
    s[:, ::16] = rng.random((3, s[:, ::16].shape[1])) * 1e-3
    v1, _ = tt._order_statistics(s, 6053, 6053)
    np.testing.assert_array_equal(v1, np.partition(s, 6053, axis=1)[:, 6053])


def test_round_half_away_from_zero():
    x = np.array([0.0, 0.49999999999999994, 0.5, 1.5, 2.5, 2.4999999999999996, 99.5, 100.0])
    np.testing.assert_array_equal(tt._round_half_away(x.copy()), [0, 0, 1, 2, 3, 2, 100, 100])


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
    rng = tt._TomtomRandom()
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
        assert tt._fmt(a.pvalue) == tt._fmt(b.pvalue) and tt._fmt(a.qvalue) == tt._fmt(b.qvalue)


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
def agreement():
    if not (REFERENCE / "jaspar2016_vertebrates.meme").exists():
        pytest.skip(f"reference Tomtom outputs not found at {REFERENCE}")
    return tt.compare_with_reference(REFERENCE)


def test_reference_files_all_compared(agreement):
    names = {a.file for a in agreement}
    expected = {p.name for p in REFERENCE.iterdir() if p.name.endswith((".tsv", ".tsv.gz"))
                and not p.name.endswith("_truth.tsv")}
    assert names == expected and len(names) == 10


def test_direct_threshold_equals_rethresholded_full_run():
    """compare_with_reference thresholds one full run; the real thresholding path must agree
    (and must reproduce the paper-default reference file itself)."""
    if not (REFERENCE / "jaspar2016_vertebrates.meme").exists():
        pytest.skip(f"reference Tomtom outputs not found at {REFERENCE}")
    from motiflens.motifs import read_meme

    db = read_meme(REFERENCE / "jaspar2016_vertebrates.meme")
    queries = read_meme(REFERENCE / "queries_jaspar.meme")
    direct = tomtom(queries, db, TomtomConfig())  # the paper's: ed, E <= 0.1, min-overlap 1
    full = run_tomtom(queries, db, TomtomConfig(thresh=1e9))
    assert direct == tt._rethreshold(full.hits, 0.1)
    ref = read_tomtom_tsv(REFERENCE / "jaspar__paper_default.tsv")
    fmt = [(h.query_id, h.target_id, h.offset, tt._fmt(h.pvalue), tt._fmt(h.evalue),
            tt._fmt(h.qvalue), h.overlap, h.query_consensus, h.target_consensus, h.orientation)
           for h in direct]
    assert fmt == [(h.query_id, h.target_id, h.offset, tt._fmt(h.pvalue), tt._fmt(h.evalue),
                    tt._fmt(h.qvalue), h.overlap, h.query_consensus, h.target_consensus,
                    h.orientation) for h in ref]


def test_matches_meme_tomtom(agreement):
    print("\n" + tt.format_agreement(agreement))
    for a in agreement:
        assert a.same_pairs, f"{a.file}: reported (query, target) pairs differ"
        assert a.rows_ours == a.rows_ref, a.file
        assert a.pvalue >= 0.999 and a.evalue >= 0.999, a.file
        assert a.qvalue_1pct == 1.0, a.file
        assert a.offset == a.overlap == a.orientation == 1.0, a.file
        assert a.consensus == 1.0, a.file


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
