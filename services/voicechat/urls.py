"""Endpoints a client may choose: only the configured defaults and the server-side allowlist.

A URL is normalised before it is compared, and the normal form is what is then used, so what was checked is
what is connected to: scheme, host (lower-case; IDNA for non-ASCII names), port (the scheme's default filled
in), path (percent-decoded segments, re-encoded one way). Whatever could make the check and the connection
disagree is refused rather than guessed at: user information (`http://allowed@evil`), fragments, `.` and `..`
segments (also as `%2e` or `..;`), empty segments, encoded slashes or backslashes, malformed percent escapes,
spaces and control characters, and numeric host forms other than a dotted quad (`2130706433`, `0x7f.1`).

An allowlist entry is such a URL whose path is a prefix (by whole segments: `/v1` admits `/v1/chat` but not
`/v10`); its host is exact, or `*.example.com` for any name under example.com. Only an exact host counts as
named by the operator, which decides the addresses it may reach (services/voicechat/addresses.py)."""

import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import SplitResult, quote, unquote, urlsplit

import idna

from services.voicechat.addresses import Target

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
ALL_SCHEMES = tuple(DEFAULT_PORTS)
NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")  # a last label like this makes inet_aton read an IPv4
BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")
SEGMENT_SAFE = "!$&'()*+,;=:@-._~"


class UrlNotAllowed(ValueError):
    pass


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str  # lower-case ASCII; an IPv6 literal without brackets; `*.name` only in an allowlist entry
    port: int
    segments: tuple[str, ...]  # the path's decoded segments
    trailing_slash: bool
    query: str

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    @property
    def text(self) -> str:
        """The normal form, which is the URL used."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        path = "/" + "/".join(quote(segment, safe=SEGMENT_SAFE) for segment in self.segments)
        if self.segments and self.trailing_slash:
            path += "/"
        return f"{self.scheme}://{host}{port}{path}" + (f"?{self.query}" if self.query else "")

    def admitted_by(self, entry: "Url") -> bool:
        if (entry.scheme, entry.port) != (self.scheme, self.port):
            return False
        if entry.wildcard:
            host_fits = self.host.endswith(entry.host[1:]) and not _is_ip(self.host)
        else:
            host_fits = entry.host == self.host
        return host_fits and self.segments[: len(entry.segments)] == entry.segments


@dataclass(frozen=True)
class Endpoint:
    """A URL a session connects to; `target` is set for a client's own URL, whose host is resolved and
    checked at every connection (services/voicechat/outbound.py). The operator's URLs have none."""

    url: str
    target: Target | None = None


def check_url(url: str, kind: str, allowed: list[str], schemes: tuple[str, ...]) -> Endpoint:
    """The endpoint for a client's `url` if an allowlist entry admits it; UrlNotAllowed otherwise."""
    parsed = parse_url(url, kind, schemes)
    entries = [parse_url(entry, "an ALLOWED_URLS entry", ALL_SCHEMES, entry=True) for entry in allowed]
    admitting = [entry for entry in entries if parsed.admitted_by(entry)]
    if not admitting:
        raise UrlNotAllowed(f"{kind} {parsed.text} is not on this server's allowlist")
    named = any(not entry.wildcard for entry in admitting)
    return Endpoint(parsed.text, Target(parsed.host, parsed.port, named=named))


def parse_url(text: str, kind: str, schemes: tuple[str, ...], entry: bool = False) -> Url:
    """The normal form of `text`, or UrlNotAllowed saying what is wrong (never echoing the URL, which may
    hold credentials). `entry`: an allowlist entry, which may have a `*.` host but no query."""
    if any(ch <= " " or ch == "\x7f" for ch in text):
        raise UrlNotAllowed(f"{kind} must not contain spaces or control characters")
    if "\\" in text or "#" in text:
        raise UrlNotAllowed(f"{kind} must not contain a backslash or a fragment (#)")
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. a malformed bracketed IPv6 host
        raise UrlNotAllowed(f"{kind} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes or not parts.netloc:
        raise UrlNotAllowed(f"{kind} must be a {' or '.join(schemes)} URL with a host")
    if "@" in parts.netloc:
        raise UrlNotAllowed(f"{kind} must not carry user information (user@host)")
    if entry and parts.query:
        raise UrlNotAllowed(f"{kind} must not have a query")
    segments, trailing_slash = _path(parts.path, kind)
    host = _host(parts, kind, entry)
    return Url(scheme, host, _port(parts, scheme, kind), segments, trailing_slash, parts.query)


def _host(parts: SplitResult, kind: str, entry: bool) -> str:
    host = parts.hostname  # lower-case, without brackets and port
    if not host:
        raise UrlNotAllowed(f"{kind} must have a host")
    if parts.netloc.startswith("["):
        try:
            if "%" in host:
                raise ValueError("a zone index")
            return IPv6Address(host).compressed
        except ValueError:
            raise UrlNotAllowed(f"{kind} has a malformed IPv6 address") from None
    if entry and host.startswith("*."):
        return "*." + _name(host[2:], kind)
    if NUMERIC_LABEL.match(host.rstrip(".").rpartition(".")[2]):
        try:
            return str(IPv4Address(host))
        except ValueError:
            raise UrlNotAllowed(f"{kind} has a numeric host that is not a dotted-quad IPv4 address") from None
    return _name(host, kind)


def _name(host: str, kind: str) -> str:
    host = host.removesuffix(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise UrlNotAllowed(f"{kind} has a host name that is not valid IDNA") from None
    if len(host) > 253 or not NAME.match(host):
        raise UrlNotAllowed(f"{kind} has an invalid host name")
    return host


def _port(parts: SplitResult, scheme: str, kind: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise UrlNotAllowed(f"{kind} has an invalid port") from None
    if port == 0:
        raise UrlNotAllowed(f"{kind} has an invalid port")
    return DEFAULT_PORTS[scheme] if port is None else port


def _path(path: str, kind: str) -> tuple[tuple[str, ...], bool]:
    """The decoded segments and whether the path ends with a slash."""
    raw = path.split("/")[1:]
    trailing_slash = bool(raw) and raw[-1] == ""
    if trailing_slash:
        raw.pop()
    segments = []
    for part in raw:
        if BAD_ESCAPE.search(part) or re.search(r"%(2f|5c)", part, re.IGNORECASE):
            raise UrlNotAllowed(f"{kind} has a malformed or encoded-slash percent escape in its path")
        try:
            segment = unquote(part, errors="strict")
        except UnicodeDecodeError:
            raise UrlNotAllowed(f"{kind} has a path that is not UTF-8") from None
        if _dot_or_empty(segment):
            raise UrlNotAllowed(f"{kind} must not have empty, `.` or `..` path segments (also encoded)")
        if any(ch < " " or ch == "\x7f" for ch in segment):
            raise UrlNotAllowed(f"{kind} has control characters in its path")
        segments.append(segment)
    return tuple(segments), trailing_slash


def _dot_or_empty(segment: str) -> bool:
    """Also `..;x` (servers that cut path parameters, e.g. Tomcat, read it as `..`) and full-width dots."""
    return unicodedata.normalize("NFKC", segment.partition(";")[0]) in ("", ".", "..")


def _is_ip(host: str) -> bool:
    return ":" in host or bool(NUMERIC_LABEL.match(host.rpartition(".")[2]))
