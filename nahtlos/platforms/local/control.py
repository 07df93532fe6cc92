"""The daemon's verbs: deploy, weights, drain, move sessions, retire, status.

``LocalControl`` ties the router, the version processes and the persisted
desired state together. Every verb validates first and changes nothing when
the input is bad; every verb is idempotent. The desired state is saved after
each change, so a restarted daemon restores the same routing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any

from nahtlos.descriptor import Application
from nahtlos.errors import Conflict, DeployRefused, InvalidInput, UnknownObject
from nahtlos.platforms.base import (DrainReport, ModuleStatus, PlatformStatus, RequestStats, TrafficSplit,
                                    VersionStatus)
from nahtlos.platforms.local.router import Router, bind_socket
from nahtlos.platforms.local.routes import Backend, ModuleRoutes
from nahtlos.platforms.local.spec import LocalRunSpec, Placeholders
from nahtlos.platforms.local.state import DesiredState, ModuleRecord, StateDir, VersionRecord
from nahtlos.platforms.local.supervisor import VersionProcess, describe_exit, free_port, probe

log = logging.getLogger("nahtlos.platform")
HOST = "127.0.0.1"
HEALTH_INTERVAL = 2.0


class LocalControl:
    def __init__(self, app: Application, state: StateDir, *, python: str = sys.executable) -> None:
        self.app, self.state, self.python = app, state, python
        self.router = Router(app.name)
        self.desired: DesiredState | None = None
        self.processes: dict[tuple[str, str], VersionProcess] = {}
        self._starting: dict[tuple[str, str], asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self.restoring = False
        self.entry_port: int | None = None

    # -- startup -------------------------------------------------------------------------------

    async def open(self, *, workdir: str) -> None:
        """Bind every listener (same ports as before a restart) and serve; raises InvalidInput if taken."""
        previous = self.state.load_desired()
        if previous is not None and previous.app != self.app.name:
            raise InvalidInput(f"the state directory belongs to application {previous.app!r}",
                               subject=str(self.state.path), hint="use another --state-dir")
        desired = previous or DesiredState(app=self.app.name, workdir=workdir)
        sockets = []
        try:
            for module in self.app.modules:
                record = desired.modules.get(module)
                sockets.append((module, self._bind(record.service_port if record else 0,
                                                   f"the service address of module {module!r}")))
            if self.app.entry is not None:
                port = self.app.routing.entry_port or desired.entry_port or 0
                sockets.append((None, self._bind(port, "the application's entry address (routing.entry_port)")))
        except InvalidInput:
            for _, sock in sockets:
                sock.close()
            raise
        routing = self.app.routing
        for module in self.app.modules:
            self.router.add_module(module, session_cookie=routing.session_cookie,
                                   pin_idle_seconds=routing.pin_idle_seconds)
        for module, sock in sockets:
            port = await self.router.serve(module or self.app.entry, sock, entry=module is None)
            if module is None:
                self.entry_port = desired.entry_port = port
            else:
                desired.modules.setdefault(module, ModuleRecord(service_port=port)).service_port = port
        self.desired = desired
        self.save()
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self._health_loop()), loop.create_task(self._pins_loop())]

    @staticmethod
    def _bind(port: int, what: str):
        try:
            return bind_socket(HOST, port)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {HOST}:{port} for {what}: {exc.strerror}",
                               hint="stop what listens there or choose another port") from None

    async def restore(self) -> None:
        """Bring back what the desired state says should run: adopt live processes, restart gone ones."""
        self.restoring = True
        try:
            pins = self.state.read_json(self.state.pins) or {}
            jobs = []
            for module, record in self.desired.modules.items():
                if module not in self.router.modules:
                    continue
                routes = self.router.modules[module]
                routes.moved.update(record.moved)
                for version, vrec in list(record.versions.items()):
                    jobs.append(self._restore_version(module, version, vrec, record.weights.get(version, 0)))
                routes.pins.load(pins.get(module, {}), time.monotonic())
            await asyncio.gather(*jobs)
            self.save()
        finally:
            self.restoring = False

    async def _restore_version(self, module: str, version: str, record: VersionRecord, weight: int) -> None:
        backend = Backend(module, version, HOST, record.port)
        backend.weight = weight
        backend.draining = record.state == "draining"
        self.router.modules[module].backends[version] = backend
        if record.state == "crashed":
            backend.message = record.message
            return
        try:
            spec = self._run_spec(module, version)
        except InvalidInput as exc:
            self._crashed(module, version, f"cannot restore: {exc}")
            return
        proc = self._process(module, version, spec, record.port)
        try:
            if record.pid is not None and proc.adopt(record.pid, record.start_ticks):
                await proc.wait_ready(timeout=spec.ready_timeout)
                log.info("%s %s: adopted running process %s", module, version, proc.pid)
            else:  # its process is gone (e.g. the machine rebooted): start it again on a free port
                proc.port = record.port = backend.port = free_port(HOST)
                await self._launch(module, version, spec, proc, timeout=spec.ready_timeout)
                record.message = "restarted: its process was gone when the daemon restarted"
        except DeployRefused as exc:
            await proc.stop()
            self._crashed(module, version, str(exc))
            return
        self._became_ready(module, version, proc, draining=backend.draining)

    # -- verbs -----------------------------------------------------------------------------------

    async def deploy(self, *, module: str, version: str, timeout: float) -> VersionStatus:
        spec = self._run_spec(module, version)
        key = (module, version)
        if key not in self._starting:
            proc = self.processes.get(key)
            if proc is not None and proc.running and self._record(module, version).state in ("ready", "draining"):
                return self.version_status(module, version)
            self._starting[key] = asyncio.get_running_loop().create_task(self._deploy(module, version, spec, timeout))
            self._starting[key].add_done_callback(lambda _: self._starting.pop(key, None))
        await asyncio.shield(self._starting[key])
        return self.version_status(module, version)

    async def _deploy(self, module: str, version: str, spec: LocalRunSpec, timeout: float) -> None:
        record = self.desired.modules[module]
        port = free_port(HOST)
        record.versions[version] = VersionRecord(port=port, state="starting")
        routes = self.router.modules[module]
        backend = routes.backends.get(version) or Backend(module, version, HOST, port)
        backend.port, backend.ready, backend.draining, backend.message = port, False, False, None
        backend.close_idle()
        routes.backends[version] = backend
        proc = self._process(module, version, spec, port)
        try:
            await self._launch(module, version, spec, proc, timeout=min(timeout, spec.ready_timeout))
        except DeployRefused as exc:
            await proc.stop()
            self._crashed(module, version, str(exc))
            raise
        self._became_ready(module, version, proc, draining=False)
        log.info("%s %s: ready on port %s", module, version, port)

    async def _launch(self, module: str, version: str, spec: LocalRunSpec, proc: VersionProcess, *,
                      timeout: float) -> None:
        values = Placeholders(
            port=proc.port, version=version, module=module, app=self.app.name, python=self.python,
            state_dir=str(self.state.path), service_urls=self.service_urls(), environ=dict(os.environ))
        await proc.start(values, cwd=self.desired.workdir)
        record = self._record(module, version)
        record.pid, record.start_ticks, record.state = proc.pid, proc.start_ticks, "starting"
        self.save()
        await proc.wait_ready(timeout=timeout)

    def set_weights(self, *, module: str, weights: dict[str, int]) -> TrafficSplit:
        routes = self._routes(module)
        for version, weight in weights.items():
            if version not in routes.backends:
                raise UnknownObject(f"version {version} is not deployed", subject=f"module {module}",
                                    hint="deploy it first")
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
                raise InvalidInput(f"weight of {version} must be a whole percentage 0..100", subject=f"module {module}")
        if sum(weights.values()) != 100:
            raise InvalidInput(f"weights must sum to 100, not {sum(weights.values())}", subject=f"module {module}")
        for version, weight in weights.items():
            if weight > 0 and not routes.backends[version].ready:
                state = self._record(module, version).state
                raise Conflict(f"version {version} is {state}, not ready: it cannot take traffic",
                               subject=f"module {module}", hint="deploy it again or give it weight 0",
                               transient=False)
        routes.set_weights(weights)
        record = self.desired.modules[module]
        record.weights = {v: w for v, w in weights.items() if w > 0}
        for version, weight in weights.items():
            if weight > 0 and record.versions[version].state == "draining":
                record.versions[version].state = "ready"
        self.save()
        return self.traffic(module=module)

    def traffic(self, *, module: str) -> TrafficSplit:
        routes = self._routes(module)
        configured = {v: b.weight for v, b in routes.backends.items()}
        return TrafficSplit(module=module, configured=configured, live=routes.live_split())

    async def drain(self, *, module: str, version: str, deadline: float, move_to: str | None) -> DrainReport:
        routes = self._routes(module)
        backend = self._backend(module, version)
        if move_to is not None:
            self._check_move_target(module, version, move_to)
        if backend.weight > 0:
            raise Conflict(f"version {version} still has weight {backend.weight}", subject=f"module {module}",
                           hint="set its weight to 0 before draining it", transient=False)
        backend.draining = True
        record = self._record(module, version)
        if record.state == "ready":
            record.state = "draining"
        self.save()
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            if backend.in_flight == 0 and routes.pinned_counts().get(version, 0) == 0:
                break
            await asyncio.sleep(0.05)
        moved = self.move_sessions(module=module, from_version=version, to_version=move_to) if move_to else 0
        pinned = routes.pinned_counts().get(version, 0)
        return DrainReport(module=module, version=version, drained=backend.in_flight == 0 and pinned == 0,
                           in_flight=backend.in_flight, pinned_sessions=pinned, moved_sessions=moved,
                           waited_seconds=round(time.monotonic() - started, 3))

    def move_sessions(self, *, module: str, from_version: str, to_version: str) -> int:
        routes = self._routes(module)
        self._backend(module, from_version)
        self._check_move_target(module, from_version, to_version)
        moved = routes.move_sessions(from_version, to_version)
        self.desired.modules[module].moved = dict(routes.moved)
        self.save()
        self.save_pins()
        return moved

    def _check_move_target(self, module: str, from_version: str, to_version: str) -> None:
        target = self._backend(module, to_version)
        if to_version == from_version:
            raise InvalidInput("cannot move sessions to the version they are on", subject=f"module {module}")
        if not target.ready:
            raise Conflict(f"version {to_version} is not ready to take sessions", subject=f"module {module}",
                           transient=False)

    async def retire(self, *, module: str, version: str) -> None:
        self._known_version(module, version)
        routes = self._routes(module)
        record = self.desired.modules[module]
        backend = routes.backends.get(version)
        if backend is None and version not in record.versions:
            return  # already retired
        if backend is not None and backend.weight > 0:
            raise Conflict(f"version {version} still has weight {backend.weight}", subject=f"module {module}",
                           hint="shift its traffic away (weight 0) and drain it first", transient=False)
        routes.remove(version)  # no new requests; in-flight ones finish on their connections
        proc = self.processes.get((module, version))
        grace = proc.spec.stop_grace if proc else 0.0
        waited = time.monotonic()
        while backend is not None and backend.in_flight > 0 and time.monotonic() - waited < grace:
            await asyncio.sleep(0.05)
        if proc is not None:
            await proc.stop()
            self.processes.pop((module, version), None)
        record.versions.pop(version, None)
        record.weights.pop(version, None)
        record.moved = {a: b for a, b in record.moved.items() if b != version and a != version}
        routes.moved = dict(record.moved)
        self.save()
        log.info("%s %s: retired", module, version)

    def replace_application(self, app: Application) -> bool:
        """Take a newer descriptor (new versions, changed run specs); False when nothing changed.
        Modules, entry and routing decide the listeners, so changing them needs a restart."""
        if app == self.app:
            return False
        if (app.name, set(app.modules), app.entry, app.routing) != (
                self.app.name, set(self.app.modules), self.app.entry, self.app.routing):
            raise Conflict("the new descriptor changes the application name, its modules, entry or routing",
                           subject=f"application {self.app.name}",
                           hint="restart the platform (`nahtlos platform down`, then `up`)", transient=False)
        self.app = app
        self.state.write_json(self.state.application_file, app.model_dump(mode="json", by_alias=True,
                                                                          exclude_none=True))
        return True

    def set_release_state(self, *, module: str, state: dict[str, Any]) -> None:
        self._routes(module)
        self.desired.modules[module].release_state = dict(state)
        self.save()

    def status(self) -> PlatformStatus:
        modules = {}
        for module, routes in self.router.modules.items():
            record = self.desired.modules[module]
            versions = {v: self.version_status(module, v) for v in record.versions}
            modules[module] = ModuleStatus(
                module=module, service_address=f"http://{HOST}:{record.service_port}", versions=versions,
                split=self.traffic(module=module), release_state=record.release_state)
        entry = f"http://{HOST}:{self.entry_port}" if self.entry_port else None
        return PlatformStatus(application=self.app.name, entry_address=entry, modules=modules)

    def version_status(self, module: str, version: str) -> VersionStatus:
        record = self._record(module, version)
        backend = self.router.modules[module].backends.get(version)
        pinned = self.router.modules[module].pinned_counts().get(version, 0)
        message = record.message
        if backend is not None and backend.message and record.state != "crashed":
            message = backend.message
        return VersionStatus(
            module=module, version=version, ready=bool(backend and backend.ready and record.state != "crashed"),
            state=record.state, weight=backend.weight if backend else 0,
            in_flight=backend.in_flight if backend else 0, pinned_sessions=pinned,
            address=f"http://{HOST}:{record.port}", message=message,
            stats=backend.stats.to_model() if backend else RequestStats())

    def service_urls(self) -> dict[str, str]:
        return {m: f"http://{HOST}:{r.service_port}" for m, r in self.desired.modules.items()}

    # -- shutdown ------------------------------------------------------------------------------

    async def close(self, *, stop_versions: bool) -> None:
        for task in self._tasks:
            task.cancel()
        await self.router.close(grace=2.0)
        self.save_pins()
        if stop_versions:
            await asyncio.gather(*(p.stop() for p in self.processes.values()))

    # -- internals -------------------------------------------------------------------------------

    def _process(self, module: str, version: str, spec: LocalRunSpec, port: int) -> VersionProcess:
        proc = VersionProcess(module=module, version=version, spec=spec, port=port,
                              log_path=self.state.log_dir / f"{module}-{version}.log")
        proc.on_exit = self._on_exit
        self.processes[(module, version)] = proc
        return proc

    def _became_ready(self, module: str, version: str, proc: VersionProcess, *, draining: bool) -> None:
        record = self._record(module, version)
        record.state = "draining" if draining else "ready"
        record.pid, record.start_ticks = proc.pid, proc.start_ticks
        backend = self.router.modules[module].backends[version]
        backend.port, backend.ready, backend.message = proc.port, True, None
        self.save()

    def _crashed(self, module: str, version: str, message: str) -> None:
        record = self._record(module, version)
        record.state, record.message, record.pid = "crashed", message, None
        backend = self.router.modules[module].backends.get(version)
        if backend is not None:
            backend.ready = False
            backend.message = message
            backend.close_idle()
        self.save()

    def _on_exit(self, proc: VersionProcess) -> None:
        if proc.stopping or self.processes.get((proc.module, proc.version)) is not proc:
            return
        message = f"{describe_exit(proc.exit_code)}; not restarted (see {proc.log_path})"
        log.warning("%s %s: %s", proc.module, proc.version, message)
        if proc.module in self.desired.modules and proc.version in self.desired.modules[proc.module].versions:
            self._crashed(proc.module, proc.version, message)

    async def _health_loop(self) -> None:
        """Active health: a version whose readiness path fails twice takes no new work until it answers."""
        failures: dict[tuple[str, str], int] = {}
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            for key, proc in list(self.processes.items()):
                record = self.desired.modules.get(key[0], None)
                vrec = record.versions.get(key[1]) if record else None
                backend = self.router.modules[key[0]].backends.get(key[1])
                if vrec is None or backend is None or vrec.state not in ("ready", "draining") or not proc.running:
                    continue
                status = await probe(proc.port, proc.spec.ready, timeout=1.0)
                if status is not None and 200 <= status < 300:
                    failures.pop(key, None)
                    if not backend.ready and proc.running and vrec.state in ("ready", "draining"):
                        backend.ready, backend.message = True, None
                else:
                    failures[key] = failures.get(key, 0) + 1
                    if failures[key] >= 2 and backend.ready:
                        backend.mark_unhealthy(f"readiness path {proc.spec.ready} failing")

    async def _pins_loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            if ticks % 10 == 0 or any(r.pins.changed for r in self.router.modules.values()):
                self.save_pins()

    def save(self) -> None:
        if self.desired is not None:
            self.state.save_desired(self.desired)

    def save_pins(self) -> None:
        now = time.monotonic()
        data = {}
        for module, routes in self.router.modules.items():
            routes.pins.changed = False
            data[module] = routes.pins.dump(now)
        self.state.write_json(self.state.pins, data)

    def _known_version(self, module: str, version: str) -> None:
        if module not in self.app.modules:
            raise UnknownObject(f"unknown module {module!r}", hint="known: " + ", ".join(sorted(self.app.modules)))
        record = self.desired.modules.get(module) if self.desired is not None else None
        running = record is not None and version in record.versions  # e.g. dropped from a newer descriptor
        if version not in self.app.modules[module].versions and not running:
            known = ", ".join(self.app.modules[module].versions)
            raise UnknownObject(f"unknown version {version!r}", subject=f"module {module}", hint=f"known: {known}")

    def _run_spec(self, module: str, version: str) -> LocalRunSpec:
        self._known_version(module, version)
        run = self.app.modules[module].run
        if run is None or run.local is None:
            raise InvalidInput("has no run.local section: the local platform cannot start it",
                               subject=f"module {module}", hint="add run.local to the descriptor")
        return run.local

    def _routes(self, module: str) -> ModuleRoutes:
        if module not in self.router.modules:
            raise UnknownObject(f"unknown module {module!r}", hint="known: " + ", ".join(sorted(self.router.modules)))
        return self.router.modules[module]

    def _backend(self, module: str, version: str) -> Backend:
        self._known_version(module, version)
        backend = self._routes(module).backends.get(version)
        if backend is None:
            raise UnknownObject(f"version {version} is not deployed", subject=f"module {module}")
        return backend

    def _record(self, module: str, version: str) -> VersionRecord:
        return self.desired.modules[module].versions[version]
