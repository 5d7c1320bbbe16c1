"""Names shared by the API types, the rules and every running part."""

from __future__ import annotations

GROUP = "tronador.stakater.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

EP_KIND = "EnvironmentProvisioner"
EP_PLURAL = "environmentprovisioners"
EP_SINGULAR = "environmentprovisioner"
EP_SHORT_NAMES = ["tep"]
"""Not `ep`: that is Endpoints' built-in short name (tests/test_short_names.py pins the choice)."""

ENV_VERSION = "v1alpha2"
ENV_API_VERSION = f"{GROUP}/{ENV_VERSION}"
ENV_KIND = "Environment"
ENV_PLURAL = "environments"
ENV_SINGULAR = "environment"
ENV_SHORT_NAMES = ["tenv"]
"""Tronador's current kind (v1alpha2): the EP's successor, served beside it."""

CONFIG_KIND = "TronadorConfig"
CONFIG_PLURAL = "tronadorconfigs"
CONFIG_SINGULAR = "tronadorconfig"
CONFIG_SHORT_NAMES = ["tcfg"]
CONFIG_NAME = "tronador-config"
"""The one TronadorConfig the cluster honours; it lives in the controller's namespace."""
DEFAULT_SYSTEM_NAMESPACE = "tronador-system"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "tronador.stakater.com"
INSTANCE_LABEL = "app.kubernetes.io/instance"
ENVIRONMENT_LABEL = "tronador.stakater.com/environment"
"""Put on every object the controller creates; names the EP it belongs to."""
DEFAULT_TENANT_LABEL = "stakater.com/tenant"

FINALIZER = "tronador.stakater.com/cleanup"

IMAGE_NAME_ANNOTATION = "tronador.stakater.com/image-name"
IMAGE_TAG_ANNOTATION = "tronador.stakater.com/image-tag"
PULL_REQUEST_ANNOTATION = "tronador.stakater.com/pull-request"
REPO_NAME_ANNOTATION = "stakater.com/repo-name"
SOURCE_TIME_ANNOTATION = "tronador.stakater.com/source-time"
"""When the published commit was made (RFC 3339, UTC): `tronador publish` keeps the newer one."""
TTL_ANNOTATION = "tronador.stakater.com/ttl"
KEEP_ANNOTATION = "tronador.stakater.com/keep"
"""`"true"`: the environment is kept past its time-to-live (unless the policy's allowKeep is
false), e.g. while a PR waits for a demo."""

IMAGE_NAME_PLACEHOLDER = "APPLICATION_IMAGE_NAME"
IMAGE_TAG_PLACEHOLDER = "APPLICATION_IMAGE_TAG"
OWNER_UID_ANNOTATION = "tronador.stakater.com/owner-uid"
"""On each namespace the controller creates: the UID of the EP or Environment it belongs to."""
