"""The ``run`` section of a module: how each platform runs its versions.

Each backend owns the model of its own sub-section (``local``, ``kubernetes``);
this module only gathers them so the descriptor stays one validated document.
"""

from __future__ import annotations

from typing import Any

from nahtlos.descriptor import Frozen
from nahtlos.platforms.kubernetes.spec import KubernetesRunSpec
from nahtlos.platforms.local.spec import LocalRunSpec


class RunSpec(Frozen):
    local: LocalRunSpec | None = None
    kubernetes: KubernetesRunSpec | None = None
