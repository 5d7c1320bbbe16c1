"""Which Kubernetes API permissions a piece of our code needs, read from its source.

The `kubernetes` client is generated: every API method ends in one HTTP request whose method and
path template are spelled in the method's source. `client_methods()` reads them, so the mapping
from `CoreV1Api.replace_namespaced_secret` to (core, secrets, update) is derived from the client
itself, not typed in by hand. `scan_modules()` then walks our modules' syntax trees for every
reference to such a method (a call, an argument to `watch.Watch().stream`, or a bare reference
such as `read = api.read_x if ... else api.read_y`) and turns each into a `Permission`. For the
generic `CustomObjectsApi` methods the `group` and `plural` arguments are resolved from string
constants: literals, module constants, names imported from other modules (e.g.
`tronador.api.constants`) and f-strings built from those. A call whose group or plural cannot be
resolved is reported as unresolved rather than guessed.

`import_closure()` follows imports (also those inside functions) from an entry module through our
own packages, so a component is scanned with exactly the code its process can run.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import kubernetes.client

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("tronador", "kube", "webhook", "controller", "certs")

RAW_REQUESTS = ("call_api", "param_serialize")
"""ApiClient methods that send a request no generated method describes."""
RAW_REQUEST_LAYERS = ("kube.api",)
"""Where raw requests are allowed: the layer whose callers `scan_kube_calls` reads."""

HTTP_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True, order=True)
class Permission:
    """One RBAC grant: `resource` may carry a subresource (`environmentprovisioners/status`)."""

    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}.{self.group or 'core'}"


@dataclass(frozen=True)
class ClientMethod:
    api_class: str
    name: str
    http_method: str
    path: str
    params: tuple[str, ...]
    """Positional parameters, in order (without self)."""


@dataclass(frozen=True)
class CallSite:
    module: str
    line: int
    method: str
    permission: Permission

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.method} -> {self.permission}"


@dataclass
class ScanResult:
    calls: list[CallSite] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Call sites the scan could not turn into a permission (unresolved or ambiguous)."""

    @property
    def permissions(self) -> set[Permission]:
        return {c.permission for c in self.calls}


# --- the kubernetes client, read once -----------------------------------------------------------

_SERIALIZE = re.compile(r"method='(\w+)',\s*resource_path='([^']+)'")
_VARIANTS = ("_with_http_info", "_without_preload_content")
_CALL_API = re.compile(r"call_api\(\s*'([^']+)',\s*'(\w+)'")


def _request_of(cls: type, name: str) -> tuple[str, str] | None:
    """(HTTP method, path template) of one generated API method, whatever the client version."""
    for source_name in (f"_{name}_serialize", f"{name}_with_http_info"):
        func = getattr(cls, source_name, None)
        if func is None:
            continue
        source = inspect.getsource(func)
        if match := _SERIALIZE.search(source):
            return match.group(1), match.group(2)
        if match := _CALL_API.search(source):
            return match.group(2), match.group(1)
    return None


@cache
def client_methods() -> dict[str, tuple[ClientMethod, ...]]:
    """Method name -> every generated API class method of that name."""
    table: dict[str, list[ClientMethod]] = {}
    for class_name in dir(kubernetes.client):  # the package imports its classes lazily
        if not class_name.endswith("Api"):
            continue
        cls = getattr(kubernetes.client, class_name)
        if not isinstance(cls, type):
            continue
        for name, func in vars(cls).items():
            if name.startswith("_") or name.endswith(_VARIANTS):
                continue
            if not callable(func):
                continue
            request = _request_of(cls, name)
            if request is None:
                continue
            params = tuple(
                p.name
                for p in list(inspect.signature(func).parameters.values())[1:]
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            )
            table.setdefault(name, []).append(ClientMethod(class_name, name, *request, params))
    return {name: tuple(methods) for name, methods in table.items()}


def permission_for(http_method: str, path: str, params: dict[str, str], watch: bool) -> Permission:
    """The RBAC permission one request needs. `params` fills `{group}`-style path parameters."""
    template = path.strip("/").split("/")
    if template[0] == "api":  # /api/v1/...
        group, rest = "", template[2:]
    else:  # /apis/{group}/{version}/...
        group, rest = params.get("group", template[1]), template[3:]
    if len(rest) >= 3 and rest[:2] == ["namespaces", "{namespace}"]:
        rest = rest[2:]
    resource = params.get("plural", rest[0]) if rest[0] == "{plural}" else rest[0]
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    if http_method == "GET":
        verb = "get" if named else ("watch" if watch else "list")
    elif http_method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = HTTP_VERBS[http_method]
    return Permission(group, resource, verb)


# --- our modules ---------------------------------------------------------------------------------


def module_path(module: str) -> Path | None:
    if module in EXTRA_SOURCES:
        return ROOT / "<extra>" / f"{module}.py"
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_ours(module: str) -> bool:
    return module.partition(".")[0] in OUR_PACKAGES


