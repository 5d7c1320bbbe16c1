"""The Store has one writer, the watch; a writer's own writes are expectations it waits on."""

from __future__ import annotations

import threading

from kube.informer import Store, selector_matches


def _obj(name: str, rv: int, **extra: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}, **extra}


def test_our_write_is_not_in_the_cache_until_the_watch_delivers_it() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 3, data=0))
    store.expect(_obj("a", 5, data=1))
    assert store.get("ns", "a")["data"] == 0  # type: ignore[index]
    assert store.current("ns", "a", timeout=0) == (_obj("a", 3, data=0), False)
    store.apply("MODIFIED", _obj("a", 5, data=1))
    assert store.current("ns", "a", timeout=0) == (_obj("a", 5, data=1), True)


def test_another_writers_change_before_our_write_is_news_and_settles_nothing() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 3))
    store.expect(_obj("a", 5))
    news, _ = store.apply("MODIFIED", _obj("a", 4, spec="theirs"))
    assert news is not None and news["spec"] == "theirs"  # someone else's change came first
    assert store.current("ns", "a", timeout=0)[1] is False
    store.apply("MODIFIED", _obj("a", 5))
    assert len(store.expectations) == 0


def test_a_change_a_no_op_apply_returned_is_still_news() -> None:
    """Our apply changed nothing, and its answer is another writer's state (resourceVersion 4)
    the watch has not delivered yet: when it comes, the handlers hear of it (before, it was
    taken for our echo and swallowed: the last note's first known hole)."""
    store = Store()
    store.apply("ADDED", _obj("a", 3, status="old"))
    store.expect(_obj("a", 4, status="flux wrote this"))
    news, _ = store.apply("MODIFIED", _obj("a", 4, status="flux wrote this"))
    assert news is not None and news["status"] == "flux wrote this"


def test_a_newer_event_settles_the_echo_it_passed() -> None:
    store = Store()
    store.expect(_obj("a", 5))
    assert store.apply("MODIFIED", _obj("a", 7))[0] is not None
    assert len(store.expectations) == 0


def test_a_read_waits_for_the_watch_then_sees_our_write() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 3))
    store.expect(_obj("a", 4, data="ours"))
    timer = threading.Timer(0.05, store.apply, ("MODIFIED", _obj("a", 4, data="ours")))
    timer.start()
    cached, caught_up = store.current("ns", "a", timeout=10)
    timer.join()
    assert caught_up and cached is not None and cached["data"] == "ours"


def test_our_deletion_is_waited_for() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.expect_deletion("ns", "a")
    assert store.expectations.deleting(("ns", "a"))
    assert store.current("ns", "a", timeout=0)[1] is False
    store.apply("DELETED", _obj("a", 2))
    assert store.current("ns", "a", timeout=0) == (None, True)
    assert store.apply("ADDED", _obj("a", 4))[0] is not None


def test_deleting_what_the_cache_never_held_expects_nothing() -> None:
    store = Store()
    store.expect_deletion("ns", "gone")
    assert len(store.expectations) == 0


def test_a_delete_then_create_waits_for_the_new_object_not_the_old_ones_deletion() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.expect_deletion("ns", "a")
    store.expect(_obj("a", 5))  # created again (an immutable field changed)
    store.apply("DELETED", _obj("a", 3))
    assert store.current("ns", "a", timeout=0)[1] is False
    store.apply("ADDED", _obj("a", 5))
    assert store.current("ns", "a", timeout=0)[1] is True


def test_a_relist_settles_what_it_shows_and_what_it_no_longer_has() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.apply("ADDED", _obj("b", 1))
    store.expect(_obj("a", 6))
    store.expect_deletion("ns", "b")
    store.expect(_obj("c", 9))
    changes = store.replace_all([_obj("a", 6)])
    assert sorted((t, o["metadata"]["name"]) for t, o, _ in changes) == [
        ("DELETED", "b"),
        ("MODIFIED", "a"),
    ]
    assert len(store.expectations) == 0  # a listed, b and c gone


def test_a_relist_reports_only_what_changed() -> None:
    store = Store()
    store.replace_all([_obj("a", 1), _obj("b", 1)])
    changes = store.replace_all([_obj("a", 1), _obj("b", 2), _obj("c", 1)])
    assert sorted((t, o["metadata"]["name"]) for t, o, _ in changes) == [
        ("ADDED", "c"),
        ("MODIFIED", "b"),
    ]
    changes = store.replace_all([_obj("c", 1)])
    assert sorted((t, o["metadata"]["name"]) for t, o, _ in changes) == [
        ("DELETED", "a"),
        ("DELETED", "b"),
    ]


def test_objects_the_filter_refuses_are_not_cached_nor_waited_for() -> None:
    store = Store(accept=lambda o: o["metadata"]["name"] == "default")
    store.apply("ADDED", _obj("other", 1))
    assert store.get("ns", "other") is None
    store.expect(_obj("other", 2))
    assert len(store.expectations) == 0


def test_a_write_the_watch_will_not_deliver_is_not_waited_for() -> None:
    """An apply that took our label off (or an object outside the informer's selector) has no
    echo in this cache: nothing waits for it, and an earlier expectation goes."""
    store = Store(holds=lambda o: (o["metadata"].get("labels") or {}).get("m") == "t")
    store.expect({**_obj("a", 2), "metadata": {**_obj("a", 2)["metadata"], "labels": {"m": "t"}}})
    assert len(store.expectations) == 1
    store.expect(_obj("a", 3))
    assert len(store.expectations) == 0


def test_a_replay_older_than_the_cache_is_ignored() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 5, data=1))
    assert store.apply("MODIFIED", _obj("a", 4, data=0)) == (None, _obj("a", 5, data=1))
    assert store.get("ns", "a")["data"] == 1  # type: ignore[index]


def test_equality_selectors_match_labels() -> None:
    labelled = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert selector_matches("a=1,b=2", labelled)
    assert not selector_matches("a=2", labelled)
    assert selector_matches(None, labelled)
    assert selector_matches("a!=2", labelled)  # not an equality selector: taken as matching


def test_an_answer_after_the_watch_reported_the_deletion_is_not_waited_for() -> None:
    """The answer to the write that removed the last finalizer (or to a Namespace's delete)
    can come after the DELETED event: it must not leave an expectation nothing will settle."""
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.apply("DELETED", _obj("a", 3))
    lingering = _obj("a", 2)
    lingering["metadata"]["deletionTimestamp"] = "2026-12-08T00:00:00Z"
    store.expect(lingering)
    store.expect_deletion("ns", "a")
    assert len(store.expectations) == 0
