"""``run.kubernetes``: how the Kubernetes platform runs the versions of one module.

```yaml
run:
  kubernetes:
    image: registry.example/buergerservice/forms:{version}
    port: 8080                 # container port the app listens on (also the Service port)
    replicas: 2
    ready: /healthz            # readiness probe path (GET, 2xx = ready)
    env: {FORMS_URL: "{url:registry}"}
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
    pre_stop_seconds: 10       # preStop sleep: endpoints and routers stop sending first
    drain_seconds: 20          # time in-flight requests get after SIGTERM
```

Placeholders in ``image`` and ``env`` values: ``{version}``, ``{module}``,
``{app}`` and ``{url:<module>}`` (the in-cluster URL of another module's shared
Service, which follows the weights). Pods also get ``PORT``, ``NAHTLOS_APP``,
``NAHTLOS_MODULE``, ``NAHTLOS_VERSION`` and ``<MODULE>_SERVICE_URL`` for every
module, as on the local platform.
"""

from __future__ import annotations

import re
from typing import Mapping

from pydantic import Field, field_validator

from nahtlos.platforms.spec_rules import Frozen, ready_path


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
SIMPLE = ("version", "module", "app")
# Kubelet sends SIGTERM after preStop; the grace period must cover both plus a margin.
GRACE_MARGIN_SECONDS = 5


def _check_template(text: str) -> str:
    for match in _PLACEHOLDER.finditer(text):
        kind, _, arg = match.group(1).partition(":")
        if match.group(1) in SIMPLE or (kind == "url" and arg):
            continue
        raise ValueError(f"unknown placeholder {{{match.group(1)}}} in {text!r}; known: "
                         "{version}, {module}, {app}, {url:<module>}")
    return text


class Resources(Frozen):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for name, quantity in value.items():
            if not isinstance(quantity, str) or not _QUANTITY.match(quantity):
                raise ValueError(f"{name}: {quantity!r} is not a Kubernetes quantity such as 100m or 128Mi; "
                                 "write it in quotes")
        return value


class KubernetesRunSpec(Frozen):
    image: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    replicas: int = Field(default=1, ge=1, le=1000)
    ready: str = "/healthz"
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    pre_stop_seconds: int = Field(default=5, ge=0, le=300)
    drain_seconds: int = Field(default=20, ge=0, le=3600)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError(f"image {value!r} must not contain whitespace")
        return _check_template(value)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
                raise ValueError(f"environment variable name {name!r} is not valid")
            _check_template(text)
        return value

    @field_validator("ready")
    @classmethod
    def _ready(cls, value: str) -> str:
        return ready_path(value)

    @property
    def termination_grace_seconds(self) -> int:
        return self.pre_stop_seconds + self.drain_seconds + GRACE_MARGIN_SECONDS


def expand(text: str, *, values: Mapping[str, str], service_urls: Mapping[str, str]) -> str:
    """Fill the placeholders of an (already validated) image or env value."""

    def replace(match: re.Match[str]) -> str:
        kind, _, arg = match.group(1).partition(":")
        if kind == "url":
            if arg not in service_urls:
                raise KeyError(f"{{url:{arg}}} names no module of this application")
            return service_urls[arg]
        return values[kind]

    return _PLACEHOLDER.sub(replace, text)
