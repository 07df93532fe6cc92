"""The one edge where Kubernetes client failures become nahtlos errors, with retries.

Transient failures (429, 5xx, timeouts, refused connections) are retried with
capped exponential backoff and jitter; what still fails becomes
``PlatformUnreachable``. 409 on an update is retried by ``update_with_retry``,
which re-reads the object before applying the change again. Permanent failures
keep the object and the API server's reason: 401/403 -> ``AccessDenied``,
400/422 -> ``ObjectRejected``, 404 -> ``UnknownObject``. Response bodies are
truncated and never include request contents or credentials.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from kubernetes.client.rest import ApiException

from nahtlos.errors import AccessDenied, Conflict, ObjectRejected, PlatformError, PlatformUnreachable, UnknownObject

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
REASON_LIMIT = 256


def reason_of(exc: ApiException) -> str:
    """The API server's own message (Status.message), truncated; never the request."""
    try:
        body = json.loads(exc.body or "")
        text = body.get("message") or exc.reason or ""
    except (ValueError, TypeError, AttributeError):
        text = exc.reason or ""
    text = str(text)
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT] + "..."


def map_api_error(exc: Exception, *, subject: str, action: str) -> PlatformError:
    """Translate one client failure into the nahtlos error tree (callers ``raise ... from exc``)."""
    if not isinstance(exc, ApiException):
        return PlatformUnreachable(f"cannot {action}: the API server did not answer ({type(exc).__name__})",
                                   subject=subject, hint="check the cluster address and network, then retry")
    status = exc.status or 0
    reason = reason_of(exc)
    if status in (401, 403):
        return AccessDenied(f"not allowed to {action}: {reason}", subject=subject,
                            hint="grant the worker's ServiceAccount the Role in deployments/kubernetes/rbac.yaml "
                                 "in this namespace")
    if status in (400, 422):
        return ObjectRejected(f"the API server rejected the request to {action}: {reason}", subject=subject,
                              hint="check the module's run.kubernetes section and the installed CRDs")
    if status == 404:
        return UnknownObject(f"not found while trying to {action}: {reason}", subject=subject,
                             hint="check the namespace and that the CRD (Gateway API / OpenShift Route) is installed")
    if status == 409:
        return Conflict(f"concurrent change while trying to {action}: {reason}", subject=subject,
                        hint="someone else changed the object; rerun the step")
    if status in TRANSIENT_STATUSES:
        return PlatformUnreachable(f"API server answered {status} while trying to {action}: {reason}",
                                   subject=subject, hint="the API server is overloaded or restarting; retry later")
    return PlatformError(f"API server answered {status} while trying to {action}: {reason}", subject=subject)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, ApiException):
        return (exc.status or 0) in TRANSIENT_STATUSES or exc.status == 0
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def backoff_seconds(attempt: int, *, base: float = 0.2, cap: float = 5.0) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def call(fn: Callable[..., T], *args: Any, subject: str, action: str, attempts: int = 6, **kwargs: Any) -> T:
    """Run one API call; retry transient failures; map every failure at this edge."""
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            if not _is_transient(exc) or attempt == attempts:
                raise map_api_error(exc, subject=subject, action=action) from exc
            delay = backoff_seconds(attempt)
            log.warning("%s: transient failure while trying to %s (%s), retry %d in %.2f s",
                        subject, action, getattr(exc, "status", type(exc).__name__), attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def update_with_retry(*, read: Callable[[], T], change: Callable[[T], T | None], write: Callable[[T], Any],
                      subject: str, action: str, attempts: int = 8) -> T | None:
    """Optimistic read-modify-write: on 409 Conflict re-read and apply ``change`` again.

    ``change`` gets a fresh copy of the object and returns the object to write, or
    None when nothing needs to change (then nothing is written). ``write`` must
    send the resourceVersion it read, so a concurrent writer makes it fail with 409.
    Returns what was written (or None).
    """
    for attempt in range(1, attempts + 1):
        current = call(read, subject=subject, action=f"read before trying to {action}")
        wanted = change(current)
        if wanted is None:
            return None
        try:
            call(write, wanted, subject=subject, action=action)
            return wanted
        except Conflict as exc:
            if attempt == attempts:
                raise Conflict(f"gave up after {attempts} conflicting concurrent changes while trying to {action}",
                               subject=subject, hint="another controller keeps changing the object; "
                                                     "find it, then rerun the step") from exc
            delay = backoff_seconds(attempt, base=0.05, cap=1.0)
            log.info("%s: conflict while trying to %s, re-reading (retry %d in %.2f s)", subject, action, attempt,
                     delay)
            time.sleep(delay)
    raise AssertionError("unreachable")
