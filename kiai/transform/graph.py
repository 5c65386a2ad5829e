"""The model graph: dependency order, cycles, and `--select` (`x`, `x+` downstream, `+x` upstream)."""

from __future__ import annotations

from collections.abc import Iterable

from kiai.transform.project import ModelError, Project

Graph = dict[str, list[str]]  # model -> models it depends on


def order(project: Project, deps: Graph) -> list[str]:
    """Every model after its dependencies; ties by name. A cycle is an error naming its files."""
    done: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*stack[stack.index(name) :], name]
            files = " -> ".join(str(project.models[n].path.relative_to(project.models[n].folder.path)) for n in cycle)
            raise ModelError(f"dependency cycle: {files}")
        state[name] = 1
        for upstream in sorted(deps.get(name, [])):
            visit(upstream, [*stack, name])
        state[name] = 2
        done.append(name)

    for name in sorted(project.models):
        visit(name, [])
    return done


def downstream(deps: Graph) -> Graph:
    result: Graph = {name: [] for name in deps}
    for name, ups in deps.items():
        for upstream in ups:
            result.setdefault(upstream, []).append(name)
    return result


def _closure(start: str, edges: Graph) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def upstream_closure(name: str, deps: Graph) -> set[str]:
    """Every model `name` reads, directly or through others (not itself)."""
    return _closure(name, deps) - {name}


def select(project: Project, deps: Graph, selectors: Iterable[str]) -> set[str]:
    """Models named by selectors such as `beatmap_features+` (and downstream) or `+dataset` (and upstream)."""
    chosen: set[str] = set()
    down = downstream(deps)
    for raw in selectors:
        for item in raw.replace(",", " ").split():
            name = item.strip("+")
            project.get(name)  # unknown name: a clear error
            group = {name}
            if item.endswith("+"):
                group |= _closure(name, down)
            if item.startswith("+"):
                group |= _closure(name, deps)
            chosen |= group
    return chosen
