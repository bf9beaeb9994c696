"""The import rule of docs/architecture.md: layers as folders, imports only downward, no cycle.

Every import of the project's own modules counts, at the top of a module or
inside a function. A function-level import of the project is allowed only
where it keeps the cold start light: the HTTP edge (``chalicelib/http``,
deferring services until a route needs them) and the composition root
(``wiring.py``, deferring the adapters and so boto3).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Lowest first. A module may import from its own layer (if no cycle forms) and from any layer below.
LAYERS = [
    ("leaves", ["chalicelib.errors", "chalicelib.times", "chalicelib.config", "chalicelib.logs", "chalicelib.tokens"]),
    ("model", ["chalicelib.model"]),
    ("input", ["chalicelib.input"]),
    ("render", ["chalicelib.render"]),
    ("ports", ["chalicelib.ports"]),
    ("services", ["chalicelib.services"]),
    ("adapters", ["chalicelib.adapters"]),
    ("wiring", ["chalicelib.wiring"]),
    ("edge", ["chalicelib.http", "chalicelib.ops"]),
    ("entry points", ["app", "chalicelib.cli"]),
]
# Adapters implement the ports: they never reach the use cases or the validation of input. (The SES
# adapter serialises a Mail with render/mime.py: MIME is the wire format of a raw send.)
NEVER = {"adapters": {"services", "input"}}
# The HTTP edge and the operators' commands are side by side: neither imports the other.
SIDE_BY_SIDE = {("chalicelib.http", "chalicelib.ops"), ("chalicelib.ops", "chalicelib.http")}
DEFERRED_ALLOWED = ("chalicelib.http", "chalicelib.wiring")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py and docs/architecture.md")


def project_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the project in ``path``."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from chalicelib.render import i18n" imports the module chalicelib.render.i18n
            names = [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
        for name in names:
            if name == "app" or name.startswith("chalicelib"):
                found.append((name, node.lineno, id(node) not in top))
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def project_modules() -> list[Path]:
    return [REPO / "app.py", *sorted((REPO / "chalicelib").rglob("*.py"))]


def test_every_import_of_the_project_goes_down_a_layer_or_stays_in_its_own():
    upward = []
    for path in project_modules():
        here = module_name(path)
        for imported, line, _ in project_imports(path):
            mine, theirs = layer_of(here), layer_of(imported)
            forbidden = NEVER.get(LAYERS[mine][0], set())
            side = any(here.startswith(a) and imported.startswith(b) for a, b in SIDE_BY_SIDE)
            if theirs > mine or LAYERS[theirs][0] in forbidden or side:
                upward.append(f"{path.relative_to(REPO)}:{line} imports {imported}")
    assert upward == [], "imports that go up a layer or sideways:\n" + "\n".join(upward)


def test_the_project_imports_form_no_cycle():
    graph: dict[str, set[str]] = {}
    for path in project_modules():
        graph.setdefault(module_name(path), set()).update(
            imported for imported, _, _ in project_imports(path) if _is_module(imported) or imported == "app")
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_the_http_edge_and_the_wiring_defer_imports_of_the_project():
    deferred = [f"{path.relative_to(REPO)}:{line} imports {imported} inside a function"
                for path in project_modules() for imported, line, inside in project_imports(path)
                if inside and not module_name(path).startswith(DEFERRED_ALLOWED)]
    assert deferred == []


def test_the_layer_check_sees_an_upward_import_inside_a_function(tmp_path, monkeypatch):
    """The rule's own check: a model module reaching a service from inside a function is caught."""
    package = tmp_path / "chalicelib" / "model"
    package.mkdir(parents=True)
    (tmp_path / "chalicelib" / "services").mkdir()
    (tmp_path / "chalicelib" / "services" / "subscribe.py").write_text("")
    bad = package / "event.py"
    bad.write_text("def f():\n    from chalicelib.services import subscribe\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["REPO"]), "REPO", tmp_path)
    [(imported, line, inside)] = project_imports(bad)
    assert (imported, line, inside) == ("chalicelib.services.subscribe", 2, True)
    assert layer_of(imported) > layer_of(module_name(bad))


def test_no_module_is_much_over_500_lines():
    long = [f"{path.relative_to(REPO)}: {n} lines" for path in project_modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 550]
    assert long == []



def test_services_and_rendering_are_handed_settings_and_the_link_key_never_load_them():
    """Item 4 of the reshape: only the edge and wiring call config.load() or read os.environ."""
    inner = ("services", "render", "model", "input")
    found = []
    for path in project_modules():
        parts = path.relative_to(REPO).parts
        if len(parts) < 3 or parts[1] not in inner:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and (
                    (node.attr == "load" and isinstance(node.value, ast.Name) and node.value.id == "config")
                    or (node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os")):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_no_test_module_imports_another_test_module():
    """Shared helpers and fixtures live in tests/support/ (docs/testing.md), not in another test's file."""
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_") for name in names):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_only_the_http_edge_and_app_import_chalice():
    """Chalice is the HTTP edge's framework: below it (model, services, adapters, ...) nothing may know of it."""
    found = []
    for path in sorted((REPO / "chalicelib").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("chalicelib/http/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{relative}:{node.lineno}" for n in names if n == "chalice" or n.startswith("chalice.")]
    assert not found, f"chalice imported outside app.py and chalicelib/http/: {found}"
