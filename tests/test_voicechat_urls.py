"""Client-chosen URLs without any server: the normal form URLs are compared and used in, what the allowlist
admits, and which addresses a URL may reach (resolving only `localhost`, from /etc/hosts)."""

import ipaddress

import pytest

from services.voicechat.addresses import OutboundRefused, Target, category, refusal, resolve
from services.voicechat.settings import VoicechatSettings
from services.voicechat.urls import ALL_SCHEMES, UrlNotAllowed, check_url, parse_url


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://API.OpenAI.com:443/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com./v1/", "https://api.openai.com/v1/"),
        ("http://api.example.com:443/v1", "http://api.example.com:443/v1"),  # 443 is not http's default
        ("wss://Bücher.example/ws", "wss://xn--bcher-kva.example/ws"),
        ("ws://[0:0::1]:8124/ws/transcribe/vad?x=1", "ws://[::1]:8124/ws/transcribe/vad?x=1"),
        ("http://h/a%20b/%7euser", "http://h/a%20b/~user"),
        ("ws://asr_1:80", "ws://asr_1/"),
    ],
)
def test_urls_are_normalised(url: str, normal: str) -> None:
    assert parse_url(url, "url", ALL_SCHEMES).text == normal


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://allowed@evil.example/", "user information"),
        ("http://allowed:pw@evil.example/", "user information"),
        ("http://@evil.example/", "user information"),
        ("http://h/v1/../admin", "segments"),
        ("http://h/v1/%2e%2e/admin", "segments"),
        ("http://h/v1/%2E/admin", "segments"),
        ("http://h/v1//chat", "segments"),
        ("http://h/v1/..;/admin", "segments"),  # Tomcat and Spring read `..;` as `..`
        ("http://h/v1/%EF%BC%8E%EF%BC%8E/admin", "segments"),  # full-width dots, NFKC `..`
        ("http://h/v1%2fchat", "encoded-slash"),
        ("http://h/v1%5cchat", "encoded-slash"),
        ("http://h/v1%zz", "escape"),
        ("http://h/%ff", "UTF-8"),
        ("http://h/v1\\..\\x", "backslash"),
        ("http://h/v1#x", "fragment"),
        ("http://h/v1#", "fragment"),
        ("http://h/v 1", "spaces"),
        ("http://h/v1\t", "spaces"),
        ("http://h:0/", "port"),
        ("http://h:70000/", "port"),
        ("http://2130706433/", "dotted-quad"),
        ("http://0x7f.0.0.1/", "dotted-quad"),
        ("http://127.1/", "dotted-quad"),
        ("http://[fe80::1%25eth0]/", "IPv6"),
        ("http://-h.example/", "host name"),
        ("http://*.example.com/", "host name"),  # a wildcard only in an allowlist entry
        ("ftp://h/", "URL"),
        ("http:///v1", "URL"),
    ],
)
def test_ambiguous_urls_are_refused(url: str, needle: str) -> None:
    with pytest.raises(UrlNotAllowed, match=needle):
        parse_url(url, "url", ALL_SCHEMES)


def test_refusals_never_echo_credentials() -> None:
    with pytest.raises(UrlNotAllowed) as refused:
        parse_url("http://user:s3cret-pw@evil.example/", "url", ALL_SCHEMES)
    assert "s3cret" not in str(refused.value)


ALLOWED = ["https://api.openai.com/v1", "ws://asr.internal:8124/ws/", "https://*.example.com/v1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://API.openai.com:443/v1/",
        "https://api.openai.com/v1/chat",
        "ws://asr.internal:8124/ws/transcribe/vad",
        "ws://asr.internal:8124/ws",
        "https://eu.example.com/v1",
        "https://a.b.example.com/v1/x",
    ],
)
def test_allowlisted_urls_pass(url: str) -> None:
    assert check_url(url, "url", ALLOWED, ALL_SCHEMES).url == parse_url(url, "url", ALL_SCHEMES).text


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com.evil.io/v1",
        "https://api.openai.com/v10",
        "https://api.openai.com/",
        "http://api.openai.com/v1",  # another scheme
        "https://api.openai.com:8443/v1",  # another port
        "ws://asr.internal:8125/ws/",
        "https://example.com/v1",  # the wildcard needs a label in front
        "https://evilexample.com/v1",
        "https://eu.example.com/v2",
    ],
)
def test_urls_outside_the_allowlist_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed, match="allowlist"):
        check_url(url, "url", ALLOWED, ALL_SCHEMES)


def test_only_an_exact_host_counts_as_named() -> None:
    assert check_url("https://api.openai.com/v1", "url", ALLOWED, ALL_SCHEMES).target == Target(
        "api.openai.com", 443, named=True
    )
    assert check_url("https://eu.example.com/v1", "url", ALLOWED, ALL_SCHEMES).target.named is False
    both = [*ALLOWED, "https://eu.example.com/"]
    assert check_url("https://eu.example.com/v1", "url", both, ALL_SCHEMES).target.named is True


def test_bad_allowlist_entries_stop_the_service_at_start() -> None:
    for entry in ["ftp://h/", "http://h/v1?x=1", "http://u:pw@h/", "http://h/../x"]:
        with pytest.raises(ValueError, match="ALLOWED_URLS entry 1") as refused:
            VoicechatSettings(_env_file=None, allowed_urls=[entry])
        assert "pw@" not in str(refused.value)
    assert VoicechatSettings(_env_file=None, allowed_urls=ALLOWED).allowed_urls == ALLOWED


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 inside IPv6 counts as the IPv4 address
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("2002:a9fe:a9fe::1", "cloud metadata"),  # 6to4
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
    ],
)
def test_address_categories(address: str, kind: str | None) -> None:
    assert category(ipaddress.ip_address(address)) == kind


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_which_entries_admit_which_addresses() -> None:
    wildcard, named = Target("llm.example.com", 443, named=False), Target("asr.internal", 80, named=True)
    assert refusal(ip("93.184.215.14"), wildcard) is None
    assert "private" in refusal(ip("10.0.0.5"), wildcard)
    assert "loopback" in refusal(ip("127.0.0.1"), wildcard)
    for address in ("10.0.0.5", "127.0.0.1", "fd12::1", "169.254.10.1"):
        assert refusal(ip(address), named) is None  # the operator named this host
    for address in ("169.254.169.254", "fd00:ec2::254", "224.0.0.1", "0.0.0.0"):
        assert refusal(ip(address), named) is not None  # never by a name, even a named one
    assert refusal(ip("169.254.169.254"), Target("169.254.169.254", 80, named=True)) is None  # that very address


async def test_resolution_checks_every_address_of_the_name() -> None:
    assert await resolve(Target("localhost", 80, named=True)) in ("127.0.0.1", "::1")
    with pytest.raises(OutboundRefused, match="localhost resolves to .* \\(loopback\\)"):
        await resolve(Target("localhost", 80, named=False))
    with pytest.raises(OutboundRefused, match="cannot resolve"):
        await resolve(Target("no-such-host.invalid", 80, named=True))
    assert await resolve(Target("127.0.0.1", 80, named=True)) == "127.0.0.1"  # a literal needs no lookup
