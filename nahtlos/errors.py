"""One error tree for nahtlos.

Every error says what failed, on which object, and what to do next, and whether
a retry can help. Third-party errors are mapped to this tree at the edge where
they occur, with ``raise ... from``.

    NahtlosError                      base; .subject, .hint, .transient
    ├── InvalidInput                  the user gave something we cannot use (CLI exit 2)
    │   ├── DescriptorError           malformed descriptor: file, document path, line
    │   └── UnknownObject             unknown module, version, interface ...
    ├── ReleaseRefused                the planner found no safe order (CLI exit 3)
    ├── PlatformError                 a platform backend failed
    │   ├── PlatformUnreachable       daemon / API server not reachable (transient)
    │   ├── DeployFailed              a version did not start or never became ready
    │   │   └── DeployRefused         ... because of its run spec or the host (also InvalidInput, exit 2)
    │   ├── Conflict                  concurrent change (transient, retry)
    │   ├── AccessDenied              the platform refused our credentials (401/403)
    │   └── ObjectRejected            the platform refused an object as invalid (400/422)
    ├── SessionError                  session store or handoff failed
    │   ├── StoreUnreachable          session store not reachable (transient)
    │   ├── MigrationUnavailable      the migration provider cannot answer (transient)
    │   └── HandoffBlocked            preflight / verification found unreadable sessions
    ├── GateFailed                    smoke test, probe or analysis said no (CLI exit 3)
    └── MetricsUnavailable            the metrics source (Prometheus ...) did not answer (transient)

Messages never contain user-session contents or secrets: they name keys,
modules and versions only.
"""

from __future__ import annotations


class NahtlosError(Exception):
    """Base of every error nahtlos raises on purpose."""

    transient: bool = False
    exit_code: int = 1

    def __init__(self, message: str, *, subject: str | None = None, hint: str | None = None,
                 transient: bool | None = None) -> None:
        self.message = message
        self.subject = subject
        self.hint = hint
        if transient is not None:
            self.transient = transient
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.subject}: {self.message}" if self.subject else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InvalidInput(NahtlosError):
    exit_code = 2


class DescriptorError(InvalidInput):
    """A descriptor that cannot be used; names file, document path and line."""

    def __init__(self, message: str, *, file: str, path: str = "", line: int | None = None,
                 hint: str | None = None) -> None:
        self.file, self.path, self.line = file, path, line
        where = file + (f":{line}" if line else "")
        subject = f"{where}: {path}" if path else where
        super().__init__(message, subject=subject, hint=hint)


class UnknownObject(InvalidInput):
    pass


class ReleaseRefused(NahtlosError):
    exit_code = 3


class PlatformError(NahtlosError):
    pass


class PlatformUnreachable(PlatformError):
    transient = True


class DeployFailed(PlatformError):
    pass


class DeployRefused(DeployFailed, InvalidInput):
    """The version cannot start as described: command missing, port taken, never ready."""


class Conflict(PlatformError):
    transient = True


class AccessDenied(PlatformError):
    pass


class ObjectRejected(PlatformError):
    pass


class SessionError(NahtlosError):
    pass


class StoreUnreachable(SessionError):
    transient = True


class MigrationUnavailable(SessionError):
    transient = True


class HandoffBlocked(SessionError):
    exit_code = 3


class GateFailed(NahtlosError):
    exit_code = 3


class MetricsUnavailable(NahtlosError):
    transient = True


def is_transient(exc: BaseException) -> bool:
    """Retry predicate for Prefect tasks: only errors that declare themselves transient."""
    return isinstance(exc, NahtlosError) and exc.transient
