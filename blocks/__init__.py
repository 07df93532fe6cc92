"""Prefect Block types for nahtlos: where the platform, the session store, the metrics and the
application descriptors are. Register them with ``prefect block register -m blocks``."""

from blocks.catalog import ApplicationCatalog
from blocks.metrics import PrometheusMetrics
from blocks.platform import KubernetesPlatformConfig, LocalPlatformConfig
from blocks.session_store import RedisSessionStoreConfig

__all__ = ["ApplicationCatalog", "KubernetesPlatformConfig", "LocalPlatformConfig", "PrometheusMetrics",
           "RedisSessionStoreConfig"]
