"""Routing without HTTP: weighted choice, sticky keys stable across replicas, versions, and
a swapped-out version freed only when the last request holding it ends."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.models import load_model
from loopml.serving import (
    Call,
    Endpoint,
    ModelInput,
    ModelPool,
    ModelRoute,
    RouteTable,
    ServedModel,
    ShadowRoute,
    Sticky,
)


@pytest.fixture
def versions(model_dirs: dict[str, Path]) -> Iterator[list[ServedModel]]:
    loaded = load_model(model_dirs["iris"])
    models = [ServedModel(loaded, name="iris", version=str(v)) for v in (1, 2, 3)]
    yield models
    for model in models:
        model.close()


def test_weighted_choice_follows_the_weights(versions: list[ServedModel]) -> None:
    routes = [ModelRoute(versions[0], 90), ModelRoute(versions[1], 10), ModelRoute(versions[2], 0)]
    endpoint = Endpoint("iris", routes, rng=random.Random(7))
    sequence = [endpoint.pick().version for _ in range(10_000)]
    picks = Counter(sequence)
    assert set(picks) == {"1", "2"}  # weight 0: reachable by version only
    assert 8_700 < picks["1"] < 9_300
    again = Endpoint("iris", routes, rng=random.Random(7))  # a seeded RNG repeats itself
    assert [again.pick().version for _ in range(10_000)] == sequence
    assert endpoint.pick("3") is versions[2]
    with pytest.raises(NotFound, match=r"no version '9'.*versions served: 1, 2, 3"):
        endpoint.pick("9")
    with pytest.raises(InvalidInput, match="weight above 0"):
        RouteTable((ModelRoute(versions[0], 0),))


def test_sticky_keys_pin_a_caller_on_every_replica(versions: list[ServedModel]) -> None:
    routes = [ModelRoute(versions[0], 1), ModelRoute(versions[1], 1)]
    one = Endpoint("iris", routes, rng=random.Random(1))
    other = Endpoint("iris", routes, rng=random.Random(2))  # another replica
    keys = [f"user-{i}" for i in range(2_000)]
    first = [one.pick(key=k).version for k in keys]
    assert first == [other.pick(key=k).version for k in keys]
    assert first == [one.pick(key=k).version for k in keys]  # every time
    assert 850 < first.count("1") < 1_150  # and still split by the weights
    # The same in another interpreter (Python's own hash() would differ there).
    code = (
        "from loopml.serving._routing import _unit; "
        "print(','.join(str(_unit('iris', f'user-{i}')) for i in range(5)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from loopml.serving._routing import _unit

    assert out.stdout.strip() == ",".join(str(_unit("iris", f"user-{i}")) for i in range(5))


def test_sticky_field_reads_the_key_from_the_rows(versions: list[ServedModel]) -> None:
    routes = [ModelRoute(versions[0], 1), ModelRoute(versions[1], 1)]
    table = RouteTable(tuple(routes), sticky=Sticky(field="sepal length (cm)"))
    endpoint = Endpoint.of("iris", table, rng=random.Random(3))
    pool = ModelPool([endpoint])

    async def call(first: float) -> str | None:
        request = Call(pool, endpoint, protocol="v2")

        async def parse(model: ServedModel) -> ModelInput:
            return model.schema.from_rows([[first, 3.5, 1.4, 0.2]])

        await request.predict(parse, ["predict"])
        request.finish(200)
        return request.model.version

    async def main() -> list[str | None]:
        return [await call(v / 10) for v in range(40, 80) for _ in range(3)]

    answers = asyncio.run(main())
    by_key = [answers[i : i + 3] for i in range(0, len(answers), 3)]
    assert all(len(set(group)) == 1 for group in by_key)  # one key, one version
    assert {g[0] for g in by_key} == {"1", "2"}
    assert all(m.in_use == 0 for m in versions)
    pool.close()


def test_a_swapped_out_version_is_freed_after_its_last_request(
    versions: list[ServedModel],
) -> None:
    old, new, shadow = versions
    endpoint = Endpoint("iris", [ModelRoute(old)])
    pool = ModelPool([endpoint])
    held = Call(pool, endpoint, protocol="v2")  # a request in flight on the old version
    assert held.model is old and old.in_use == 1
    pool.install(endpoint, RouteTable((ModelRoute(new),), (ShadowRoute(shadow, 0.5),)))
    assert endpoint.pick() is new and endpoint.swaps == 1
    assert old.retired and not old.closed  # its request is still running
    held.finish(200)
    assert old.closed and old.in_use == 0
    assert [m.version for m in endpoint.models] == ["2", "3"] and not new.closed
    status = endpoint.status()
    assert status["shadows"][0]["share"] == 0.5 and status["last_error"] is None
    pool.close()
    assert new.closed and shadow.closed


def test_calls_refuse_bad_request_ids(versions: list[ServedModel]) -> None:
    endpoint = Endpoint("iris", [ModelRoute(versions[0])])
    pool = ModelPool([endpoint])
    call = Call(pool, endpoint, protocol="v2")
    assert len(call.request_id) == 32  # a uuid4, made when first asked
    call.finish(200)
    for bad in ("", "x" * 129, "tab\there"):
        with pytest.raises(InvalidInput, match="request id"):
            Call(pool, endpoint, protocol="v2", request_id=bad)
    assert versions[0].in_use == 0
    pool.close()
