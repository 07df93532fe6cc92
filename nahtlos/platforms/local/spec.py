"""Descriptor models owned by the local platform.

``LocalRunSpec`` is a module's ``run.local`` section: how to start one of its
versions as a process on this machine. ``RoutingSpec`` is the application's
``routing:`` section: how the router recognises a user session and where the
public entry listens.

Placeholders in ``command`` and ``env`` values:

    {port}        free loopback port chosen by the platform for this process
    {version}     the module version (X.Y.Z)          {module}  the module name
    {app}         the application name                {python}  the daemon's interpreter
    {state_dir}   the platform's state directory
    {url:<m>}     stable service URL of module <m> (follows the weights)
    {env:<NAME>}  variable NAME of the daemon's environment (must be set)

Anything else in braces is an error at load time, so a typo never reaches a
running process. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from pydantic import Field, field_validator

from nahtlos.platforms.spec_rules import Frozen, ready_path


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
SIMPLE_PLACEHOLDERS = ("port", "version", "module", "app", "python", "state_dir")


def check_template(text: str) -> str:
    for match in _PLACEHOLDER.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValueError(f"unbalanced brace in {text!r}; write {{{{ or }}}} for a literal brace")
        kind, _, arg = name.partition(":")
        if name in SIMPLE_PLACEHOLDERS or (kind in ("url", "env") and arg):
            continue
        raise ValueError(
            f"unknown placeholder {{{name}}} in {text!r}; known: "
            + ", ".join(f"{{{p}}}" for p in SIMPLE_PLACEHOLDERS) + ", {url:<module>}, {env:<NAME>}"
        )
    return text


class LocalRunSpec(Frozen):
    """``run.local``: a command line that starts one version as an HTTP server on ``{port}``."""

    command: tuple[str, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    ready: str = "/healthz"  # GET; any 2xx means ready
    ready_timeout: float = Field(default=30.0, gt=0, le=3600)
    stop_grace: float = Field(default=10.0, ge=0, le=3600)

    @field_validator("command", mode="before")
    @classmethod
    def _command_is_a_list(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError('command must be a list of arguments, e.g. ["{python}", "-m", "app", "--port", "{port}"]')
        return value

    @field_validator("command")
    @classmethod
    def _command_templates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value[0].strip():
            raise ValueError("the first element of command (the program) must not be empty")
        return tuple(check_template(part) for part in value)

    @field_validator("env")
    @classmethod
    def _env_templates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"environment variable name {name!r} is not valid")
            check_template(text)
        return value

    @field_validator("ready")
    @classmethod
    def _ready_is_a_path(cls, value: str) -> str:
        return ready_path(value)


class RoutingSpec(Frozen):
    """``routing:``: session recognition for stickiness and the public entry port."""

    session_cookie: str | None = None  # the application's own session cookie, e.g. bs_session
    pin_idle_seconds: float = Field(default=1800.0, gt=0)  # a pin expires after this long without requests
    entry_port: int = Field(default=0, ge=0, le=65535)  # 0 = pick a free port (kept across restarts)

    @field_validator("session_cookie")
    @classmethod
    def _cookie_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value):
            raise ValueError(f"session_cookie {value!r} is not a valid cookie name")
        return value


@dataclass(frozen=True)
class Placeholders:
    """Values for one process start. ``service_urls`` maps module -> stable URL."""

    port: int
    version: str
    module: str
    app: str
    python: str
    state_dir: str
    service_urls: Mapping[str, str]
    environ: Mapping[str, str]

    def expand(self, text: str, *, where: str) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            name = match.group(1)
            kind, _, arg = name.partition(":")
            if kind == "url":
                if arg not in self.service_urls:
                    raise KeyError(f"{where}: {{url:{arg}}} names no module of this application")
                return self.service_urls[arg]
            if kind == "env":
                if arg not in self.environ:
                    raise KeyError(f"{where}: {{env:{arg}}} is not set in the platform daemon's environment")
                return self.environ[arg]
            return str(getattr(self, name))

        return _PLACEHOLDER.sub(replace, text)


def service_env_name(module: str) -> str:
    """``forms-api`` -> ``FORMS_API_SERVICE_URL`` (like Kubernetes service variables)."""
    return module.upper().replace("-", "_") + "_SERVICE_URL"


def process_command(spec: LocalRunSpec, values: Placeholders) -> list[str]:
    return [values.expand(part, where=f"command[{i}]") for i, part in enumerate(spec.command)]


def process_environment(spec: LocalRunSpec, values: Placeholders) -> dict[str, str]:
    """The daemon's environment plus the platform variables plus the spec's own ``env``."""
    env = dict(values.environ)
    env.update({
        "PORT": str(values.port),
        "NAHTLOS_APP": values.app,
        "NAHTLOS_MODULE": values.module,
        "NAHTLOS_VERSION": values.version,
    })
    env.update({service_env_name(m): url for m, url in values.service_urls.items()})
    env.update({name: values.expand(text, where=f"env.{name}") for name, text in spec.env.items()})
    return env
