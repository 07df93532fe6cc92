"""All Buergerservice modules as plain processes on this machine, wired directly to each other.

No nahtlos platform in between: for the tests of the modules themselves and
for the synthetic-users benchmark. ``stack.url("forms", "2.0.0", use={"registry":
"2.1.0"})`` starts forms 2.0.0 (once per distinct wiring) and, first, every
module it consumes according to ``deployments/buergerservice.yaml``, at the
deployed version unless ``use`` names another. A module learns the addresses
of exactly the modules its descriptor entry consumes, so a call to an
undeclared dependency fails loudly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from nahtlos.loader import load_application
from nahtlos.sessions.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = ROOT / "deployments" / "buergerservice.yaml"


@dataclass
class ModuleProcess:
    module: str
    version: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        command = [sys.executable, "-m", "examples.buergerservice", self.module, "--version", self.version,
                   "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.module} {self.version} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    self.ready = True
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.module} {self.version} not ready after {timeout}s")

    def stop(self, grace: float = 10.0) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait()


class Stack:
    def __init__(self, redis_url: str, logs: Path, *, descriptor: Path = DESCRIPTOR) -> None:
        self.redis_url, self.logs = redis_url, logs
        self.app = load_application(descriptor)
        self._running: dict[tuple[object, ...], ModuleProcess] = {}

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_URL")}
        env.update(REDIS_URL=self.redis_url, NAHTLOS_APP=self.app.name, PYTHONPATH=str(ROOT))
        return env

    def consumed_modules(self, module: str, version: str) -> list[str]:
        spec = self.app.modules[module].versions[version]
        return sorted({p for interface in spec.consumes if (p := self.app.provider_of(interface))})

    def _ensure(self, module: str, version: str | None, use: Mapping[str, str],
                env: Mapping[str, str]) -> ModuleProcess:
        version = version or use.get(module) or self.app.modules[module].deployed
        dependencies = {name: self._ensure(name, use.get(name), use, {})
                        for name in self.consumed_modules(module, version)}
        key = (module, version, tuple(sorted((n, d.port) for n, d in dependencies.items())),
               tuple(sorted(env.items())))
        if key not in self._running:
            child_env = self.base_env()
            child_env.update({f"{name.upper()}_SERVICE_URL": d.url for name, d in dependencies.items()})
            child_env.update(env)
            started = ModuleProcess(module, version, free_port(), self.logs / f"{module}-{version}.log",
                                    env=child_env)
            started.spawn()
            self._running[key] = started
        return self._running[key]

    def start(self, module: str, version: str | None = None, *, use: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None) -> ModuleProcess:
        """The running process of ``module`` at ``version`` (started with its dependencies if needed)."""
        found = self._ensure(module, version, dict(use or {}), dict(env or {}))
        for process in list(self._running.values()):  # started together, waited for together
            if not process.ready:
                process.wait_ready()
        return found

    def url(self, module: str, version: str | None = None, **options: object) -> str:
        return self.start(module, version, **options).url  # type: ignore[arg-type]

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def processes(self) -> list[ModuleProcess]:
        return list(self._running.values())

    def stop_all(self) -> None:
        """SIGTERM to all at once (each drains in parallel), then wait for each."""
        for running in self._running.values():
            if running.process is not None and running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        for running in self._running.values():
            running.stop()
