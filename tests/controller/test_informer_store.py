from __future__ import annotations

from kube.informer import Store


def _obj(name: str, rv: int, **extra: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}, **extra}


def test_an_older_event_does_not_overwrite_our_newer_write() -> None:
    store = Store()
    store.write_through(_obj("a", 5, data=1))
    changed, _ = store.apply("MODIFIED", _obj("a", 4, data=0))
    assert not changed
    assert store.get("ns", "a")["data"] == 1  # type: ignore[index]


def test_an_event_we_already_wrote_through_is_not_a_change() -> None:
    store = Store()
    store.write_through(_obj("a", 5))
    assert store.apply("MODIFIED", _obj("a", 5)) == (False, store.get("ns", "a"))


def test_a_deleted_object_stays_deleted_until_the_watch_says_so() -> None:
    store = Store()
    store.apply("ADDED", _obj("a", 1))
    store.mark_deleted("ns", "a")
    assert store.apply("MODIFIED", _obj("a", 2))[0] is False
    assert store.get("ns", "a") is None
    store.apply("DELETED", _obj("a", 3))
    assert store.apply("ADDED", _obj("a", 4))[0] is True


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
