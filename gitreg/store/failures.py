"""What a store backend's failure means: one gitreg error in one line, with what to do next
(refused credentials: :class:`~gitreg.errors.StoreAuthenticationError`, anything else:
:class:`~gitreg.errors.ArtifactStoreError`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ArtifactStoreError, GitregError, StoreAuthenticationError
from ..store_options import credentials_hint


@contextmanager
def boundary(what: str, uri: str | None = None) -> Iterator[None]:
    """Turn any backend failure (OSError, botocore, aiohttp, azure, google-auth, ...) into one gitreg error."""
    try:
        yield
    except GitregError:
        raise
    except Exception as exc:  # third-party boundary (fsspec backends)
        raise classify(exc, what, uri) from None


_AUTH_NAMES = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "ClientAuthenticationError",
    "RefreshError", "DefaultCredentialsError", "UserAccessTokenError", "ReauthFailError",
})


_AUTH_MARKERS = ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "authenticationfailed",
                 "authorizationfailure", "authorizationpermissionmismatch", "invalid_grant", "unauthorized",
                 "forbidden", "expiredtoken", "invalidtoken", "invalid credentials")


_UNREACHABLE_NAMES = frozenset({
    "ConnectionRefusedError", "ClientConnectorError", "ServerDisconnectedError", "EndpointConnectionError",
    "ConnectTimeoutError", "ConnectTimeout", "ServiceRequestError", "ServiceResponseError", "gaierror",
    "FSTimeoutError", "TimeoutError", "ServerTimeoutError",
})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "status", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return value if isinstance(value, int) else None
    return None


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n", 1)[0].split()) or repr(exc)
    return f"{type(exc).__name__}: {text[:300]}"


def classify(exc: BaseException, what: str, uri: str | None = None) -> GitregError:
    """The gitreg error for a backend failure: refused credentials, an unreachable store, or other."""
    chain = list(_chain(exc))
    names = {cls.__name__ for error in chain for cls in type(error).__mro__}
    text = " ".join(str(error) for error in chain).lower()
    said = one_line(exc)
    where = uri or what
    remote = "://" in where and not where.startswith(("file://", "memory://"))  # a local folder's
    if remote and (names & _AUTH_NAMES or any(isinstance(error, PermissionError) for error in chain)  # permissions
            or any(_status(error) in (401, 403) for error in chain) or any(m in text for m in _AUTH_MARKERS)):
        return StoreAuthenticationError(where, f"{what}: the store refused the credentials ({said});"
                                               f" {credentials_hint(where)}, then retry")
    if names & _UNREACHABLE_NAMES:
        return ArtifactStoreError(f"{what}: the store cannot be reached ({said}); check that it is up and its"
                                  " endpoint (.mcp/registry.yaml, the environment)")
    return ArtifactStoreError(f"{what}: {said}; check the store URI and options in .mcp/registry.yaml and the"
                              " credentials in the environment")
