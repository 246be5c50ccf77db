"""The Backend conformance suite: every test runs against memory, sqlite and a real etcd."""

from __future__ import annotations

import asyncio

import pytest
from storage_harness import Store, summary, take

from kubelite.storage.backend import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
)


async def test_create_then_get(store: Store) -> None:
    db, key = store.backend, store.key("/a/one")
    revision = await db.create(key, b"v1")
    assert await db.get(key) == KeyValue(key, b"v1", revision, revision)
    assert await db.current_revision() == revision
    assert await db.get(store.key("/a/missing")) is None


async def test_create_twice_raises_key_exists(store: Store) -> None:
    db, key = store.backend, store.key("/a/one")
    revision = await db.create(key, b"v1")
    with pytest.raises(KeyExistsError) as caught:
        await db.create(key, b"v2")
    assert caught.value.key == key
    assert await db.get(key) == KeyValue(key, b"v1", revision, revision)
    assert await db.current_revision() == revision


async def test_update_with_expected_revision(store: Store) -> None:
    db, key = store.backend, store.key("/a/one")
    created = await db.create(key, b"v1")
    updated = await db.update(key, b"v2", created)
    assert updated == created + 1
    assert await db.get(key) == KeyValue(key, b"v2", created, updated)

    with pytest.raises(RevisionMismatchError) as caught:
        await db.update(key, b"stale", created)
    assert caught.value.current == KeyValue(key, b"v2", created, updated)
    assert await db.current_revision() == updated

    unconditional = await db.update(key, b"v3", 0)
    assert await db.get(key) == KeyValue(key, b"v3", created, unconditional)


async def test_update_of_missing_key_raises_not_found(store: Store) -> None:
    db = store.backend
    for expected in (0, 5):
        with pytest.raises(KeyNotFoundError):
            await db.update(store.key("/a/none"), b"v", expected)
    assert await db.get(store.key("/a/none")) is None


async def test_delete_leaves_a_tombstone_and_returns_the_prior_value(store: Store) -> None:
    db, key = store.backend, store.key("/a/one")
    created = await db.create(key, b"v1")
    updated = await db.update(key, b"v2", created)

    with pytest.raises(RevisionMismatchError) as caught:
        await db.delete(key, created)
    assert caught.value.current.mod_revision == updated

    deleted = await db.delete(key, updated)
    assert deleted == KeyValue(key, b"v2", created, updated + 1)
    assert await db.current_revision() == updated + 1
    assert await db.get(key) is None
    assert (await db.range(store.key("/a/"))).items == []
    with pytest.raises(KeyNotFoundError):
        await db.delete(key)
    with pytest.raises(KeyNotFoundError):
        await db.delete(key, updated)

    recreated = await db.create(key, b"again")
    assert await db.get(key) == KeyValue(key, b"again", recreated, recreated)
    gone = await db.delete(key)  # unconditional
    assert gone == KeyValue(key, b"again", recreated, recreated + 1)


async def test_revisions_increase_by_one_per_write_across_keys(store: Store) -> None:
    db = store.backend
    start = await db.current_revision()
    revisions = [
        await db.create(store.key("/r/a"), b"1"),
        await db.create(store.key("/r/b"), b"1"),
        await db.update(store.key("/r/a"), b"2", 0),
        (await db.delete(store.key("/r/b"))).mod_revision,
        await db.create(store.key("/r/b"), b"3"),
    ]
    assert revisions == list(range(start + 1, start + 6))
    assert await db.current_revision() == start + 5
    # failed writes do not consume revisions
    with pytest.raises(KeyExistsError):
        await db.create(store.key("/r/a"), b"x")
    assert await db.create(store.key("/r/c"), b"1") == start + 6


async def test_range_by_prefix_is_sorted_and_isolated(store: Store) -> None:
    db = store.backend
    for path in ("/a/b/y", "/a/bc/z", "/a/b/x", "/a/b", "/a/b/gone", "/a/a/w"):
        await db.create(store.key(path), path.encode())
    await db.delete(store.key("/a/b/gone"))

    result = await db.range(store.key("/a/b/"))
    assert [kv.key for kv in result.items] == [store.key("/a/b/x"), store.key("/a/b/y")]
    assert [kv.value for kv in result.items] == [b"/a/b/x", b"/a/b/y"]
    assert result.revision == await db.current_revision()
    assert result.more is False

    assert [kv.key for kv in (await db.range(store.key("/a/bc/"))).items] == [store.key("/a/bc/z")]
    everything = await db.range(store.key("/"))
    assert [kv.key for kv in everything.items] == [
        store.key(p) for p in ("/a/a/w", "/a/b", "/a/b/x", "/a/b/y", "/a/bc/z")
    ]
    item = (await db.range(store.key("/a/b/x"))).items[0]
    assert item.create_revision == item.mod_revision > 0


