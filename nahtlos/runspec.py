"""The ``run`` section of a module: how each platform runs its versions.

Each backend owns the model of its own sub-section (``local``, ``kubernetes``);
this module only gathers them so the descriptor stays one validated document.
"""

from __future__ import annotations

from typing import Any

from nahtlos.descriptor import Frozen


class RunSpec(Frozen):
    local: dict[str, Any] | None = None  # replaced by the local backend's model
    kubernetes: dict[str, Any] | None = None  # replaced by the Kubernetes backend's model
