"""The server's route table: the one place paths are spelled (the manifests test reads it)."""

from __future__ import annotations

from typing import Final

MUTATE_ENVIRONMENT_PROVISIONERS: Final = "/mutate/environmentprovisioners"
VALIDATE_ENVIRONMENT_PROVISIONERS: Final = "/validate/environmentprovisioners"
MUTATE_ENVIRONMENTS: Final = "/mutate/environments"
VALIDATE_ENVIRONMENTS: Final = "/validate/environments"
VALIDATE_TRONADOR_CONFIGS: Final = "/validate/tronadorconfigs"

ADMISSION_PATHS: Final = (
    MUTATE_ENVIRONMENT_PROVISIONERS,
    VALIDATE_ENVIRONMENT_PROVISIONERS,
    MUTATE_ENVIRONMENTS,
    VALIDATE_ENVIRONMENTS,
    VALIDATE_TRONADOR_CONFIGS,
)
"""POST routes taking an AdmissionReview; each is named by a webhook configuration."""

HEALTHZ: Final = "/healthz"
READYZ: Final = "/readyz"
METRICS: Final = "/metrics"

MAX_BODY_BYTES: Final = 3 * 1024 * 1024
"""Larger AdmissionReviews are refused unread (the API server's own object limit is ~1.5 MiB,
and an AdmissionReview carries up to two copies)."""
