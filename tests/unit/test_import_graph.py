"""The layers of docs/architecture.md, over the import graph of our packages (module-level and function-level
imports alike): no cycle; the pipeline alone; workers use only the web side's shared modules; the Redis side
(queues, events, monitor, autoscaler) no web side at all; scripts are thin; access rules never import the HTML."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "jobs", "scripts", "bench", "harness")
# What of the web side a worker may use: the models, storage, configuration and the intake and views both share.
WORKER_MAY_USE = {"app", "app.config", "app.extensions", "app.models", "app.storage", "app.errors", "app.logs",
                  "app.options", "app.ingest", "app.direct", "app.retention", "app.views", "app.layout"}
REDIS_SIDE = ("jobs.clock", "jobs.keys", "jobs.queues", "jobs.events", "jobs.scaling")  # monitor, autoscaler


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules `name` imports anywhere in its body ('from .x import y' counts x, and y when y is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    # A module's own packages are loaded before it (`from . import models` in app.factory is no edge to app).
    return {m for m in out if m in known and m != name and not name.startswith(f"{m}.")}


def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for vertex in edges:
        if vertex not in index:
            visit(vertex)
    return found


def test_no_import_cycle_between_our_modules():
    edges = graph()
    found = cycles(edges)
    # Name the edges inside each cycle, so the failure says which import to move.
    described = [[f"{a} -> {b}" for a in cycle for b in sorted(edges[a] & set(cycle))] for cycle in found]
    assert described == []


def test_the_detector_sees_a_function_level_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_access_rules_and_services_never_import_the_html_layer():
    edges = graph()
    for module in ("app.auth", "app.services", "app.uploads", "app.errors"):
        assert not {m for m in edges[module] if m.startswith("app.api")}, module


def _closure(edges: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module `start` reaches, with the module that imports it on the way (to name the edge)."""
    reached, todo = {}, [start]
    while todo:
        here = todo.pop()
        for there in edges[here]:
            if there not in reached:
                reached[there] = here
                todo.append(there)
    return reached


def _offending(edges: dict[str, set[str]], sources, allowed) -> list[str]:
    return sorted(f"{a} -> {b}" for a in edges if a.startswith(sources) for b in edges[a] if not allowed(a, b))


def test_the_pipeline_imports_nothing_of_ours_outside_it():
    assert _offending(graph(), ("jobs.pipeline",), lambda a, b: b.startswith("jobs.pipeline")) == []


def test_workers_use_only_the_shared_modules_of_the_web_side():
    assert _offending(graph(), ("jobs",), lambda a, b: not b.startswith("app") or b in WORKER_MAY_USE) == []


def test_the_redis_side_reaches_no_web_module():
    edges = graph()
    found = [f"{start}: ... {via} -> {module}" for start in edges if start.startswith(REDIS_SIDE)
             for module, via in _closure(edges, start).items() if module.startswith("app")]
    assert found == []


def test_the_monitor_and_autoscaler_libraries_load_neither_flask_nor_sqlalchemy():
    """Also what the monitor CLI reads its settings from (app.config): the package loads no web framework."""
    modules = ["app.config", "jobs.queues", "jobs.events", "jobs.scaling.monitor", "jobs.scaling.autoscaler",
               "jobs.scaling.policy", "jobs.scaling.stats", "jobs.scaling.local", "jobs.scaling.heroku"]
    code = f"import sys\nfor m in {modules!r}:\n    __import__(m)\n" \
           "print(sorted(m for m in ('flask', 'flask_sqlalchemy', 'sqlalchemy', 'werkzeug') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_scripts_are_thin_they_import_no_routes_and_no_other_script():
    assert _offending(graph(), ("scripts",), lambda a, b: not b.startswith(("app.api", "scripts"))) == []


def test_the_layer_checks_name_the_edge_that_breaks_them():
    edges = {"jobs.process": {"app.services", "app.models"}, "jobs.scaling.stats": {"jobs.clock", "app.models"},
             "jobs.clock": set(), "app.models": set(), "app.services": set()}
    assert _offending(edges, ("jobs",), lambda a, b: not b.startswith("app") or b in WORKER_MAY_USE) == [
        "jobs.process -> app.services"]
    assert _closure(edges, "jobs.scaling.stats") == {"jobs.clock": "jobs.scaling.stats", "app.models": "jobs.scaling.stats"}
