from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from nahtlos.descriptor import Application
from nahtlos.platforms.base import Platform


class LocalPlatformConfig(Block):
    """The local platform daemon (``nahtlos platform up``)."""

    _block_type_name = "nahtlos Local Platform"
    _block_type_slug = "nahtlos-local-platform"
    _description = "Local platform daemon: module versions as processes behind a weighted router."

    state_dir: str = Field(..., description="state directory of the daemon (holds its address and token)")
    address: str | None = Field(None, description="admin API address; default: read from the state directory")
    token: SecretStr | None = Field(None, description="admin API token; default: read from the state directory")

    def connect(self, app: Application) -> Platform:
        from nahtlos.platforms.local.client import LocalPlatform

        token = self.token.get_secret_value() if self.token else None
        return LocalPlatform(app, state_dir=self.state_dir, address=self.address, token=token)


class KubernetesPlatformConfig(Block):
    """A Kubernetes or OpenShift namespace driven through the official client."""

    _block_type_name = "nahtlos Kubernetes Platform"
    _block_type_slug = "nahtlos-kubernetes-platform"
    _description = "Kubernetes/OpenShift namespace: one Deployment per module version, weighted routes."

    namespace: str = Field(..., description="namespace the application runs in")
    kubeconfig: str | None = Field(None, description="kubeconfig path; empty: in-cluster service account")
    context: str | None = Field(None, description="kubeconfig context")
    router: str = Field("gateway-api", description="gateway-api | openshift-route | replicas")
    router_options: dict[str, Any] = Field(default_factory=dict, description=(
        'gateway-api: {"gateway": {"name": ..., "namespace": ...}}; openshift-route: {"domain": ...}'))

    def connect(self, app: Application) -> Platform:
        from nahtlos.platforms.kubernetes import connect

        return connect(app, namespace=self.namespace, kubeconfig=self.kubeconfig, context=self.context,
                       router=self.router, router_options=self.router_options or None)
