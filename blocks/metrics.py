from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class PrometheusMetrics(Block):
    """A Prometheus server that scrapes the routers' request metrics."""

    _block_type_name = "nahtlos Prometheus"
    _block_type_slug = "nahtlos-prometheus"
    _description = "Prometheus HTTP API used as the canary analysis metric source."

    url: str = Field(..., description="e.g. http://prometheus.monitoring:9090")
    bearer_token: SecretStr | None = Field(None, description="optional API token")

    def provider(self, *, application: str):
        from nahtlos.analysis.prometheus import PrometheusProvider

        token = self.bearer_token.get_secret_value() if self.bearer_token else None
        return PrometheusProvider(url=self.url, application=application, token=token)
