"""The artifact store: content-addressed bytes behind any fsspec URI.

The only package that imports fsspec (:mod:`.artifact_store` and :mod:`.backends` do).
Objects live at ``<store>/objects/sha256/<aa>/<rest-of-hash>``; a directory is stored as its
files plus a JSON listing whose hash is the directory's hash.  Copies stream in
fixed-size chunks, hash while copying, skip objects the store already holds,
and every read is verified against the recorded hash (a local object read in
place and unchanged since its hash matched: by its verified stamp, see
:meth:`ArtifactStore.read_in_place`).

Remote stores (S3, GCS, Azure, ...) are opened the same way on every backend:
files are read and written in ``CHUNK`` blocks with no read-ahead cache (memory
stays bounded whatever the backend's defaults), the first contact with a store
is bounded by :func:`store_timeout` and fails fast when nothing listens at its
endpoint, and backend failures become one line: refused credentials an
:class:`~gitreg.errors.StoreAuthenticationError` (also an ``AuthenticationError``), anything else an
:class:`~gitreg.errors.ArtifactStoreError`.

Modules: :mod:`.artifact_store` (:class:`ArtifactStore`), :mod:`.hashing` (hashes, local objects
read in place), :mod:`.backends` (fsspec files, first contact, timeout), :mod:`.failures` (what a
backend's failure means).
"""

from __future__ import annotations

from .artifact_store import MAX_LISTING, ArtifactStore, MarkerFile, StoredObject, StoreEntry, object_uri
from .backends import ATOMIC_PUT, DEFAULT_TIMEOUT, TIMEOUT_ENV, reach, store_timeout
from .hashing import CHUNK, PARALLEL_HASH, RACY_NS, InPlaceRead, Progress, hash_file

__all__ = [
    "ATOMIC_PUT", "CHUNK", "DEFAULT_TIMEOUT", "MAX_LISTING", "PARALLEL_HASH", "RACY_NS", "TIMEOUT_ENV",
    "ArtifactStore", "InPlaceRead", "MarkerFile", "Progress", "StoreEntry", "StoredObject", "hash_file",
    "object_uri", "reach", "store_timeout",
]
