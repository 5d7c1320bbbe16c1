"""The `.tronador.yaml` file an application repository carries; `tronador render` reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tronador.api.environment_provisioner import ValuesFromSource
from tronador.api.formats import LabelValue


class ConfigFileApplication(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    chart_path: str = Field(min_length=1, description="Chart directory inside the repository.")
    namespace_labels: dict[str, LabelValue] = Field(default_factory=dict, alias="namespaceLabels")
    value_overrides: dict[str, Any] = Field(default_factory=dict)
    values_from: list[ValuesFromSource] | None = None


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application: ConfigFileApplication
