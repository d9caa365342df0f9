"""MLflow's names and URIs in gitreg's terms (no MLflow import here).

MLflow allows any model name without ``/`` and ``:`` (``My Model``, ``model!!!``); gitreg's names are one
path segment and part of a git ref (:mod:`gitreg.names`), a grammar this mapping never loosens.  A name that
is a gitreg name is its own folder; any other, or one whose folder is taken (by a model differing only in
case, or by another name's folder), lives in ``<slug>-<12 hex digits of its sha256>``, with the MLflow name
kept in model.yaml's ``display_name``.  Which folder holds a name is decided by :func:`folder_candidates`:
the first of them that is free, or that holds that display name.
"""

from __future__ import annotations

import hashlib
import os
import re
from urllib.parse import unquote, urlsplit

from ...names import is_valid_name

SCHEME = "gitreg"
#: The URL forms of a remote registry: ``gitreg+https://host/models.git`` is the registry at that git URL.
URL_SCHEMES = ("file", "http", "https", "ssh")
_SLUG_LENGTH = 60
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def encoded_folder(name: str) -> str:
    """The folder of an MLflow name that cannot be (or cannot have) its own folder: a readable slug of it and
    12 hex digits of its sha256 (``My Model`` -> ``my-model-<hex>``).  Always a valid gitreg name."""
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:_SLUG_LENGTH].strip("-") or "model"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    return f"{slug}-{digest}"


def folder_candidates(name: str) -> list[str]:
    """The folders that may hold the MLflow model ``name``, in the order they are tried."""
    own = [name] if is_valid_name(name) else []
    return [*own, encoded_folder(name)]


def registry_location(store_uri: str) -> str:
    """The registry a ``gitreg:`` store URI names: a path (``gitreg:///srv/models``, percent-encoded) or a git
    URL (``gitreg+https://host/models.git``, ``gitreg+ssh://git@host/models.git``, ``gitreg+file:///srv/m.git``).
    Raises ValueError saying what form is expected."""
    parts = urlsplit(store_uri)
    scheme = parts.scheme.lower()
    if scheme == SCHEME:
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"registry URI {store_uri!r}: expected gitreg:///ABSOLUTE/PATH (three slashes, a path"
                             " on this machine), or gitreg+https://HOST/REPO.git for a registry by git URL")
        if parts.query or parts.fragment:
            raise ValueError(f"registry URI {store_uri!r}: a gitreg URI has no query or fragment")
        return os.path.normpath(unquote(parts.path))
    if scheme.startswith(SCHEME + "+") and scheme[len(SCHEME) + 1:] in URL_SCHEMES:
        return store_uri[len(SCHEME) + 1:]
    forms = ", ".join(f"{SCHEME}+{s}://" for s in URL_SCHEMES)
    raise ValueError(f"registry URI {store_uri!r}: not a gitreg URI (gitreg:///ABSOLUTE/PATH, or {forms})")
