"""Options of an artifact store's backend, as `registry.yaml` holds them: parsed from ``KEY=VALUE``,
and refused when they look like secrets (the file is committed and shared; credentials belong in
the backend's environment variables).  Pure: no fsspec here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import InvalidValueError

#: Words that make a store option's name look like a secret (matched inside the lower-cased key).
SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "credential", "sas", "connection_string",
                "auth", "signature", "private", "cert")
#: gcsfs's ``token`` may name where credentials come from instead of holding one: those values are fine.
GCS_TOKEN_SOURCES = frozenset({"anon", "google_default", "cloud", "browser"})
_CREDENTIALS_HINTS = {
    "s3": "AWS_PROFILE, or AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS naming a service-account key file (with the store option"
          " token=google_default), or `gcloud auth application-default login`",
    "az": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or"
          " AZURE_STORAGE_SAS_TOKEN, or a service principal (AZURE_STORAGE_CLIENT_ID, AZURE_STORAGE_CLIENT_SECRET,"
          " AZURE_STORAGE_TENANT_ID)",
}
PROTOCOL_FAMILY = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "az": "az", "abfs": "az", "abfss": "az"}


def store_family(uri: str) -> str | None:
    return PROTOCOL_FAMILY.get(uri.split("://", 1)[0].lower()) if "://" in uri else None


def credentials_hint(uri: str) -> str:
    """Where the credentials of the store at ``uri`` belong: the backend's environment variables."""
    family = store_family(uri)
    if family is None:
        return "give credentials through the backend's own environment variables or configuration files"
    return f"give credentials through the environment: {_CREDENTIALS_HINTS[family]}"


def _secret_keys(options: Any, prefix: str = "") -> Iterator[str]:
    if not isinstance(options, dict):
        return
    for key, value in options.items():
        name = f"{prefix}{key}"
        low = str(key).lower()
        if any(word in low for word in SECRET_WORDS) \
                and not (low == "token" and isinstance(value, str) and value in GCS_TOKEN_SOURCES):
            yield name
        yield from _secret_keys(value, f"{name}.")


def check_store_options(store: str, options: dict[str, Any]) -> None:
    """Refuse store options that look like secrets: ``registry.yaml`` is committed and shared.

    A key (at any depth) containing one of :data:`SECRET_WORDS` is refused, except gcsfs's
    ``token`` naming a credentials source (``anon``, ``google_default``, ``cloud``, ``browser``).
    """
    found = sorted(_secret_keys(options))
    if found:
        raise InvalidValueError(
            f"store option(s) {', '.join(found)} look like secrets, and .mcp/registry.yaml is committed and shared:"
            f" never put credentials there; {credentials_hint(store)}"
        )


def parse_store_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as store options: ``a.b=v`` nests, a JSON scalar value (true, 3, null,
    "text") is that value, anything else a string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise InvalidValueError(f"store option {pair!r} is not KEY=VALUE (e.g. endpoint_url=http://127.0.0.1:9000,"
                                    " client_kwargs.region_name=eu-west-1)")
        try:
            value: Any = json.loads(text)
            if isinstance(value, (dict, list)):
                value = text
        except ValueError:
            value = text
        target = options
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise InvalidValueError(f"store option {key!r}: {part!r} is given both as a value and as a group")
            target = nested
        if isinstance(target.get(parts[-1]), dict):
            raise InvalidValueError(f"store option {key!r} is given both as a value and as a group")
        target[parts[-1]] = value
    return options
