"""The package's one-way flow, checked: layers (import-linter), no import cycle, no private
name borrowed across packages. See the README's contributor map for the rules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toolkit" / "batteryzoom"
# Private-named modules meant to be shared across the package (the ground floor's internals)
# Debts being paid (issue "One house"): the checks below assert that what they find is exactly
# this, so a fix must also strike its line here, and nothing new can join.
KNOWN_CYCLES: list[list[str]] = []
KNOWN_BORROWS: set[str] = set()
SHARED_INTERNALS = {"batteryzoom._kernels", "batteryzoom._blocks", "batteryzoom._transmission",
                    "batteryzoom._progress"}


def test_layer_contract_holds():
    """``lint-imports`` with the contract in pyproject.toml (cli > report > widgets/viewer >
    plots > analyses > io/data > frames and shared internals)."""
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "toolkit"), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]; counter[0] += 1; stack.append(child); on.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop(); on.discard(m); comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycle():
    graph = grimp.build_graph("batteryzoom", include_external_packages=False)
    # a package's __init__ re-exporting its modules is not a cycle of the code
    for module in list(graph.modules):
        for imported in list(graph.find_modules_directly_imported_by(module)):
            if module.startswith(imported + "."):
                graph.remove_import(importer=module, imported=imported)
    assert _cycles(graph) == KNOWN_CYCLES


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _private_part(target: str, owner_package: str) -> bool:
    """Whether ``target`` (a module path) passes through a private module that is not a
    shared internal and does not sit inside ``owner_package``."""
    parts = target.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[: i + 1])
        if parts[i].startswith("_") and not parts[i].startswith("__") and prefix not in SHARED_INTERNALS:
            parent = ".".join(parts[:i])
            if not (owner_package == parent or owner_package.startswith(parent + ".")):
                return True
    return False


def test_no_module_borrows_another_packages_private_names():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        is_pkg = path.name == "__init__.py"
        own = _package_of(module, is_pkg)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _resolve(module, is_pkg, node)
            if not target.startswith("batteryzoom"):
                continue
            target_pkg = target if (PACKAGE.parent / target.replace(".", "/")).is_dir() else target.rpartition(".")[0]
            if _private_part(target, own):
                found.append(f"{module} imports from private module {target}")
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.startswith("__") and target_pkg != own \
                        and f"{target}.{name}" not in SHARED_INTERNALS:
                    found.append(f"{module} imports {target}.{name}")
    assert set(found) == KNOWN_BORROWS
