"""``KubernetesPlatform``: the ``Platform`` protocol on a Kubernetes/OpenShift namespace.

Each module version is one Deployment ``<module>-<x-y-z>`` plus a Service of the
same name; the module's traffic split lives in one router object (HTTPRoute,
OpenShift Route, or replica counts behind the module's shared Service). The
cluster is the only state: every verb reads what exists, changes only what
differs, and is safe to repeat after a crash.

Example::

    from kubernetes import config
    api = config.new_client_from_config("~/.kube/config")
    platform = KubernetesPlatform(application=app, api_client=api, namespace="buergerservice")
    platform.deploy(module="forms", version="2.0.0")
    platform.set_weights(module="forms", weights={"1.4.0": 90, "2.0.0": 10})
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, ClassVar

from kubernetes import client

from nahtlos.descriptor import Application
from nahtlos.errors import Conflict, InvalidInput, PlatformError, UnknownObject
from nahtlos.platforms.base import DrainReport, PlatformStatus, TrafficSplit, VersionStatus
from nahtlos.platforms.kubernetes import workloads
from nahtlos.platforms.kubernetes.objects import Cluster
from nahtlos.platforms.kubernetes.rollout import wait_gone, wait_rolled_out
from nahtlos.platforms.kubernetes.routers import RouterContext, RouteState, build_router
from nahtlos.platforms.kubernetes.spec import KubernetesRunSpec
from nahtlos.platforms.kubernetes.status import module_status, version_status
from nahtlos.versions import version_key

log = logging.getLogger(__name__)
DRAINING = "nahtlos.io/draining"


class KubernetesPlatform:
    kind: ClassVar[str] = "kubernetes"

    def __init__(self, *, application: Application, api_client: client.ApiClient, namespace: str,
                 router: str = "gateway-api", router_options: dict[str, Any] | None = None,
                 entry_url: str | None = None, verify_poll_seconds: float = 0.5) -> None:
        specs = {name: m.run.kubernetes for name, m in application.modules.items() if m.run and m.run.kubernetes}
        missing = sorted(set(application.modules) - set(specs))
        if missing:
            raise InvalidInput(f"modules without a run.kubernetes section: {', '.join(missing)}",
                               subject=f"application {application.name}",
                               hint="add image and port under run.kubernetes for every module")
        self.application = application
        self.namespace = namespace
        self.specs: dict[str, KubernetesRunSpec] = specs
        self.cluster = Cluster(api_client, namespace)
        self.router = build_router(router, RouterContext(api=api_client, namespace=namespace, app=application.name,
                                                         specs=specs, routing=application.routing),
                                   **(router_options or {}))
        self.entry_url = entry_url  # the public address (Gateway / Route host), when the operator knows it
        self.verify_poll_seconds = verify_poll_seconds

    # helpers -----------------------------------------------------------------
    def _spec(self, module: str, version: str | None = None) -> KubernetesRunSpec:
        if module not in self.specs:
            raise UnknownObject(f"unknown module; known: {', '.join(sorted(self.specs))}", subject=f"module {module}")
        if version is not None and version not in self.application.modules[module].versions:
            raise UnknownObject("version not listed in the descriptor", subject=f"{module} {version}",
                                hint="add it under versions: in the descriptor")
        return self.specs[module]

    def _deployments(self, module: str | None = None) -> list[dict[str, Any]]:
        labels = {workloads.PART_OF: self.application.name, workloads.MANAGED_BY: workloads.MANAGER}
        if module:
            labels[workloads.NAME] = module
        return self.cluster.list_deployments(workloads.selector(labels))

    def _running(self, module: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["labels"][workloads.VERSION]: d for d in self._deployments(module)}

    def _route(self, module: str) -> RouteState:
        state = self.router.read(module=module)
        return state if state is not None else RouteState(weights={})

    # verbs -------------------------------------------------------------------
    def deploy(self, *, module: str, version: str, timeout: float = 120.0) -> VersionStatus:
        """Create the version's Service and Deployment (if absent), wait until rolled out,
        then add it to the router with weight 0 (100 when it is the module's only version)."""
        spec = self._spec(module, version)
        app, name = self.application.name, workloads.version_name(module, version)
        self.cluster.apply_service(workloads.version_service(app=app, module=module, version=version,
                                                             namespace=self.namespace, port=spec.port))
        existing = self._running(module)
        if version not in existing:
            state = next(iter(existing.values()), {}).get("metadata", {}).get("annotations", {}) \
                .get(workloads.RELEASE_STATE)
            self.cluster.create_deployment(workloads.deployment(
                app=app, module=module, version=version, namespace=self.namespace, spec=spec,
                ports={m: s.port for m, s in self.specs.items()},
                pod_labels=self.router.pod_labels(module=module, version=version),
                annotations={workloads.RELEASE_STATE: state} if state else None))
        deployment = wait_rolled_out(self.cluster, name, timeout=timeout)

        def add(current: RouteState | None) -> RouteState | None:
            weights = dict(current.weights) if current else {}
            if version in weights:
                return None
            weights[version] = 0 if weights else 100
            pins = {**(current.pins if current else {}), version: version}
            return RouteState(weights=weights, pins=pins)

        self.router.update(module=module, change=add)
        return version_status(module, version, deployment, weight=self._route(module).weights.get(version, 0),
                              namespace=self.namespace, port=spec.port, draining_annotation=DRAINING)

    def set_weights(self, *, module: str, weights: dict[str, int]) -> TrafficSplit:
        """Set the split; running versions not named get 0. Unknown versions are refused."""
        self._spec(module)
        running = self._running(module)
        unknown = sorted(set(weights) - set(running), key=version_key)
        if unknown:
            raise UnknownObject(f"not running: {', '.join(unknown)} (running: {', '.join(sorted(running))})",
                                subject=f"module {module}", hint="deploy the version first")
        if any(not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 100 for w in weights.values()) \
                or sum(weights.values()) != 100:
            raise InvalidInput(f"weights must be whole percentages summing to 100, got {weights}",
                               subject=f"module {module}")
        full = {version: weights.get(version, 0) for version in running}

        def apply(current: RouteState | None) -> RouteState | None:
            pins = {v: (current.pins.get(v, v) if current else v) for v in full}
            wanted = RouteState(weights=full, pins=pins)
            return None if current == wanted else wanted

        self.router.update(module=module, change=apply)
        for version, weight in full.items():
            if weight and (running[version]["metadata"].get("annotations") or {}).get(DRAINING):
                self.cluster.update_deployment(workloads.version_name(module, version), _annotate(DRAINING, None))
        return self.traffic(module=module)

    def traffic(self, *, module: str) -> TrafficSplit:
        """The router's configured split; ``live`` as far as the cluster can prove it. With exactly one
        version running nothing else can receive the module's traffic, so that split is verified."""
        self._spec(module)
        state = self._route(module)
        running = list(self._running(module))
        if len(running) == 1 and state.weights == {running[0]: 100}:
            live: dict[str, int] | None = dict(state.weights)
        else:
            live = self.router.live(module=module, state=state) if state.weights else None
        return TrafficSplit(module=module, configured=dict(state.weights), live=live)

    def drain(self, *, module: str, version: str, deadline: float, move_to: str | None = None) -> DrainReport:
        """Weight 0 for ``version`` (its share goes to ``move_to`` or the largest other version), its pins
        moved to ``move_to`` when given; then wait until the API shows no traffic reaching it.

        What the API can tell: the router's live split (Gateway status accepted for this generation, or the
        EndpointSlices of the replica-ratio Service). In-flight requests and client-held pins are not visible
        through the Kubernetes API: when the router cannot verify, the version counts as drained once the
        module's preStop + drain window has passed (the same bound Kubernetes gives a terminating pod), and
        as not drained when ``deadline`` is shorter than that window.
        """
        spec = self._spec(module, version)
        started = time.monotonic()
        running = self._running(module)
        if version not in running:
            return DrainReport(module=module, version=version, drained=True, in_flight=0, pinned_sessions=0)
        if move_to is not None and move_to not in running:
            raise UnknownObject(f"cannot move sessions to {move_to}: not running", subject=f"module {module}")
        self.cluster.update_deployment(workloads.version_name(module, version), _annotate(DRAINING, "true"))
        state = self._drain_route(module, version, move_to)
        window = spec.pre_stop_seconds + spec.drain_seconds
        while True:
            waited = time.monotonic() - started
            live = self.router.live(module=module, state=state)
            verified = live is not None and live.get(version, 0) == 0
            if verified or (live is None and waited >= window):
                return DrainReport(module=module, version=version, drained=True, in_flight=None,
                                   pinned_sessions=None, waited_seconds=round(waited, 3))
            if waited >= deadline:
                return DrainReport(module=module, version=version, drained=False, in_flight=None,
                                   pinned_sessions=None, waited_seconds=round(waited, 3))
            time.sleep(min(self.verify_poll_seconds, max(0.0, deadline - waited)))

    def _drain_route(self, module: str, version: str, move_to: str | None) -> RouteState:
        def apply(current: RouteState | None) -> RouteState | None:
            if current is None or version not in current.weights:
                return None
            others = [v for v in current.weights if v != version]
            if not others:
                raise PlatformError("cannot drain the only running version", subject=f"{module} {version}",
                                    hint="deploy another version and give it weight first")
            heir = move_to or max(others, key=lambda v: (current.weights[v], version_key(v)))
            weights = dict(current.weights)
            weights[heir] += weights[version]
            weights[version] = 0
            pins = dict(current.pins)
            if move_to:
                pins = {v: (move_to if target == version else target) for v, target in pins.items()}
            wanted = RouteState(weights=weights, pins=pins)
            return None if wanted == current else wanted

        self.router.update(module=module, change=apply)
        return self._route(module)

    def move_sessions(self, *, module: str, from_version: str, to_version: str) -> int:
        """Re-pin at the router: requests pinned to ``from_version`` go to ``to_version``.

        Returns 0: pins are cookies held by clients, which the Kubernetes API cannot count (the
        session store's handoff counts sessions). Routers without pin rules ignore this.
        """
        self._spec(module)
        running = self._running(module)
        if to_version not in running:
            raise UnknownObject(f"cannot move sessions to {to_version}: not running", subject=f"module {module}")

        def apply(current: RouteState | None) -> RouteState | None:
            if current is None:
                return None
            pins = {v: (to_version if target == from_version else target) for v, target in current.pins.items()}
            return None if pins == current.pins else RouteState(weights=current.weights, pins=pins)

        self.router.update(module=module, change=apply)
        return 0

    def retire(self, *, module: str, version: str) -> None:
        """Remove the version's Deployment (waiting for its pods) and Service, and drop it from the
        router; the module's last version also takes the router object and shared Service with it."""
        spec = self._spec(module)
        weight = self._route(module).weights.get(version, 0)
        if weight > 0:
            raise Conflict(f"refusing to retire a version that still carries {weight}% of the traffic",
                           subject=f"{module} {version}", hint="set its weight to 0 (drain it) first",
                           transient=False)

        def remove(current: RouteState | None) -> RouteState | None:
            if current is None or version not in current.weights:
                return None
            weights = {v: w for v, w in current.weights.items() if v != version}
            pins = {v: (v if t == version else t) for v, t in current.pins.items() if v != version}
            return RouteState(weights=weights, pins=pins)

        remaining = self._route(module).weights.keys() - {version}
        if remaining:
            self.router.update(module=module, change=remove)
        else:
            self.router.delete(module=module)
        name = workloads.version_name(module, version)
        self.cluster.delete_deployment(name)
        if not wait_gone(self.cluster, name, timeout=spec.termination_grace_seconds + 60):
            raise PlatformError("the Deployment's pods did not terminate in time", subject=f"{module} {version}",
                                hint="look at the pods' finalizers and the node; then retire again")
        self.cluster.delete_service(name)

    def status(self) -> PlatformStatus:
        by_module: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in self.specs}
        for deployment in self._deployments():
            labels = deployment["metadata"]["labels"]
            if labels.get(workloads.NAME) in by_module:
                by_module[labels[workloads.NAME]][labels[workloads.VERSION]] = deployment
        modules = {}
        for module, deployments in by_module.items():
            split = self.traffic(module=module)
            modules[module] = module_status(module, deployments, split, namespace=self.namespace,
                                            port=self.specs[module].port, draining_annotation=DRAINING)
        return PlatformStatus(application=self.application.name, entry_address=self.entry_url, modules=modules)

    def set_release_state(self, *, module: str, state: dict[str, Any]) -> None:
        """Stored as a JSON annotation on every Deployment of the module (new versions inherit it)."""
        self._spec(module)
        running = self._running(module)
        if not running:
            raise UnknownObject("no running version to record the release state on", subject=f"module {module}",
                                hint="deploy a version first")
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        for version in running:
            self.cluster.update_deployment(workloads.version_name(module, version),
                                           _annotate(workloads.RELEASE_STATE, text))


def _annotate(key: str, value: str | None):
    """A change that sets annotation ``key`` (None removes it); no write when already so."""

    def change(obj: dict[str, Any]) -> dict[str, Any] | None:
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(key) == value:
            return None
        annotations = {**annotations, key: value}
        obj["metadata"]["annotations"] = {k: v for k, v in annotations.items() if v is not None}
        return obj

    return change
