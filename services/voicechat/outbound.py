"""Connections out of a session: the ASR and TTS WebSockets and the LLM's HTTP, never following a redirect
(a 3xx is an error: it could lead anywhere the allowlist does not), and for a client's own URL only to an
address checked right before connecting, without any proxy from the environment.

DNS rebinding: the host is resolved and every address checked just before each connection, and the socket is
opened to that checked address (the host name still goes into `Host` and into TLS: SNI and the certificate
check), so no second lookup can swap the address under a connection. What remains: each new connection
resolves again (the ASR reconnecting after an idle close, a new HTTP connection of the LLM client), so a
host's DNS may move it between connections, to an address that is checked again; and a host named in the
allowlist may resolve to private addresses by design, so for such a host the operator trusts its DNS."""

import dataclasses

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from services.voicechat.addresses import OutboundRefused, Target, resolve
from services.voicechat.urls import DEFAULT_PORTS, Endpoint


class _NoRedirects(connect):
    """websockets' connect, which follows up to 10 redirects by default, refusing every 3xx instead."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        if isinstance(exc, InvalidStatus) and 300 <= exc.response.status_code < 400:
            return OutboundRefused(f"the server answered HTTP {exc.response.status_code}; redirects are not followed")
        return exc


async def open_websocket(endpoint: Endpoint, **options: object) -> ClientConnection:
    """websockets.connect(endpoint.url, **options), to the checked address when the URL is a client's."""
    if endpoint.target is not None:
        options |= {"host": await resolve(endpoint.target), "port": endpoint.target.port, "proxy": None}
    return await _NoRedirects(endpoint.url, **options)


def with_url(endpoint: Endpoint, url: str) -> Endpoint:
    """The same target under another URL of the same origin (e.g. with a query added)."""
    return dataclasses.replace(endpoint, url=url)


class CheckedTransport(httpx2.AsyncBaseTransport):
    """The LLM client's transport for a client's URL: requests only to that URL's origin, each sent to an
    address resolved and checked just before, with the host name kept for `Host` and TLS."""

    def __init__(self, scheme: str, target: Target) -> None:
        self._scheme = scheme
        self._target = target
        self._inner = httpx2.AsyncHTTPTransport(trust_env=False)  # a proxy would connect where we did not check

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS.get(url.scheme))
        if origin != (self._scheme, self._target.host, self._target.port):
            raise OutboundRefused(f"a request to {url.scheme}://{url.host} is outside the checked origin")
        request.url = url.copy_with(host=await resolve(self._target))
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": self._target.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def llm_http_client(endpoint: Endpoint, timeout_s: float) -> httpx2.AsyncClient:
    """The HTTP client under the OpenAI client: no redirects; a client's URL through CheckedTransport."""
    if endpoint.target is None:
        return httpx2.AsyncClient(timeout=timeout_s, follow_redirects=False)
    scheme = endpoint.url.partition(":")[0]
    return httpx2.AsyncClient(
        timeout=timeout_s, follow_redirects=False, transport=CheckedTransport(scheme, endpoint.target)
    )
