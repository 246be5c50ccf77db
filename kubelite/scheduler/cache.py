"""The scheduler's cache, after upstream pkg/scheduler/backend/cache: one NodeInfo per node, kept
up to date incrementally from informer events (nodes, assigned pods) plus the pods the scheduler
has assumed onto a node but whose binding the informer has not shown yet. `snapshot` is a live
Snapshot over those NodeInfos: a cycle reads it directly instead of rebuilding one.

Must NOT talk to the API, queue pods, or decide anything; the scheduler component feeds it.
"""

from __future__ import annotations

from kubelite.scheduler.framework import NodeInfo, Obj, Snapshot, pod_key

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def _node_name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def counts_on_node(pod: Obj) -> bool:
    """An assigned pod takes room on its node until it finishes or is gone."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get(
        "phase"
    ) not in _TERMINAL_PHASES


class SchedulerCache:
    def __init__(self) -> None:
        self.snapshot = Snapshot([])
        self._pods: dict[str, tuple[str, Obj]] = {}  # pod key -> (node, pod as counted)
        self._assumed: set[str] = set()
        self._orphans: dict[str, dict[str, Obj]] = {}  # node not seen yet -> its pods by key

    # ------------------------------------------------------------------ nodes
    def add_node(self, node: Obj) -> None:
        name = _node_name(node)
        info = self.snapshot.get(name)
        if info is not None:
            info.set_node(node)
            return
        info = NodeInfo(node, (self._orphans.pop(name, {})).values())
        self.snapshot.add_node_info(info)

    def update_node(self, node: Obj) -> None:
        self.add_node(node)

    def remove_node(self, node: Obj) -> None:
        name = _node_name(node)
        info = self.snapshot.remove_node_info(name)
        if info is not None and info.pods:
            self._orphans[name] = {pod_key(pod): pod for pod in info.pods}

    def node_count(self) -> int:
        return len(self.snapshot)

    # ------------------------------------------------------------------ pods
    def is_assumed(self, pod: Obj) -> bool:
        return pod_key(pod) in self._assumed

    def assume(self, pod: Obj, node_name: str) -> None:
        """Count `pod` (a copy carrying spec.nodeName) on the node before its binding is seen."""
        key = pod_key(pod)
        self._remove_key(key)
        self._place(key, node_name, pod)
        self._assumed.add(key)

    def forget(self, pod: Obj) -> None:
        """Undo an assumption whose binding failed."""
        key = pod_key(pod)
        if key in self._assumed:
            self._assumed.discard(key)
            self._remove_key(key)

    def add_pod(self, pod: Obj) -> None:
        """An assigned pod seen by the informer (confirms an assumption)."""
        key = pod_key(pod)
        self._assumed.discard(key)
        if self._replace_same_shape(key, pod):
            return
        self._remove_key(key)
        if counts_on_node(pod):
            self._place(key, pod["spec"]["nodeName"], pod)

    def update_pod(self, pod: Obj) -> None:
        self.add_pod(pod)

    def _replace_same_shape(self, key: str, pod: Obj) -> bool:
        """A newer version of a placed pod on the same node with the same spec and labels (a
        status change, the binding confirming an assumption) takes the old one's place without
        being counted again: what the node accounts is unchanged."""
        placed = self._pods.get(key)
        if placed is None or not counts_on_node(pod):
            return False
        node_name, old = placed
        if (
            node_name != pod["spec"].get("nodeName")
            or old.get("spec") != pod.get("spec")
            or (old.get("metadata") or {}).get("labels") != (pod.get("metadata") or {}).get("labels")
        ):
            return False
        info = self.snapshot.get(node_name)
        if info is None or not info.replace_pod(old, pod):
            return False
        self._pods[key] = (node_name, pod)
        return True

    def remove_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._assumed.discard(key)
        self._remove_key(key)

    def _place(self, key: str, node_name: str, pod: Obj) -> None:
        self._pods[key] = (node_name, pod)
        info = self.snapshot.get(node_name)
        if info is not None:
            self.snapshot.add_pod(info, pod)
        else:
            self._orphans.setdefault(node_name, {})[key] = pod

    def _remove_key(self, key: str) -> None:
        placed = self._pods.pop(key, None)
        if placed is None:
            return
        node_name, pod = placed
        info = self.snapshot.get(node_name)
        if info is not None:
            self.snapshot.remove_pod(info, pod)
            return
        orphans = self._orphans.get(node_name)
        if orphans is not None:
            orphans.pop(key, None)
            if not orphans:
                del self._orphans[node_name]
