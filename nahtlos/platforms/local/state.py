"""The daemon's desired state, persisted in the state directory.

``desired.json`` says which versions should run (with the PID and port of the
process serving each, so a restarted daemon can adopt it), the weights, the
draining flags, session moves and the release bookkeeping; ``pins.json``
holds the session pins (digests only). Both are written atomically (write a
temporary file, then rename), so a crash never leaves half a file. The admin
token lives in ``token`` with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nahtlos.errors import InvalidInput


class _Mutable(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VersionRecord(_Mutable):
    port: int
    pid: int | None = None
    start_ticks: int | None = None
    state: str = "starting"  # starting | ready | draining | crashed
    message: str | None = None


class ModuleRecord(_Mutable):
    service_port: int
    versions: dict[str, VersionRecord] = Field(default_factory=dict)
    weights: dict[str, int] = Field(default_factory=dict)
    moved: dict[str, str] = Field(default_factory=dict)
    release_state: dict[str, Any] = Field(default_factory=dict)


class DesiredState(_Mutable):
    app: str
    workdir: str
    admin_port: int = 0
    entry_port: int | None = None
    modules: dict[str, ModuleRecord] = Field(default_factory=dict)


class StateDir:
    """Paths and atomic file access inside one platform's state directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()

    desired = property(lambda self: self.path / "desired.json")
    pins = property(lambda self: self.path / "pins.json")
    token_file = property(lambda self: self.path / "token")
    daemon_file = property(lambda self: self.path / "daemon.json")
    application_file = property(lambda self: self.path / "application.json")
    log_dir = property(lambda self: self.path / "logs")
    daemon_log = property(lambda self: self.path / "daemon.log")

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(exist_ok=True)

    def token(self, *, create: bool) -> str:
        """The admin bearer token; generated (mode 0600) on first use."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            if not create:
                raise InvalidInput("no admin token: the platform was never started here",
                                   subject=str(self.path), hint="run `nahtlos platform up DESCRIPTOR` first") from None
        token = secrets.token_urlsafe(32)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        return token

    def write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def read_json(self, path: Path) -> Any | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read {path.name} ({type(exc).__name__})", subject=str(self.path),
                               hint="the state directory is damaged; move it away to start afresh") from None

    def load_desired(self) -> DesiredState | None:
        data = self.read_json(self.desired)
        return DesiredState.model_validate(data) if data is not None else None

    def save_desired(self, state: DesiredState) -> None:
        self.write_json(self.desired, state.model_dump(mode="json"))