async def test_range_pages_with_limit_and_start_after(store: Store) -> None:
    db = store.backend
    keys = [store.key(f"/p/k{i:02d}") for i in range(25)]
    for key in reversed(keys):
        await db.create(key, b"v")
    await db.create(store.key("/q/after"), b"v")

    seen: list[str] = []
    start_after = ""
    pages = []
    while True:
        page = await db.range(store.key("/p/"), limit=10, start_after=start_after)
        pages.append((len(page.items), page.more))
        seen += [kv.key for kv in page.items]
        if not page.more:
            break
        start_after = page.items[-1].key
    assert pages == [(10, True), (10, True), (5, False)]
    assert seen == keys

    exact = await db.range(store.key("/p/"), limit=5, start_after=keys[19])
    assert [kv.key for kv in exact.items] == keys[20:] and exact.more is False
    # start_after before the prefix starts at the prefix
    first = await db.range(store.key("/p/"), limit=2, start_after=store.key("/a"))
    assert [kv.key for kv in first.items] == keys[:2] and first.more is True
    # start_after past the prefix finds nothing
    assert (await db.range(store.key("/p/"), start_after=store.key("/p0"))).items == []


async def test_range_at_a_past_revision(store: Store) -> None:
    db = store.backend
    a, b, c = store.key("/h/a"), store.key("/h/b"), store.key("/h/c")
    a1 = await db.create(a, b"a1")
    b1 = await db.create(b, b"b1")
    a2 = await db.update(a, b"a2", a1)
    await db.delete(b)
    c1 = await db.create(c, b"c1")

    then = await db.range(store.key("/h/"), revision=b1)
    assert then.revision == b1
    assert then.items == [KeyValue(a, b"a1", a1, a1), KeyValue(b, b"b1", b1, b1)]

    assert (await db.range(store.key("/h/"), revision=a1)).items == [KeyValue(a, b"a1", a1, a1)]
    paged = await db.range(store.key("/h/"), revision=b1, limit=1)
    assert [kv.key for kv in paged.items] == [a] and paged.more is True

    now = await db.range(store.key("/h/"))
    assert now.items == [KeyValue(a, b"a2", a1, a2), KeyValue(c, b"c1", c1, c1)]
    assert (await db.range(store.key("/h/"), revision=c1)).items == now.items
    after_delete = await db.range(store.key("/h/"), revision=c1 - 1)
    assert after_delete.items == [KeyValue(a, b"a2", a1, a2)] and after_delete.revision == c1 - 1


async def test_range_at_a_future_revision_fails(store: Store) -> None:
    db = store.backend
    await db.create(store.key("/f/a"), b"v")
    current = await db.current_revision()
    with pytest.raises(FutureRevisionError) as caught:
        await db.range(store.key("/f/"), revision=current + 10)
    assert caught.value.requested == current + 10


async def test_compaction_forgets_old_revisions(compacting_store: Store) -> None:
    store = compacting_store
    db = store.backend
    a, b, c = store.key("/c/a"), store.key("/c/b"), store.key("/c/c")
    a1 = await db.create(a, b"a1")
    await db.create(b, b"b1")
    a2 = await db.update(a, b"a2", a1)
    await db.delete(b)
    c1 = await db.create(c, b"c1")
    c2 = await db.update(c, b"c2", c1)

    await db.compact(c1)
    assert await db.compacted_revision() == c1
    with pytest.raises(CompactedError) as caught:
        await db.range(store.key("/c/"), revision=c1 - 1)
    assert caught.value.compacted == c1
    at_compaction = await db.range(store.key("/c/"), revision=c1)
    assert at_compaction.items == [KeyValue(a, b"a2", a1, a2), KeyValue(c, b"c1", c1, c1)]
    assert (await db.range(store.key("/c/"))).items == [
        KeyValue(a, b"a2", a1, a2),
        KeyValue(c, b"c2", c1, c2),
    ]
    assert await db.get(a) == KeyValue(a, b"a2", a1, a2)

    await db.compact(c1)  # again, and lower: nothing happens
    await db.compact(a1)
    assert await db.compacted_revision() == c1
    with pytest.raises(FutureRevisionError):
        await db.compact(c2 + 100)
    # writes go on after compaction
    assert await db.update(a, b"a3", a2) == c2 + 1


