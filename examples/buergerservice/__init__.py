"""Buergerservice: the City's online citizen services, the demo application of nahtlos.

Nine small HTTP services (Starlette under uvicorn) that match
``deployments/buergerservice.yaml``. Run one module at one version with::

    python -m examples.buergerservice gateway --version 1.8.0 --port 8080

Every module finds the others through ``<MODULE>_SERVICE_URL`` (contract 1),
answers ``/healthz`` when ready, names the version that served each response
in the ``X-Served-By`` header (``gateway/1.8.0``) and finishes in-flight
requests on SIGTERM.
"""

# The versions each module implements; the descriptor lists the same ones.
VERSIONS: dict[str, tuple[str, ...]] = {
    "gateway": ("1.8.0", "2.0.0"),
    "portal": ("1.2.0", "1.3.0"),
    "auth": ("1.2.3",),
    "appointments": ("1.2.0", "1.3.0"),
    "forms": ("1.4.0", "2.0.0"),
    "registry": ("2.0.0", "2.1.0"),
    "payments": ("3.0.2", "3.1.0"),
    "notifications": ("1.0.4", "1.1.0"),
    "documents": ("1.0.0", "1.1.0"),
}
