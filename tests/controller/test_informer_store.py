from __future__ import annotations

from kube.informer import RECENT_DELETIONS, Store


def _obj(name: str, rv: int, **extra: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}, **extra}


def test_an_older_event_does_not_overwrite_our_newer_write() -> None:
    store = Store()
    store.write_through(_obj("a", 5, data=1))
    store.apply("MODIFIED", _obj("a", 4, data=0))
    assert store.get("ns", "a")["data"] == 1  # type: ignore[index]


def test_the_echo_of_our_own_write_is_not_news() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 3))
    store.write_through(_obj("a", 5))
    store.write_through(_obj("a", 6))
    assert store.apply("MODIFIED", _obj("a", 5)) == (None, store.get("ns", "a"))
    assert store.apply("MODIFIED", _obj("a", 6)) == (None, store.get("ns", "a"))
    assert store._written == {}


def test_a_change_our_write_answer_carried_is_news_once_its_event_comes() -> None:
    """Another client changed the object (resourceVersion 4) between our read (3) and our
    write (5); the write's answer carries that change into the cache, so the watch event for 4
    is older than the cache, but nobody has reacted to it: the handlers must hear of it."""
    store = Store()
    store.apply("ADDED", _obj("a", 3, spec="old"))
    store.write_through(_obj("a", 5, spec="new", status="written"))
    news, _ = store.apply("MODIFIED", _obj("a", 4, spec="new"))
    assert news is not None and news["status"] == "written"  # the newer, cached object
    assert store.apply("MODIFIED", _obj("a", 5, spec="new"))[0] is None
    assert store._written == {}


def test_a_write_that_changed_nothing_expects_no_echo() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 3))
    store.write_through(_obj("a", 3))
    assert store._written == {}


def test_a_newer_event_settles_the_echoes_it_passed() -> None:
    store = Store()
    store.write_through(_obj("a", 5))
    assert store.apply("MODIFIED", _obj("a", 7))[0] is not None
    assert store._written == {}


def test_a_deleted_object_stays_deleted_until_the_watch_says_so() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.mark_deleted("ns", "a")
    assert store.apply("MODIFIED", _obj("a", 2))[0] is None
    assert store.get("ns", "a") is None
    store.apply("DELETED", _obj("a", 3))
    assert store.apply("ADDED", _obj("a", 4))[0] is not None


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


def test_objects_the_filter_refuses_are_not_cached() -> None:
    store = Store(accept=lambda o: o["metadata"]["name"] == "default")
    store.replace_all([_obj("default", 1), _obj("builder", 1)])
    assert [o["metadata"]["name"] for o in store.objects("ns")] == ["default"]


def test_events_up_to_a_known_stale_version_are_ignored_even_for_an_uncached_object() -> None:
    """An apply to an object found to be someone else's (not in our label-filtered cache) is
    taken back; the apply's event, which carries our labels, may come after that."""
    store = Store()
    store.ignore_up_to("ns", "theirs", "7")
    assert store.apply("ADDED", _obj("theirs", 6)) == (None, None)
    assert store.apply("MODIFIED", _obj("theirs", 7)) == (None, None)
    assert store.get("ns", "theirs") is None
    assert store.apply("MODIFIED", _obj("theirs", 8))[0] is not None
    assert store._stale_up_to == {}


def test_a_deletion_or_our_next_write_ends_the_ignoring() -> None:
    store = Store()
    store.ignore_up_to("ns", "a", "7")
    store.apply("DELETED", _obj("a", 8))
    store.ignore_up_to("ns", "b", "7")
    store.write_through(_obj("b", 9))
    assert store._stale_up_to == {}


def test_a_relist_reports_objects_whose_echo_was_pending() -> None:
    """The change our write's answer carried would have been news when its event came; a relist
    ends the old watch, so it is reported as a change instead."""
    store = Store()
    store.replace_all([_obj("a", 3), _obj("b", 3)])
    store.write_through(_obj("a", 5))
    changes = store.replace_all([_obj("a", 5), _obj("b", 3)])
    assert [(t, o["metadata"]["name"]) for t, o, _ in changes] == [("MODIFIED", "a")]
    assert store._written == {}


def test_an_answer_older_than_a_reported_deletion_does_not_bring_the_object_back() -> None:
    """Someone deleted the object while our write's answer was on its way: a ghost in the cache
    would make the controller believe it still exists (and never create it again)."""
    store = Store()
    store.apply("ADDED", _obj("a", 3))
    store.apply("DELETED", _obj("a", 6))
    store.write_through(_obj("a", 5))
    assert store.get("ns", "a") is None and store._written == {}
    store.write_through(_obj("a", 8))  # created again by us, after the deletion
    assert store.get("ns", "a") is not None


def test_remembered_deletions_are_bounded() -> None:
    store = Store()
    for index in range(RECENT_DELETIONS + 10):
        store.apply("DELETED", _obj(f"o{index}", index + 1))
    assert len(store._deleted_at) == RECENT_DELETIONS
    assert ("ns", "o0") not in store._deleted_at
