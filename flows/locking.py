"""One release per application at a time: a Prefect global concurrency limit per application.

The limit is created on first use (``strict=True`` refuses to run without one,
instead of silently not locking). A short lease, renewed while the holder runs,
frees the slot soon after a killed run, so its re-run can reconcile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from nahtlos.errors import ReleaseRefused

LEASE_SECONDS = 60  # the server refuses shorter leases


def limit_name(application: str) -> str:
    return f"nahtlos-release-{application}"


def ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another release created it at the same moment


@contextmanager
def one_release_at_a_time(application: str, *, wait_seconds: float) -> Iterator[None]:
    name = limit_name(application)
    ensure_limit(name)
    try:
        with concurrency(name, occupy=1, strict=True, timeout_seconds=max(wait_seconds, 1.0),
                         lease_duration=LEASE_SECONDS):
            yield
    except TimeoutError:
        raise ReleaseRefused(f"another release of {application} is running", subject=f"application {application}",
                             hint="wait for it to finish (see the Prefect UI), or pass a longer "
                                  "wait_for_other_release") from None