async def test_watch_from_zero_replays_history_then_follows(store: Store) -> None:
    db = store.backend
    x, y, other = store.key("/w/x"), store.key("/w/y"), store.key("/wz/other")
    x1 = await db.create(x, b"x1")
    await db.create(other, b"o")
    x2 = await db.update(x, b"x2", x1)
    y1 = await db.create(y, b"y1")
    x3 = (await db.delete(x)).mod_revision

    watch = db.watch(store.key("/w/"), 0)
    replayed = await take(watch, 4)
    assert [summary(e) for e in replayed] == [
        ("PUT", x, b"x1", x1, None, None),
        ("PUT", x, b"x2", x2, b"x1", x1),
        ("PUT", y, b"y1", y1, None, None),
        ("DELETE", x, b"x2", x3, b"x2", x2),
    ]
    assert replayed[3].kv.create_revision == x1

    await db.create(store.key("/wz/ignored"), b"no")  # outside the prefix
    y2 = await db.update(y, b"y2", y1)
    y3 = (await db.delete(y, y2)).mod_revision
    live = await take(watch, 2)
    assert [summary(e) for e in live] == [
        ("PUT", y, b"y2", y2, b"y1", y1),
        ("DELETE", y, b"y2", y3, b"y2", y2),
    ]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_from_current_revision_sees_only_new_events(store: Store) -> None:
    db = store.backend
    key = store.key("/n/k")
    first = await db.create(key, b"1")
    watch = db.watch(store.key("/n/"), await db.current_revision())
    second = await db.update(key, b"2", first)
    events = await take(watch, 1)
    assert [summary(e) for e in events] == [("PUT", key, b"2", second, b"1", first)]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_from_a_past_revision_replays_only_what_follows(store: Store) -> None:
    db = store.backend
    key = store.key("/m/k")
    revisions = [await db.create(key, b"0")]
    for i in range(1, 6):
        revisions.append(await db.update(key, str(i).encode(), revisions[-1]))
    watch = db.watch(store.key("/m/"), revisions[2])
    replayed = await take(watch, 3)
    assert [e.revision for e in replayed] == revisions[3:]
    assert [e.kv.value for e in replayed] == [b"3", b"4", b"5"]
    later = await db.update(key, b"6", revisions[-1])
    assert [e.revision for e in await take(watch, 1)] == [later]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_from_the_future_waits_for_its_revision(store: Store) -> None:
    db = store.backend
    key = store.key("/fut/k")
    now = await db.current_revision()
    watch = db.watch(store.key("/fut/"), now + 2)
    task = asyncio.ensure_future(take(watch, 1))
    await asyncio.sleep(0.05)
    first = await db.create(key, b"1")
    second = await db.update(key, b"2", first)
    third = await db.update(key, b"3", second)
    assert third == now + 3
    assert [e.revision for e in await task] == [third]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_below_compaction_fails_and_at_compaction_replays(compacting_store: Store) -> None:
    store = compacting_store
    db = store.backend
    key = store.key("/wc/k")
    first = await db.create(key, b"1")
    second = await db.update(key, b"2", first)
    third = await db.update(key, b"3", second)
    await db.compact(second)

    with pytest.raises(CompactedError) as caught:
        await take(db.watch(store.key("/wc/"), first - 1), 1)
    assert caught.value.compacted == second

    watch = db.watch(store.key("/wc/"), second - 1)  # first wanted revision == compacted revision
    events = await take(watch, 2)
    assert [(e.revision, e.kv.value) for e in events] == [(second, b"2"), (third, b"3")]
    assert events[1].prev == KeyValue(key, b"2", first, second)
    await watch.aclose()  # type: ignore[attr-defined]


async def test_concurrent_writers_lose_and_duplicate_no_revision(store: Store) -> None:
    db = store.backend
    hot = [store.key(f"/cc/hot{i}") for i in range(10)]
    for key in hot:
        await db.create(key, b"0")
    start = await db.current_revision()
    watch = db.watch(store.key("/cc/"), start)

    async def bump(index: int) -> int:
        return await db.update(hot[index // 2 % 10], str(index).encode(), 0)

    async def make(index: int) -> int:
        return await db.create(store.key(f"/cc/new{index:03d}"), str(index).encode())

    revisions = await asyncio.gather(*(make(i) if i % 2 else bump(i) for i in range(200)))
    assert sorted(revisions) == list(range(start + 1, start + 201))

    events = await take(watch, 200)
    assert [e.revision for e in events] == list(range(start + 1, start + 201))
    by_revision = {e.revision: e for e in events}
    for index, revision in enumerate(revisions):
        assert by_revision[revision].kv.value == str(index).encode()

    current = await db.range(store.key("/cc/"))
    assert len(current.items) == 110
    for key in hot:
        kv = await db.get(key)
        assert kv is not None
        last = max(r for i, r in enumerate(revisions) if i % 2 == 0 and hot[i // 2 % 10] == key)
        assert kv.mod_revision == last
    await watch.aclose()  # type: ignore[attr-defined]


async def test_close_ends_watches(store: Store) -> None:
    db = store.backend
    await db.create(store.key("/e/k"), b"v")
    watch = db.watch(store.key("/e/"), 0)
    assert len(await take(watch, 1)) == 1
    pending = asyncio.ensure_future(take(watch, 1))
    await asyncio.sleep(0.1)
    assert not pending.done()
    await db.close()
    assert await asyncio.wait_for(pending, 5) == []
