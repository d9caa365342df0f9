"""Talking to git remotes: what a failed network command means, and URLs safe to print.

Every message that names a remote passes through :func:`redact`, so credentials embedded in a
URL are never printed; :func:`classify` turns git's complaint into the error to raise, with what
to do next.
"""

from __future__ import annotations

import re

from ..errors import AuthenticationError, RemoteError

_CREDENTIALS_RE = re.compile(r"(://)[^/@\s]+@")

_AUTH_MARKERS = (
    "authentication failed", "could not read username", "could not read password",
    "terminal prompts disabled", "permission denied (publickey", "http 401", "http 403",
    "the requested url returned error: 401", "the requested url returned error: 403",
    "invalid username or password",
)
_UNREACHABLE_MARKERS = (
    "could not resolve", "connection refused", "unable to access", "does not appear to be a git repository",
    "could not read from remote", "failed to connect", "timed out", "not found", "no such file",
    "network is unreachable", "connection reset",
)


def redact(text: str) -> str:
    """``text`` with any ``user:password@`` / ``token@`` of a URL replaced by ``***@``."""
    return _CREDENTIALS_RE.sub(r"\1***@", text)


def classify(remote: str, stderr: str, doing: str) -> RemoteError:
    """The error to raise for a failed git network command, with what to do next."""
    lines = [line.strip() for line in redact(stderr).splitlines()
             if line.strip() and not line.startswith(("hint:", "To ", "Done"))]
    low = "\n".join(lines).lower()
    said = "; ".join(lines[-3:])[:400] or "no output"
    if any(marker in low for marker in _AUTH_MARKERS):
        return AuthenticationError(
            remote, f"{doing}: the git host refused the credentials for {redact(remote)} ({said}); configure a"
                    " credential helper, an access token or an ssh key for it, then retry")
    if any(marker in low for marker in _UNREACHABLE_MARKERS):
        return RemoteError(
            remote, f"{doing}: cannot reach {redact(remote)} ({said}); check the URL and the network, then retry")
    return RemoteError(remote, f"{doing}: {redact(remote)} refused it ({said})")


__all__ = ["classify", "redact"]
