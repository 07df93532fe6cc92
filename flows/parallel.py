"""Run sub-flows side by side in a bounded thread pool, each as a child of the calling flow.

Prefect finds the parent run through context variables, which threads do not
inherit; each call therefore runs in a copy of the caller's context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_in_threads(fn: Callable[..., T], calls: Sequence[dict[str, Any]], *, max_workers: int) -> list[T]:
    if len(calls) == 1:
        return [fn(**calls[0])]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(calls)))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, **kwargs) for kwargs in calls]
        return [f.result() for f in futures]
