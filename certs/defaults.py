"""Names and lifetimes the manifests, the webhook server and the certs code must agree on."""

from __future__ import annotations

from datetime import timedelta

from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

NAMESPACE = DEFAULT_SYSTEM_NAMESPACE
SERVICE_NAME = "tronador-webhook"
SECRET_NAME = "tronador-webhook-tls"
MUTATING_WEBHOOK_NAME = "tronador-mutating-webhook"
VALIDATING_WEBHOOK_NAME = "tronador-validating-webhook"

CERT_DIR = "/tls"
"""Where the webhook server reads ``tls.crt``/``tls.key`` (webhook.cli's default ``--cert`` and
``--key``) and where the loop writes them."""
CA_CERT_FILE = "ca.crt"
TLS_CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"

# Keys inside the kubernetes.io/tls Secret.
SECRET_TLS_CERT = "tls.crt"
SECRET_TLS_KEY = "tls.key"
SECRET_CA_BUNDLE = "ca.crt"
SECRET_CA_KEY = "ca.key"
SECRET_NEXT_CA_KEY = "ca-next.key"
"""Present only while a CA rotation is being published: the key of the not-yet-signing CA."""

CA_LIFETIME = timedelta(days=3650)
LEAF_LIFETIME = timedelta(days=365)
LEAF_ROTATE_FRACTION = 2 / 3
CA_ROTATE_FRACTION = 2 / 3
CA_PUBLISH_DELAY = timedelta(hours=1)
"""How long a new CA sits in the bundle before the serving certificate is signed by it."""
CA_RETIRE_DELAY = timedelta(hours=24)
"""How long the old CA stays in the bundle after the serving certificate moved to the new CA."""

SYNC_INTERVAL_SECONDS = 60.0

# Environment variable fallbacks for the CLI options.
# The namespace: tronador.namespace.system_namespace (TRONADOR_NAMESPACE, then POD_NAMESPACE).
ENV_SERVICE_NAME = "TRONADOR_WEBHOOK_SERVICE"
ENV_SECRET_NAME = "TRONADOR_WEBHOOK_SECRET"
ENV_MUTATING_WEBHOOK_NAME = "TRONADOR_MUTATING_WEBHOOK"
ENV_VALIDATING_WEBHOOK_NAME = "TRONADOR_VALIDATING_WEBHOOK"
ENV_CERT_DIR = "TRONADOR_CERT_DIR"
ENV_SYNC_INTERVAL = "TRONADOR_CERT_SYNC_INTERVAL"
