from __future__ import annotations

from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field

from nahtlos.descriptor import Application
from nahtlos.errors import UnknownObject
from nahtlos.loader import load_application


class ApplicationCatalog(Block):
    """Where the application descriptors (``<app>.yaml``) live."""

    _block_type_name = "nahtlos Application Catalog"
    _block_type_slug = "nahtlos-application-catalog"
    _description = "Directory of nahtlos application descriptors (deployments/<app>.yaml)."

    directory: str = Field("deployments", description="Directory holding <application>.yaml descriptors")

    def path(self, application: str) -> Path:
        return Path(self.directory) / f"{application}.yaml"

    def load_application(self, application: str) -> Application:
        path = self.path(application)
        if not path.exists():
            raise UnknownObject(f"no descriptor {path}", subject=f"application {application}",
                                hint=f"add {path.name} to {self.directory} or fix the catalog block")
        return load_application(path)
