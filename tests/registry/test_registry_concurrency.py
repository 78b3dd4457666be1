"""Concurrent writers never get the same version number, nor leave a gap."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

from loopml.registry import ModelRegistry
from loopml.store import Store
from loopml.tracking import Run

THREADS = 6
PER_THREAD = 8


def test_concurrent_version_creation_gives_unique_numbers(store: Store, run: Run) -> None:
    # Half the writers go through a second Store (its own engines and pool), as a second
    # process would.
    second = Store(store.url)
    registries = [ModelRegistry(store, user="a"), ModelRegistry(second, user="b")]
    registries[0].create_model("m")
    source = f"runs:/{run.info.run_id}/model"

    def work(i: int) -> list[int]:
        registry = registries[i % 2]
        return [registry.create_version("m", source).version for _ in range(PER_THREAD)]

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            numbers = [n for batch in pool.map(work, range(THREADS)) for n in batch]
        total = THREADS * PER_THREAD
        assert sorted(numbers) == list(range(1, total + 1))
        stored = registries[0].search_versions("name = 'm'", order_by=["version_number"])
        assert [v.version for v in stored.versions] == list(range(1, total + 1))
        created = [e for e in registries[0].audit("m", limit=1000) if e.action == "create_version"]
        assert sorted(e.version or 0 for e in created) == list(range(1, total + 1))
    finally:
        second.dispose()


def test_concurrent_alias_moves_leave_one_consistent_alias(store: Store, run: Run) -> None:
    registry = ModelRegistry(store, user="a")
    registry.create_model("m")
    for _ in range(4):
        registry.create_version("m", f"runs:/{run.info.run_id}/model")

    def move(i: int) -> None:
        for _ in range(5):
            registry.set_alias("m", "champion", 1 + i % 4)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(move, range(4)))
    final = registry.get_model("m").aliases["champion"]
    history = [e for e in registry.audit("m", limit=1000) if e.alias == "champion"]
    # The log replays to the final state: each move starts where the previous one ended.
    assert history[0].after == {"version": final}
    for newer, older in itertools.pairwise(history):
        assert newer.before == older.after
