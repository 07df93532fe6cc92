"""Application descriptor models (``deployments/<app>.yaml``).

Frozen pydantic models with unknown fields forbidden. The cross-field rules
(deployed version exists, every interface has exactly one provider, consumed
interfaces are provided or external) live here too, so a loaded Application is
always internally consistent. Loading from YAML with line-aware errors is in
``nahtlos.loader``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nahtlos.versions import DnsLabel, SemVer, VersionRange, version_key


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionSpec(Frozen):
    """Which user-session schema versions a module version reads and writes."""

    reads: tuple[int, ...]
    writes: int
    can_write: tuple[int, ...] | None = None  # default: (writes,)

    @field_validator("reads", "can_write", mode="before")
    @classmethod
    def _list_of_ints(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of schema versions, e.g. [1, 2]")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SessionSpec":
        if self.can_write is None:
            object.__setattr__(self, "can_write", (self.writes,))
        if self.writes not in self.can_write:
            raise ValueError(f"writes {self.writes} must be one of can_write {list(self.can_write)}")
        unreadable = sorted(set(self.can_write) - set(self.reads))
        if unreadable:
            raise ValueError(f"can_write lists {unreadable}, which this version does not read; add them to reads")
        return self

    @property
    def writable(self) -> frozenset[int]:
        """Formats this version can both write and read."""
        return frozenset(self.can_write or (self.writes,))


class VersionSpec(Frozen):
    """One version of a module: the interfaces it provides and consumes."""

    provides: dict[DnsLabel, tuple[SemVer, ...]] = Field(default_factory=dict)
    consumes: dict[DnsLabel, VersionRange] = Field(default_factory=dict)
    session: SessionSpec | None = None

    @field_validator("provides", mode="before")
    @classmethod
    def _versions_as_list(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if isinstance(v, (list, tuple)) else [v]) for k, v in value.items()}
        return value


class Module(Frozen):
    deployed: SemVer
    versions: dict[SemVer, VersionSpec]
    run: "RunSpec | None" = None  # per-platform workload; see nahtlos.runspec
    smoke: "list[SmokeCheck] | None" = None  # checks run against a version and after each wave
    strategy: dict[str, Any] | None = None  # per-module override of the application strategy

    @model_validator(mode="after")
    def _deployed_is_known(self) -> "Module":
        if self.deployed not in self.versions:
            known = ", ".join(sorted(self.versions, key=version_key)) or "none"
            raise ValueError(f"deployed version {self.deployed} is not listed under versions (known: {known})")
        return self

    def spec(self, version: str) -> VersionSpec:
        return self.versions[version]


class Application(Frozen):
    api_version: Literal["nahtlos/v1"] = Field(alias="apiVersion")
    kind: Literal["Application"]
    name: DnsLabel
    modules: dict[DnsLabel, Module]
    external: dict[DnsLabel, tuple[SemVer, ...]] = Field(default_factory=dict)
    entry: DnsLabel | None = None  # module that serves the public entry address
    strategy: dict[str, Any] | None = None
    sessions: "SessionsConfig | None" = None  # see nahtlos.sessions.config
    routing: "RoutingSpec" = Field(default_factory=lambda: RoutingSpec())
    probes: "ProbeSpec | None" = None  # session probes, see nahtlos.probes
    rollback: Literal["wave", "all"] = "wave"
    journeys: "dict[str, Journey]" = Field(default_factory=dict)  # user journeys, see nahtlos.smoke

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("external", mode="before")
    @classmethod
    def _external_as_list(cls, value: Any) -> Any:
        return VersionSpec._versions_as_list(value)

    @model_validator(mode="after")
    def _interfaces_are_consistent(self) -> "Application":
        if not self.modules:
            raise ValueError("an application needs at least one module")
        if self.entry is not None and self.entry not in self.modules:
            raise ValueError(f"entry module {self.entry!r} is not one of the modules")
        providers: dict[str, str] = {}
        for name, module in self.modules.items():
            for spec in module.versions.values():
                for interface in spec.provides:
                    other = providers.setdefault(interface, name)
                    if other != name:
                        raise ValueError(
                            f"interface {interface!r} is provided by both {other!r} and {name!r}; "
                            "every interface must have exactly one providing module"
                        )
                    if interface in self.external:
                        raise ValueError(f"interface {interface!r} is listed under external but provided by module {name!r}")
        for name, module in self.modules.items():
            for version, spec in module.versions.items():
                for interface in spec.consumes:
                    if interface not in providers and interface not in self.external:
                        raise ValueError(
                            f"modules.{name}.versions.{version} consumes {interface!r}, which no module provides; "
                            "add the providing module or list the interface under 'external:'"
                        )
        return self

    @model_validator(mode="after")
    def _strategies_are_valid(self) -> "Application":
        from pydantic import ValidationError

        from nahtlos.strategy import strategy_for  # the strategy builds on these models

        for name in self.modules:
            try:
                strategy_for(self, name)
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"strategy of module {name} is invalid at {where}: "
                                 f"{first['msg'].removeprefix('Value error, ')}") from None
        return self

    def provider_of(self, interface: str) -> str | None:
        """The module providing ``interface``, or None for an external one."""
        for name, module in self.modules.items():
            if any(interface in spec.provides for spec in module.versions.values()):
                return name
        return None


from nahtlos.runspec import RunSpec  # noqa: E402  (RunSpec builds on Frozen above)
from nahtlos.smoke import Journey, SmokeCheck  # noqa: E402
from nahtlos.platforms.local.spec import RoutingSpec  # noqa: E402
from nahtlos.sessions.config import SessionsConfig  # noqa: E402
from nahtlos.probes import ProbeSpec  # noqa: E402

Module.model_rebuild()
Application.model_rebuild()
