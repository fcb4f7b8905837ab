"""Endpoints a client may choose: only the configured defaults and the server-side allowlist."""

from urllib.parse import urlsplit


class UrlNotAllowed(ValueError):
    pass


def check_url(url: str, kind: str, allowed: list[str], schemes: tuple[str, ...]) -> str:
    """`url` if its scheme fits and it starts with an allowed prefix (compared after normalising host
    case and trailing slashes); UrlNotAllowed otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise UrlNotAllowed(f"{kind} must be a {' or '.join(schemes)} URL")
    if parts.username or parts.password:
        raise UrlNotAllowed(f"{kind} must not carry credentials")
    normal = _normal(url)
    for prefix in allowed:
        base = _normal(prefix)
        if normal == base or normal.startswith(base.rstrip("/") + "/"):
            return url
    raise UrlNotAllowed(f"{kind} {parts.scheme}://{parts.netloc}{parts.path} is not on this server's allowlist")


def _normal(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
