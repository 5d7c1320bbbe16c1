"""YAML in and out, safely: no code is ever constructed from input, and output has no aliases."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def dump_all(objs: Iterable[Any]) -> str:
    return yaml.dump_all(
        list(objs), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100
    )


class DocumentError(ValueError):
    """Input that is not YAML, or too big; the message gives the source (line and column)."""


MIB = 1024 * 1024
MAX_INPUT_BYTES = 3 * MIB
"""The most read from one file or stdin: kube-apiserver's limit on a request body."""
MAX_OBJECT_BYTES = 3 * MIB // 2
"""The most one document may hold once its aliases are expanded: what etcd stores by default
(`--max-request-bytes`, 1.5 MiB). The API server would refuse a bigger object, so the offline
checks and `publish` refuse it too."""
MAX_DEPTH = 100
"""Nesting of maps and lists in one document."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_bounds(root: yaml.Node, source: str) -> None:
    """Refuse a document whose expansion (aliases repeated where they are used) would be
    bigger than `MAX_OBJECT_BYTES` or deeper than `MAX_DEPTH`, or that refers to itself, before
    anything is built from it: each node is measured once, so an alias bomb costs its text."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    where = f"{source}:{root.start_mark.line + 1}"
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if not leaving:
            if key in size:
                continue
            on_path.add(key)
            stack.append((node, True))
            for child in _children(node):
                if id(child) in on_path:
                    raise DocumentError(f"{where}: a YAML alias refers to itself")
                if id(child) not in size:
                    stack.append((child, False))
            continue
        on_path.discard(key)
        children = _children(node)
        own = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        size[key] = own + 2 + sum(size[id(c)] for c in children)
        depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        if size[key] > MAX_OBJECT_BYTES:
            raise DocumentError(
                f"{where}: the document would be larger than {MAX_OBJECT_BYTES // 1024} KiB once "
                "its aliases are expanded: more than the API server stores in one object "
                "(etcd's --max-request-bytes)"
            )
        if depth[key] > MAX_DEPTH:
            raise DocumentError(f"{where}: nested more than {MAX_DEPTH} levels deep")


def load_all(text: str, source: str) -> list[Any]:
    """Every document of `text` (empty ones left out), each bounded in size and depth."""
    if len(text) > MAX_INPUT_BYTES:
        raise DocumentError(_too_large(source))
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise DocumentError(_unreadable(exc, source)) from None
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_bounds(node, source)
            doc = loader.construct_document(node)
            if doc is not None:
                docs.append(doc)
    except yaml.reader.ReaderError as exc:
        raise DocumentError(_unreadable(exc, source)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(f"{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise DocumentError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return docs


def load_one(text: str, source: str) -> Any:
    """The one document of `text` (None when empty), bounded as `load_all`."""
    docs = load_all(text, source)
    if len(docs) > 1:
        raise DocumentError(f"{source}: expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def _unreadable(exc: yaml.reader.ReaderError, source: str) -> str:
    """YAML allows only printable characters: say which one is not, and where."""
    return (
        f"{source}: not valid YAML: character #x{exc.character:04x} at offset {exc.position} "
        "is not allowed (YAML admits only printable characters)"
    )


def _too_large(source: str) -> str:
    return f"{source}: larger than {MAX_INPUT_BYTES // MIB} MiB, the most Tronador reads"


def read_text(path: str) -> tuple[str, str]:
    """(text, source name) of a file, or of standard input for `-`; at most
    `MAX_INPUT_BYTES` are read, so /dev/zero or a huge file is refused, not loaded."""
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (tests, embedding)
            text = sys.stdin.read(MAX_INPUT_BYTES + 1)
            if len(text) > MAX_INPUT_BYTES:
                raise DocumentError(_too_large(source))
            return text, source
        if path == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise DocumentError(_too_large(source))
    try:
        return data.decode("utf-8"), source
    except UnicodeDecodeError:
        raise DocumentError(f"{source}: not UTF-8 text") from None
