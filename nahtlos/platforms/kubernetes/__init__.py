"""The Kubernetes/OpenShift platform backend.

The ``kubernetes`` client library is imported only inside this package, and only
when the platform itself is used: importing ``spec`` (which the descriptor does)
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nahtlos.descriptor import Application
    from nahtlos.platforms.kubernetes.platform import KubernetesPlatform

__all__ = ["KubernetesPlatform", "connect"]


def connect(app: Application, *, namespace: str, kubeconfig: str | None = None, context: str | None = None,
            router: str = "gateway-api", router_options: dict[str, Any] | None = None) -> KubernetesPlatform:
    """A platform for ``app`` in ``namespace``: credentials from ``kubeconfig`` (and ``context``),
    or, without a kubeconfig, from the pod's ServiceAccount (in-cluster worker)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    from nahtlos.errors import InvalidInput
    from nahtlos.platforms.kubernetes.platform import KubernetesPlatform

    try:
        if kubeconfig:
            api = config.new_client_from_config(config_file=kubeconfig, context=context)
        else:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            api = client.ApiClient(configuration)
    except (ConfigException, OSError) as exc:
        where = kubeconfig or "the in-cluster ServiceAccount"
        raise InvalidInput(f"cannot load Kubernetes credentials from {where}: {type(exc).__name__}",
                           subject="kubernetes platform",
                           hint="pass a readable kubeconfig, or run inside the cluster with a ServiceAccount") from exc
    return KubernetesPlatform(application=app, api_client=api, namespace=namespace, router=router,
                              router_options=router_options)


def __getattr__(name: str) -> Any:
    if name == "KubernetesPlatform":
        from nahtlos.platforms.kubernetes.platform import KubernetesPlatform

        return KubernetesPlatform
    raise AttributeError(name)
