"""Reading and writing the webhook TLS Secret with optimistic concurrency.

Only names, resource versions and HTTP status codes are ever logged or put in errors: the
bodies of Secret requests carry private keys.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass

from kube.api import ApiError, Kube, Obj
from kube.resources import SECRETS
from tronador.api.constants import MANAGED_BY_LABEL, MANAGED_BY_VALUE

SECRET_TYPE = "kubernetes.io/tls"


class SecretError(RuntimeError):
    """The API refused a Secret request for a reason other than a lost race."""


@dataclass
class StoredSecret:
    data: dict[str, bytes]
    obj: Obj

    @property
    def resource_version(self) -> str:
        return str((self.obj.get("metadata") or {}).get("resourceVersion"))


def _encode(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode("ascii") for k, v in sorted(data.items())}


def _error(action: str, name: str, e: ApiError) -> SecretError:
    return SecretError(f"{action} secret {name}: HTTP {e.status} {e.reason}")


class SecretStore:
    def __init__(self, kube: Kube, name: str, namespace: str) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace

    def read(self) -> StoredSecret | None:
        try:
            secret = self.kube.get(SECRETS, self.name, self.namespace)
        except ApiError as e:
            raise _error("reading", self.name, e) from None
        if secret is None:
            return None
        data: dict[str, bytes] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                data[key] = base64.b64decode(value or "", validate=True)
            except ValueError:
                data[key] = b""  # treated like a missing value, so it gets replaced
        return StoredSecret(data, secret)

    def create(self, data: dict[str, bytes]) -> bool:
        """Create the Secret; False when another writer created it first."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SECRET_TYPE,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            },
            "data": _encode(data),
        }
        try:
            self.kube.create(SECRETS, body)
        except ApiError as e:
            if e.status == 409:
                return False
            raise _error("creating", self.name, e) from None
        return True

    def replace(self, data: dict[str, bytes], stored: StoredSecret) -> bool:
        """Replace the data if nobody wrote since ``stored`` was read; False otherwise.

        Labels, annotations and owner references others put on the Secret are kept; only
        ``data`` is ours (the type is immutable, so whatever is there stays).
        """
        metadata = copy.deepcopy(stored.obj.get("metadata") or {})
        metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        metadata.pop("managedFields", None)
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": stored.obj.get("type") or SECRET_TYPE,
            "metadata": metadata,
            "data": _encode(data),
        }
        try:
            self.kube.replace(SECRETS, body)
        except ApiError as e:
            if e.status in (404, 409):
                return False
            raise _error("replacing", self.name, e) from None
        return True