EXTRA_SOURCES: dict[str, str] = {}
"""Module name -> source, scanned as if it were a file (for the scanner's own tests)."""


def _tree(module: str) -> ast.Module:
    if module in EXTRA_SOURCES:
        return ast.parse(EXTRA_SOURCES[module], module)
    return _file_tree(module)


@cache
def _file_tree(module: str) -> ast.Module:
    path = module_path(module)
    assert path is not None, module
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`: imports that never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    return skipped


def _imported_modules(module: str) -> Iterator[str]:
    path = module_path(module)
    is_package = path is not None and path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    tree = _tree(module)
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def import_closure(entries: Iterable[str]) -> list[str]:
    """Our modules reachable from `entries` (each a module name), sorted."""
    seen: set[str] = set()
    todo = [m for m in entries if _is_ours(m)]
    while todo:
        module = todo.pop()
        if module in seen or module_path(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run too
        todo += [m for m in _imported_modules(module) if _is_ours(m) and m not in seen]
    return sorted(seen)


# --- constants -----------------------------------------------------------------------------------


def _bindings(module: str) -> dict[str, ast.expr | tuple[str, str]]:
    """Module-level names: an expression assigned to them, or (module, name) they import."""
    out: dict[str, ast.expr | tuple[str, str]] = {}
    tree = _tree(module)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                out[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = node.value
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                out[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0],
                    "",
                )
    return out


def resolve_string(module: str, node: ast.expr, depth: int = 0) -> str | None:
    """The string `node` always evaluates to in `module`, or None if it is not a constant."""
    if depth > 20:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion != -1:
                    return None
                value = value.value
            part = resolve_string(module, value, depth + 1)
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)
    if isinstance(node, ast.Name):
        return _resolve_name(module, node.id, depth)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        bound = _bindings(module).get(node.value.id)
        if isinstance(bound, tuple):
            target = f"{bound[0]}.{bound[1]}" if bound[1] else bound[0]
            if _is_ours(target) and module_path(target):
                return _resolve_name(target, node.attr, depth)
    return None


def _resolve_name(module: str, name: str, depth: int) -> str | None:
    bound = _bindings(module).get(name)
    if bound is None:
        return None
    if isinstance(bound, tuple):
        source, attr = bound
        if not _is_ours(source) or not attr:
            return None
        if module_path(f"{source}.{attr}"):
            return None  # a module, not a string
        return _resolve_name(source, attr, depth + 1) if module_path(source) else None
    return resolve_string(module, bound, depth + 1)


# --- the scan ------------------------------------------------------------------------------------


def _api_classes_named(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.endswith("Api"):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and node.id.endswith("Api"):
            names.add(node.id)
    return names


def _parents(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _arguments(
    node: ast.Attribute, parent: ast.AST | None
) -> tuple[list[ast.expr], dict[str, ast.expr], bool] | None:
    """(positional args, keyword args, is a watch) of the request `node` names, if visible."""
    if isinstance(parent, ast.Call) and parent.func is node:
        keywords = {k.arg: k.value for k in parent.keywords if k.arg}
        watch = keywords.get("watch")
        is_watch = isinstance(watch, ast.Constant) and watch.value is True
        return list(parent.args), keywords, is_watch
    if (
        isinstance(parent, ast.Call)
        and parent.args
        and parent.args[0] is node
        and isinstance(parent.func, ast.Attribute)
        and parent.func.attr == "stream"
    ):
        return list(parent.args[1:]), {k.arg: k.value for k in parent.keywords if k.arg}, True
    return None


def _constant_params(
    module: str, method: ClientMethod, arguments: tuple[list[ast.expr], dict[str, ast.expr], bool]
) -> dict[str, str | None]:
    """The path parameters `group` and `plural` of a call, resolved to constants (or None)."""
    args, keywords, _ = arguments
    out: dict[str, str | None] = {}
    for name in ("group", "plural"):
        if "{" + name + "}" not in method.path:
            continue
        position = method.params.index(name)
        expr = keywords.get(name) or (args[position] if position < len(args) else None)
        out[name] = resolve_string(module, expr) if expr is not None else None
    return out


def scan_module(module: str) -> ScanResult:
    result = ScanResult()
    methods = client_methods()
    tree = _tree(module)
    parents = _parents(tree)
    classes_here = _api_classes_named(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in RAW_REQUESTS
            and module not in RAW_REQUEST_LAYERS
        ):
            result.problems.append(
                f"{module}:{node.lineno}: a raw request ({node.attr}) the scan cannot read; "
                "go through a typed client method or kube.api.Kube"
            )
            continue
        if not isinstance(node, ast.Attribute) or node.attr not in methods:
            continue
        where = f"{module}:{node.lineno}"
        arguments = _arguments(node, parents.get(node))
        is_watch = arguments[2] if arguments is not None else False
        candidates = methods[node.attr]
        if len(candidates) > 1:
            candidates = tuple(c for c in candidates if c.api_class in classes_here) or candidates
        permissions = set()
        for method in candidates:
            params = _constant_params(module, method, arguments) if arguments else {}
            if arguments is None and "{plural}" in method.path:
                result.problems.append(f"{where}: {node.attr} is referenced, not called")
                break
            unresolved = [name for name, value in params.items() if value is None]
            if unresolved:
                result.problems.append(
                    f"{where}: cannot resolve the {' and '.join(unresolved)} argument(s) of "
                    f"{node.attr} to a constant"
                )
                break
            resolved = {k: v for k, v in params.items() if v is not None}
            permissions.add(permission_for(method.http_method, method.path, resolved, is_watch))
        else:
            if len(permissions) == 1:
                result.calls.append(CallSite(module, node.lineno, node.attr, permissions.pop()))
            else:
                classes = ", ".join(c.api_class for c in candidates)
                result.problems.append(
                    f"{where}: {node.attr} belongs to one of {classes}, with different "
                    "permissions; name the API class in the module so the scan can tell"
                )
    return result


def scan_modules(modules: Iterable[str]) -> ScanResult:
    total = ScanResult()
    for module in modules:
        result = scan_module(module)
        total.calls += result.calls
        total.problems += result.problems
    return total


# --- the controller's REST layer (kube.api.Kube) ---------------------------------------

KUBE_VERBS = {
    "get": "get",
    "list": "list",
    "watch": "watch",
    "create": "create",
    "replace": "update",
    "patch": "patch",
    "apply": "patch",
    "delete": "delete",
}
"""`Kube` method -> the verb of the request it sends (pinned against `Kube`'s source by a test)."""
KUBE_DISCOVERY = {"api_resources"}
"""`Kube` methods that only read discovery (a GET of /api or /apis/...): every authenticated
account may (the `system:discovery` ClusterRole), so they need no rule."""
KUBE_RECEIVER = "kube"
"""Calls on an object named `kube` (`self.kube.get(...)`, `kube.list(...)`) are `Kube` calls."""


@dataclass(frozen=True, order=True)
class DynamicSite:
    """A `Kube` call whose resource is not a constant: what it needs is learnt by running it."""

    module: str
    function: str
    method: str

    def __str__(self) -> str:
        return f"{self.module}.{self.function} -> Kube.{self.method}"


@dataclass
class KubeScan:
    calls: list[CallSite] = field(default_factory=list)
    dynamic: list[DynamicSite] = field(default_factory=list)


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _resource_constant(module: str, node: ast.expr, depth: int = 0) -> tuple[str, str] | None:
    """(group, plural) of a module-level `Resource(api_version, kind, plural, ...)` constant."""
    if depth > 10:
        return None
    target: tuple[str, str] | None = None
    if isinstance(node, ast.Name):
        target = (module, node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        bound = _bindings(module).get(node.value.id)
        if isinstance(bound, tuple) and not bound[1] and _is_ours(bound[0]):
            target = (bound[0], node.attr)
    if target is None:
        return None
    bound = _bindings(target[0]).get(target[1])
    if isinstance(bound, tuple):
        source, attr = bound
        if _is_ours(source) and attr and module_path(source):
            return _resource_constant(source, ast.Name(attr), depth + 1)
        return None
    if not (isinstance(bound, ast.Call) and _receiver_name(bound.func) == "Resource"):
        return None
    keywords = {k.arg: k.value for k in bound.keywords if k.arg}
    api_version_expr = keywords.get("api_version") or (bound.args[0] if bound.args else None)
    plural_expr = keywords.get("plural") or (bound.args[2] if len(bound.args) > 2 else None)
    if api_version_expr is None or plural_expr is None:
        return None
    api_version = resolve_string(target[0], api_version_expr)
    plural = resolve_string(target[0], plural_expr)
    if api_version is None or plural is None:
        return None
    return api_version.rpartition("/")[0], plural


def _enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    current = parents.get(node)
    while current is not None:
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            return current.name
        current = parents.get(current)
    return "<module>"


def scan_kube_calls(modules: Iterable[str]) -> KubeScan:
    """Calls of the controller's `Kube` methods: a permission where the resource (and, for
    `replace` and `apply`, the subresource) is a constant, a `DynamicSite` otherwise."""
    result = KubeScan()
    for module in modules:
        if module == "kube.api":
            continue  # the layer itself
        tree = _tree(module)
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in KUBE_VERBS
                and _receiver_name(node.func.value) == KUBE_RECEIVER
            ):
                continue
            method = node.func.attr
            resource = _resource_constant(module, node.args[0]) if node.args else None
            subresource: str | None = ""
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if method in ("replace", "apply") and "subresource" in keywords:
                subresource = resolve_string(module, keywords["subresource"])
            if resource is None or subresource is None:
                function = _enclosing_function(node, parents)
                result.dynamic.append(DynamicSite(module, function, method))
                continue
            group, plural = resource
            name = f"{plural}/{subresource}" if subresource else plural
            permission = Permission(group, name, KUBE_VERBS[method])
            result.calls.append(CallSite(module, node.lineno, f"Kube.{method}", permission))
    return result
