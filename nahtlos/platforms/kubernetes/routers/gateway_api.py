"""Gateway API router: one ``HTTPRoute`` per module, named after the module.

Rules, in precedence order (equal header-match counts go to the first rule):

1. one rule per running version (only while more than one runs): requests whose
   ``nahtlos_pin`` cookie names that version go to it, or to the version its pins
   were moved to;
2. when the application names a ``routing.session_cookie``: requests that carry
   that cookie but no pin belong to sessions that started before the release and
   stay on the baseline (the oldest running version);
3. the weighted rule: everything else is split by backendRef weights, and each
   backend sets the pin cookie on its responses so the session sticks.

The parent is the module's shared Service (GAMMA, east-west) unless a Gateway
is given. ``live`` is the configured split only when a controller accepted the
current generation of the route (status.parents[].conditions Accepted=True
with observedGeneration == generation); otherwise it is None, because without
a controller's word nothing says the data plane applied anything.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from nahtlos.platforms.kubernetes.routers.base import RouterContext, RouteState, weight_pairs
from nahtlos.platforms.kubernetes.routers.custom_object import CustomObjectRouter, version_of_backend
from nahtlos.platforms.kubernetes.workloads import version_name
from nahtlos.versions import slug

PIN_COOKIE = "nahtlos_pin"
WEIGHTED_RULE = "weighted"
SESSIONS_RULE = "sessions"
_PIN_RULE = re.compile(r"^pin-(.+)$")
_ALL_PATHS = {"type": "PathPrefix", "value": "/"}


def cookie_regex(name: str, value: str | None = None) -> str:
    """RE2 regex on the Cookie header: cookie ``name`` present (with exactly ``value``)."""
    tail = f"{re.escape(value)}(;|$)" if value is not None else ""
    return rf"(^|;\s*){re.escape(name)}={tail}"


class GatewayApiRouter(CustomObjectRouter):
    kind: ClassVar[str] = "gateway-api"
    GROUP, VERSION, PLURAL, KIND = "gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"

    def __init__(self, context: RouterContext, *, gateway: dict[str, str] | None = None) -> None:
        super().__init__(context)
        self.gateway = gateway  # {"name": ..., "namespace": ...}; None = attach to the module's Service

    def state_of(self, route: dict[str, Any]) -> RouteState:
        weights: dict[str, int] = {}
        targets: dict[str, str] = {}
        rules = route["spec"].get("rules", [])
        for rule in rules:
            if rule.get("name") == WEIGHTED_RULE:
                for ref in rule.get("backendRefs", []):
                    weights[version_of_backend(ref["name"])] = ref.get("weight", 1)
        for rule in rules:
            match = _PIN_RULE.match(rule.get("name", ""))
            if match:
                pinned = next((v for v in weights if slug(v) == match.group(1)), None)
                if pinned is not None:
                    targets[pinned] = version_of_backend(rule["backendRefs"][0]["name"])
        return RouteState(weights=weights, pins={v: targets.get(v, v) for v in weights})

    def live(self, *, module: str, state: RouteState) -> dict[str, int] | None:
        route = self.get(module)
        if route is None:
            return None
        generation = route["metadata"].get("generation")
        for parent in (route.get("status") or {}).get("parents") or []:
            for condition in parent.get("conditions") or []:
                if (condition.get("type") == "Accepted" and condition.get("status") == "True"
                        and condition.get("observedGeneration") == generation):
                    return dict(self.state_of(route).weights)
        return None

    def spec(self, module: str, state: RouteState) -> dict[str, Any]:
        port = self.context.port(module)
        pairs = weight_pairs(state)
        idle = int(self.context.routing.pin_idle_seconds)
        sticky = len(pairs) > 1

        def backend(version: str, weight: int, *, sets_pin: bool) -> dict[str, Any]:
            ref: dict[str, Any] = {"group": "", "kind": "Service", "name": version_name(module, version),
                                   "port": port, "weight": weight}
            if sets_pin:
                cookie = f"{PIN_COOKIE}={slug(version)}; Path=/; Max-Age={idle}; HttpOnly; SameSite=Lax"
                ref["filters"] = [{"type": "ResponseHeaderModifier",
                                   "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": cookie}]}}]
            return ref

        def cookie_rule(name: str, pattern: str, target: str) -> dict[str, Any]:
            header = {"type": "RegularExpression", "name": "Cookie", "value": pattern}
            return {"name": name, "matches": [{"path": dict(_ALL_PATHS), "headers": [header]}],
                    "backendRefs": [backend(target, 1, sets_pin=False)]}

        rules: list[dict[str, Any]] = []
        if sticky:
            for version, _ in pairs:
                rules.append(cookie_rule(f"pin-{slug(version)}", cookie_regex(PIN_COOKIE, slug(version)),
                                         state.pins.get(version, version)))
            if self.context.routing.session_cookie:
                baseline = pairs[0][0]  # oldest running version: where pre-release sessions started
                rules.append(cookie_rule(SESSIONS_RULE, cookie_regex(self.context.routing.session_cookie),
                                         state.pins.get(baseline, baseline)))
        rules.append({"name": WEIGHTED_RULE, "matches": [{"path": dict(_ALL_PATHS)}],
                      "backendRefs": [backend(v, w, sets_pin=sticky) for v, w in pairs]})
        if self.gateway:
            parents = [{"group": self.GROUP, "kind": "Gateway", **self.gateway}]
        else:
            parents = [{"group": "", "kind": "Service", "name": module, "port": port}]
        return {"parentRefs": parents, "rules": rules}
