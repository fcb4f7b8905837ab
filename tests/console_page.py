"""The web console (/console) in a real headless Chromium, for tests/test_console_browser*.py: a fake
microphone playing real speech, a page that must log no console error and ask nothing of another origin, and
its screenshot in build/console-screenshots/ when the test ends. Registered as a plugin in tests/conftest.py:
the `console` fixture is the console of the session's fleet (keys off)."""

import asyncio
import json
import shutil
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import ConsoleMessage, Page, WebSocket, async_playwright

from tests.audio_files import read_mono
from tests.conftest import DATA, REPO
from tests.test_webrtc_browser import CHROMIUM, CLIP, OFFLINE_FLAGS

SHOTS = REPO / "build" / "console-screenshots"
HEARD = 0.02  # the analyser's peak once the agent's or the TTS voice has played
MIC_RATE = 48_000


def speech_microphone(path: Path, lead_s: float = 1.0) -> Path:
    """`lead_s` of silence, the clip, then 15 s of silence, as 16-bit PCM (Chromium plays 24-bit as silence);
    Chromium loops the file."""
    speech = read_mono((DATA / CLIP).read_bytes(), rate=MIC_RATE)
    pcm = np.concatenate([np.zeros(int(MIC_RATE * lead_s)), speech, np.zeros(MIC_RATE * 15)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(MIC_RATE)
        out.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@dataclass
class ConsolePage:
    """The page, what it logged as errors, and the requests it made to another origin."""

    page: Page
    errors: list[ConsoleMessage] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def take_refusals(self, status: int, urls: set[str]) -> int:
        """Removes (and counts) the browser's own "Failed to load resource" errors for `urls`, answered
        `status`: the refusals a test provokes on purpose (a wrong API key's 401). Anything else stays."""
        refused = [m for m in self.errors if m.location.get("url") in urls and f"status of {status}" in m.text]
        self.errors = [m for m in self.errors if m not in refused]
        return len(refused)


@asynccontextmanager
async def open_console(base_url: str, profile: Path, microphone: Path, shot: str) -> AsyncIterator[ConsolePage]:
    """Chromium with the fake microphone on `base_url`/console/ until the status strip is drawn; afterwards
    the screenshot, then no console error and no request to another origin."""
    assert shutil.which(CHROMIUM), f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            viewport={"width": 1100, "height": 900},
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection",
                *OFFLINE_FLAGS,
            ],
        )
        page = context.pages[0] if context.pages else await context.new_page()
        watched = ConsolePage(page)
        page.on("console", lambda m: watched.errors.append(m) if m.type == "error" else None)
        page.on("pageerror", lambda exc: watched.errors.append(PageError(str(exc))))
        same_origin = (base_url, "blob:", "data:")
        page.on("request", lambda r: None if r.url.startswith(same_origin) else watched.elsewhere.append(r.url))
        await page.goto(f"{base_url}/console/")
        await until(page, "document.querySelectorAll('#status .svc').length === 6")
        yield watched
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        await context.close()
    assert not watched.errors, [m.text for m in watched.errors]
    assert not watched.elsewhere, watched.elsewhere


@dataclass(frozen=True)
class PageError:
    """An uncaught exception in the page, kept beside its console errors."""

    text: str
    location: dict = field(default_factory=dict)


@pytest.fixture
def microphone(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The fake microphone: 1 s of silence before the clip, or what the test parametrizes (indirect)."""
    return speech_microphone(tmp_path / "mic.wav", getattr(request, "param", 1.0))


@pytest.fixture
async def console(fleet: str, tmp_path: Path, microphone: Path, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    async with open_console(fleet, tmp_path / "profile", microphone, request.node.name) as watched:
        yield watched.page


async def until(page: Page, expression: str, timeout_s: float = 30) -> None:
    """Polls a JavaScript expression until it is true (Playwright's wait_for_function evaluates a string,
    which the console's policy, without 'unsafe-eval', refuses)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(expression):
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout_s} s: {expression}"
        await asyncio.sleep(0.2)


async def open_tab(page: Page, panel: str) -> None:
    await page.click(f"#tab-{panel}")
    await page.wait_for_selector(f"#{panel}:not([hidden])")


class SocketEvents(list):
    """The JSON events a page receives on its WebSockets to one path, as they arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    def receive(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.append(json.loads(payload))
            self.arrived.set()

    async def of_type(self, kind: str, timeout_s: float = 5) -> list[dict]:
        """The events of `kind` so far, waiting up to `timeout_s` for a first one (a frame may reach the test
        just after the page has drawn it)."""
        async with asyncio.timeout(timeout_s):
            while not (found := [e for e in self if e["type"] == kind]):
                self.arrived.clear()
                await self.arrived.wait()
        return found


def socket_events(page: Page, path: str) -> SocketEvents:
    """What the page receives on its WebSockets to `path`, from now on."""
    events = SocketEvents()

    def watch(ws: WebSocket) -> None:
        if ws.url.split("?")[0].endswith(path):
            ws.on("framereceived", events.receive)

    page.on("websocket", watch)
    return events


async def submit(page: Page, button: str, path: str, method: str = "POST") -> dict:
    """Clicks a form's button and returns the JSON the page was answered from its request to `path`."""
    async with page.expect_response(
        lambda r: r.url.split("?")[0].endswith(path) and r.request.method == method, timeout=120_000
    ) as answer:
        await page.click(button)
    response = await answer.value
    assert response.ok, await response.text()
    return await response.json()


async def rows_of(page: Page, table: str) -> list[list[str]]:
    """The text of each cell of each row of a table's body."""
    return await page.eval_on_selector_all(
        f"{table} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
