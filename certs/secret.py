"""Reading and writing the webhook TLS Secret with optimistic concurrency.

Only names, resource versions and HTTP status codes are ever logged or put in errors: the
bodies of Secret requests carry private keys.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tronador.api.constants import MANAGED_BY_LABEL, MANAGED_BY_VALUE

SECRET_TYPE = "kubernetes.io/tls"


class SecretError(RuntimeError):
    """The API refused a Secret request for a reason other than a lost race."""


@dataclass
class StoredSecret:
    data: dict[str, bytes]
    obj: client.V1Secret

    @property
    def resource_version(self) -> str:
        return str(self.obj.metadata.resource_version)


def _encode(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode("ascii") for k, v in sorted(data.items())}


def _error(action: str, name: str, e: ApiException) -> SecretError:
    return SecretError(f"{action} secret {name}: HTTP {e.status} {e.reason}")


class SecretStore:
    def __init__(self, core: client.CoreV1Api, name: str, namespace: str) -> None:
        self.core = core
        self.name = name
        self.namespace = namespace

    def read(self) -> StoredSecret | None:
        try:
            secret = self.core.read_namespaced_secret(self.name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise _error("reading", self.name, e) from None
        data: dict[str, bytes] = {}
        for key, value in (secret.data or {}).items():
            try:
                data[key] = base64.b64decode(value or "", validate=True)
            except ValueError:
                data[key] = b""  # treated like a missing value, so it gets replaced
        return StoredSecret(data, secret)

    def create(self, data: dict[str, bytes]) -> bool:
        """Create the Secret; False when another writer created it first."""
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            type=SECRET_TYPE,
            metadata=client.V1ObjectMeta(
                name=self.name,
                namespace=self.namespace,
                labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            ),
            data=_encode(data),
        )
        try:
            self.core.create_namespaced_secret(self.namespace, body)
        except ApiException as e:
            if e.status == 409:
                return False
            raise _error("creating", self.name, e) from None
        return True

    def replace(self, data: dict[str, bytes], stored: StoredSecret) -> bool:
        """Replace the data if nobody wrote since ``stored`` was read; False otherwise.

        Labels, annotations and owner references others put on the Secret are kept; only
        ``data`` is ours (the type is immutable, so whatever is there stays).
        """
        metadata = stored.obj.metadata
        metadata.labels = {**(metadata.labels or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        metadata.managed_fields = None
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            type=stored.obj.type or SECRET_TYPE,
            metadata=metadata,
            data=_encode(data),
        )
        try:
            self.core.replace_namespaced_secret(self.name, self.namespace, body)
        except ApiException as e:
            if e.status in (404, 409):
                return False
            raise _error("replacing", self.name, e) from None
        return True
