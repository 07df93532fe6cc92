"""What every backend's ``run`` section shares: the model settings and the readiness path rule.

Kept apart from ``nahtlos.descriptor`` because the descriptor imports the backends' spec modules.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    # Same settings as nahtlos.descriptor.Frozen (which cannot be imported here: import cycle).
    model_config = ConfigDict(frozen=True, extra="forbid")


def ready_path(value: str) -> str:
    """A readiness path as both backends probe it: a URL path, no whitespace."""
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError(f"ready must be a URL path starting with '/', e.g. /healthz (got {value!r})")
    return value
