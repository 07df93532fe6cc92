"""Blast radius: every module that directly or transitively consumes a module's interfaces.

Computed once for all released modules over the condensation of the
provider -> consumer graph, with reachability kept as integer bitsets, so a
10,000-module application stays well under a second.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from nahtlos.compat import Compatibility
from nahtlos.descriptor import Application


def consumer_graph(app: Application, compat: Compatibility) -> nx.DiGraph:
    """provider -> consumer edges over all declared versions (old and new both count)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(app.modules)
    for name, module in app.modules.items():
        for provider in compat.providers(name, module.versions):
            if provider != Compatibility.EXTERNAL and provider != name:
                graph.add_edge(provider, name)
    return graph


def blast_radius(app: Application, compat: Compatibility, modules: set[str]) -> dict[str, list[str]]:
    if not modules:
        return {}
    graph = consumer_graph(app, compat)
    dag = nx.condensation(graph)
    members = dag.graph["mapping"]  # module -> component id
    names = sorted(graph)
    bit = {name: 1 << i for i, name in enumerate(names)}
    own = {c: 0 for c in dag}
    for name, comp in members.items():
        own[comp] |= bit[name]
    reach: dict[int, int] = {}
    for comp in reversed(list(nx.topological_sort(dag))):
        mask = own[comp] if len(dag.nodes[comp]["members"]) > 1 else 0  # a cycle reaches itself
        for succ in dag.successors(comp):
            mask |= own[succ] | reach[succ]
        reach[comp] = mask
    out: dict[str, list[str]] = {}
    table = np.array(names, dtype=object)
    width = (len(names) + 7) // 8
    for module in sorted(modules):
        mask = reach[members[module]] & ~bit[module]
        out[module] = _names(mask, table, width)
    return out


def _names(mask: int, table: np.ndarray, width: int) -> list[str]:
    """Names of the set bits, in order; numpy because radii can hold thousands of modules."""
    bits = np.unpackbits(np.frombuffer(mask.to_bytes(width, "little"), dtype=np.uint8), bitorder="little")
    return table[np.flatnonzero(bits)].tolist()
