"""FaissIndex past its approximate threshold: exact small scopes, recall, background builds, snapshots."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from memlayer.vectors import ann as ann_mod
from memlayer.vectors.faiss import FaissIndex

DIMS = 32


def clustered(n: int, seed: int = 0, centers: int = 40, noise: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, DIMS)).astype(np.float32)
    x = c[rng.integers(0, centers, n)] + noise * rng.standard_normal((n, DIMS)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None):
    if allowed is not None:
        pick = np.isin(ids, allowed)
        vectors, ids = vectors[pick], ids[pick]
    scores = vectors @ q
    order = np.lexsort((ids, -scores))[:k]
    return scores[order], ids[order]


def filled(n: int, **options) -> tuple[FaissIndex, np.ndarray, np.ndarray]:
    vectors = clustered(n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    index = FaissIndex(DIMS, **{"approximate_after": n // 2, "background": False, **options})
    for s in range(0, n, 500):
        index.add(ids[s:s + 500], vectors[s:s + 500])
    return index, vectors, ids


def test_small_scopes_stay_exact_after_the_switch():
    index, vectors, ids = filled(3000)
    assert index.approximate_ready and index.builds == 1
    owner = ids % 30  # 30 users of 100 rows
    rng = np.random.default_rng(1)
    for user in range(30):
        allowed = ids[owner == user]
        for q in clustered(3, seed=user + 10):
            got_s, got_i = index.search(q, 10, allowed)
            want_s, want_i = exact(vectors, ids, q, 10, allowed)
            assert got_i.tolist() == want_i.tolist()
            np.testing.assert_allclose(got_s, want_s, rtol=1e-5, atol=1e-6)
    few = rng.choice(ids, 3, replace=False)
    assert sorted(index.search(vectors[0], 10, few)[1].tolist()) == sorted(few.tolist())  # k > set: all of it


def test_large_scopes_and_global_search_reach_the_recall_target():
    index, vectors, ids = filled(6000)
    assert index.approximate is not None and index.approximate["recall"] >= 0.95
    calls = []
    real = index._ann.candidates  # type: ignore[union-attr]
    index._ann.candidates = lambda *a, **kw: calls.append(1) or real(*a, **kw)  # type: ignore[union-attr]
    rng = np.random.default_rng(2)
    half = np.sort(rng.choice(ids, 4000, replace=False))
    for allowed in (None, half):
        hits = 0
        for q in clustered(50, seed=7):
            got = index.search(q, 10, allowed)[1]
            hits += len(set(got.tolist()) & set(exact(vectors, ids, q, 10, allowed)[1].tolist()))
            assert allowed is None or set(got.tolist()) <= set(allowed.tolist())
        assert hits / 500 >= 0.95
    assert len(calls) == 100  # both went through the approximate index


def test_approximate_misses_fall_back_to_exact():
    index, vectors, ids = filled(3000)
    index._ann.candidates = lambda *a, **kw: np.empty(0, np.int64)  # type: ignore[union-attr]
    for allowed in (None, ids[::2]):
        got = index.search(vectors[5], 10, allowed)
        assert got[1].tolist() == exact(vectors, ids, vectors[5], 10, allowed)[1].tolist()


def test_background_build_does_not_block_searches_and_catches_up(monkeypatch):
    release = threading.Event()
    real_build = ann_mod.build

    def slow_build(*args, **kwargs):
        assert release.wait(30)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(ann_mod, "build", slow_build)
    vectors = clustered(4000, seed=3)
    ids = np.arange(1, 4001, dtype=np.int64)
    index = FaissIndex(DIMS, approximate_after=2000, background=True)
    index.add(ids[:3000], vectors[:3000])  # crosses the threshold: the build starts and blocks
    start = time.perf_counter()
    for q in vectors[:20]:  # searches run (exactly) meanwhile
        assert index.search(q, 5)[1][0] == ids[np.argmax(vectors[:3000] @ q)]
    assert time.perf_counter() - start < 5 and not index.approximate_ready
    index.add(ids[3000:], vectors[3000:])  # writes during the build ...
    index.remove(ids[:100])
    index.add(ids[200:210], vectors[3990:4000])  # ... including re-embedded rows
    release.set()
    assert index.wait_ready(60) and index.builds == 1
    ann = index._ann
    assert ann is not None and len(ann) == len(index) == 3900
    got = ann.candidates(vectors[3995], 50)
    assert 206 in got.tolist() and not set(got.tolist()) & set(range(1, 101))


def test_snapshot_reload_keeps_the_approximate_index(tmp_path: Path):
    index, vectors, ids = filled(3000)
    index.remove(ids[:10])
    path = str(tmp_path / "v.snap")
    index.save(path)
    again = FaissIndex(DIMS, approximate_after=1500)
    again.load(path)
    assert again.approximate_ready and again.builds == 0 and len(again) == 2990
    assert again.approximate == index.approximate
    for q in vectors[20:30]:
        assert again.search(q, 10)[1].tolist() == index.search(q, 10)[1].tolist()
    # the reloaded index (rows memory-mapped copy-on-write) keeps taking writes; the file does not change
    before = Path(path).read_bytes()
    again.add(np.array([5000]), vectors[:1])
    again.remove(ids[10:20])
    assert again.search(vectors[0], 2, np.array([5000, 30]))[1][0] == 5000
    assert len(again) == 2981 and len(again._ann) == 2981  # type: ignore[arg-type]
    assert Path(path).read_bytes() == before


def test_save_continues_on_the_written_file_and_compacts(tmp_path: Path):
    index, vectors, ids = filled(2000, approximate_after=None)
    index.remove(ids[:500])
    index.save(str(tmp_path / "a"))
    assert index._store.dead == 0 and len(index) == 1500
    assert index.reconstruct_batch(ids[500:503]).tolist() == vectors[500:503].tolist()
    with pytest.raises(KeyError):
        index.reconstruct_batch(ids[:1])


@pytest.mark.parametrize("approximate", [True, False])
def test_a_save_writes_the_state_it_started_from_while_writes_and_searches_go_on(tmp_path: Path, monkeypatch,
                                                                                 approximate: bool):
    index, vectors, ids = filled(3000, approximate_after=1500 if approximate else None)
    assert index.approximate_ready == approximate
    picture = {int(i): v for i, v in zip(ids, vectors, strict=True)}
    fresh = clustered(20, seed=9)
    write = FaissIndex._write

    def meanwhile(self, *args):  # another thread's writes and searches while the file is written
        def other() -> None:
            self.remove(ids[:10])  # removed: their rows read as zeros from here on
            self.add(ids[10:20], fresh[:10])  # re-embedded
            self.add(np.arange(5001, 5011), fresh[10:])  # new
            self.search(vectors[0], 5)

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "a write or search waited for the save"
        return write(self, *args)

    monkeypatch.setattr(FaissIndex, "_write", meanwhile)
    path = str(tmp_path / "v.snap")
    assert index.save(path) == 3000  # the picture's count, not the index's now

    saved = FaissIndex(DIMS, approximate_after=None)
    saved.load(path)
    assert sorted(saved.ids().tolist()) == sorted(picture)
    kept = ids[20:]  # (a row removed or re-embedded meanwhile may be written as zeros: the log replays it)
    assert np.array_equal(saved.reconstruct_batch(kept), np.stack([picture[int(i)] for i in kept]))
    if approximate:
        assert len(saved._ann) == 3000  # type: ignore[arg-type]
    # the index went on from the file, with what was written meanwhile redone
    now = dict(picture)
    for i in ids[:10]:
        del now[int(i)]
    now.update({int(i): v for i, v in zip([*ids[10:20], *range(5001, 5011)], fresh, strict=True)})
    assert index._store.dead == 20  # continued on the file: the 20 rows it holds that were touched, tombstoned
    assert sorted(index.ids().tolist()) == sorted(now)
    assert np.array_equal(index.reconstruct_batch(np.array(sorted(now))), np.stack([now[i] for i in sorted(now)]))
    assert index.search(fresh[3], 1, np.arange(1, 101))[1].tolist() == [int(ids[13])]  # (exact: a small set)


def ann_ids(index: FaissIndex) -> list[int]:
    """The ids the approximate index holds."""
    assert index._ann is not None
    lists = faiss.extract_index_ivf(index._ann.index).invlists
    return sorted(int(i) for n in range(lists.nlist) if lists.list_size(n)
                  for i in faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)))


@pytest.mark.parametrize("fails", [False, True])
def test_a_save_writes_the_approximate_index_as_it_stands_and_applies_the_writes_made_meanwhile_after(
        tmp_path: Path, monkeypatch, fails: bool):
    index, vectors, ids = filled(3000, approximate_after=1500)
    held, fresh = index._ann, clustered(20, seed=9)
    new = np.arange(5001, 5011)
    holder = {**{int(i): j for j, i in enumerate(ids[10:20])}, **{int(i): 10 + j for j, i in enumerate(new)}}
    write = FaissIndex._write
    seen: dict[str, list] = {}

    def meanwhile(self, path, rows, ann):
        assert ann is held  # written as it stands: no copy is taken under the lock

        def other() -> None:
            self.remove(ids[:10])
            self.add(ids[10:20], fresh[:10])  # re-embedded
            self.add(new, fresh[10:])
            # searches through the approximate index (the whole index; large sets) see every write already
            seen["whole"] = [self.search(v, 1)[1].tolist() for v in fresh]
            seen["removed"] = [self.search(v, 3)[1].tolist() for v in vectors[:10]]
            big = np.concatenate([ids[:2000], new[:5]])
            seen["inside"] = [self.search(v, 1, big)[1].tolist() for v in fresh]
            seen["ntotal"] = [int(held.index.ntotal)]

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "a write or search waited for the save"
        if fails:
            raise OSError("disk full")
        return write(self, path, rows, ann)

    monkeypatch.setattr(FaissIndex, "_write", meanwhile)
    if fails:
        with pytest.raises(OSError):
            index.save(str(tmp_path / "v.snap"))
    else:
        assert index.save(str(tmp_path / "v.snap")) == 3000
    assert seen["ntotal"] == [3000]  # left alone while it was written
    assert seen["whole"] == [[i] for i in [*ids[10:20].tolist(), *new.tolist()]]
    assert not {i for found in seen["removed"] for i in found} & set(ids[:10].tolist())
    assert seen["inside"][:15] == [[i] for i in [*ids[10:20].tolist(), *new[:5].tolist()]]
    assert not {i for found in seen["inside"][15:] for i in found} & set(new[5:].tolist())
    # once written (or failed), the approximate index holds what the index holds, with the new vectors
    assert index._ann is held and index._held is None and index._saving is None
    assert ann_ids(index) == sorted(index.ids().tolist())
    for i, j in holder.items():
        assert i in index._ann.candidates(fresh[j], 10).tolist()
    assert [index.search(v, 1)[1].tolist() for v in fresh] == seen["whole"]


def test_loads_snapshots_written_by_the_flat_faiss_index(tmp_path: Path):
    vectors = clustered(100)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMS))
    old.add_with_ids(vectors, np.arange(10, 110, dtype=np.int64))
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    index = FaissIndex(DIMS)
    index.load(str(tmp_path / "old.faiss"))
    assert sorted(index.ids().tolist()) == list(range(10, 110))
    assert index.search(vectors[7], 1)[1].tolist() == [17]


def test_flat_kind_never_builds_and_bad_options_are_rejected():
    index, _, _ = filled(1000, kind="flat")
    assert not index.approximate_ready and index.approximate_after is None
    with pytest.raises(ValueError):
        FaissIndex(DIMS, kind="hnsw")
    with pytest.raises(ValueError):
        index.add(np.array([-1]), np.zeros((1, DIMS), np.float32))


def test_memory_uses_the_configured_threshold_and_reopens_without_rebuilding(tmp_path: Path, hash_embedder):
    from memlayer import Memory

    spec = {"provider": "faiss", "config": {"approximate_after": 150, "background": False}}
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, vector_index=spec) as m:
        m.bulk_add([{"text": f"note {i} about {i % 7} things", "user_id": f"u{i % 3}"} for i in range(300)],
                   progress=False)
        assert m.async_memory.vectors.index.approximate_ready
        first = m.search("note about 3 things", user_id="u1", limit=5)["results"]
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, vector_index=spec) as m:
        assert m.async_memory.vectors.rebuilt_reason is None
        assert m.async_memory.vectors.index.approximate_ready
        assert m.search("note about 3 things", user_id="u1", limit=5)["results"] == first


def test_a_running_build_is_cancelled_and_joined_at_exit(tmp_path: Path):
    import subprocess
    import sys
    import textwrap

    marker = tmp_path / "cancelled"
    script = textwrap.dedent(f"""
        import time
        import numpy as np
        from memlayer.vectors import ann as ann_mod
        from memlayer.vectors.faiss import FaissIndex

        def endless(rows, *, cancelled, **kw):
            while not cancelled():
                time.sleep(0.01)
            open({str(marker)!r}, "w").close()
            return None

        ann_mod.build = endless
        index = FaissIndex(8, approximate_after=10)
        index.add(np.arange(20), np.eye(8, dtype=np.float32)[np.arange(20) % 8])
        assert index._build is not None
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker.exists()
