"""The web console (/console) in a real headless Chromium through the gateway, panel by panel, with a fake
microphone playing real speech: what each panel shows comes from the fleet's public API. Every page must
log no console error and ask nothing of another origin; each panel's screenshot lands in build/console-screenshots/."""

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.conftest import DATA, REPO, SCRIPTED_LLM_URL
from tests.scripted_llm import scripted_llm_server
from tests.test_webrtc_browser import CHROMIUM, CLIP, OFFLINE_FLAGS, fake_microphone
from tests.webrtc_peer import assert_heard

pytestmark = pytest.mark.fleet

SHOTS = REPO / "build" / "console-screenshots"
HEARD = 0.02  # the analyser's peak once the agent's or the TTS voice has played


@pytest.fixture
async def console(fleet: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    assert shutil.which(CHROMIUM), f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
    mic = fake_microphone(tmp_path / "mic.wav")
    async with async_playwright() as playwright:
        context: BrowserContext = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            viewport={"width": 1100, "height": 900},
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}",
                "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection",
                *OFFLINE_FLAGS,
            ],
        )
        page = context.pages[0] if context.pages else await context.new_page()
        errors: list[str] = []
        elsewhere: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda r: None if r.url.startswith((fleet, "blob:", "data:")) else elsewhere.append(r.url))
        await page.goto(f"{fleet}/console/")
        await until(page, "document.querySelectorAll('#status .svc').length === 6")
        yield page
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{request.node.name}.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        await context.close()
    assert not errors, errors
    assert not elsewhere, elsewhere


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


async def test_the_page_is_static_with_a_strict_policy_and_a_status_strip(console: Page, fleet: str) -> None:
    response = await console.request.get(f"{fleet}/console/app.js")
    assert response.headers["content-type"].startswith("text/javascript")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert (await console.request.get(f"{fleet}/console/../main.py")).status == 404
    await until(console, "[...document.querySelectorAll('#status .svc')].every(s => s.matches('.ready'))")
    names = await console.eval_on_selector_all("#status .svc", "items => items.map(i => i.dataset.service)")
    assert names == ["asr", "tts", "voice", "voicechat", "webrtc", "catalog"]
    # Keyboard: the arrow keys move between the tabs.
    await console.focus("#tab-transcribe")
    await console.keyboard.press("ArrowRight")
    assert await console.is_visible("#live") and await console.is_hidden("#transcribe")


async def test_transcribe_a_file(console: Page) -> None:
    await console.set_input_files("#tr-file", str(DATA / "asr" / "en_jfk.flac"))
    await console.click("#tr-form button[type=submit]")
    await console.wait_for_selector("#tr-result:not([hidden])", timeout=120_000)
    assert "ask not what your country can do for you" in (await console.inner_text("#tr-text")).lower()
    assert await console.locator("#tr-segments tbody tr").count() >= 1
    async with console.expect_download() as download:
        await console.click("#tr-srt")
    srt = await asyncio.to_thread(Path(await (await download.value).path()).read_text)
    assert srt.startswith("1\n00:00:00,") and " --> " in srt and "ask not" in srt.lower()


async def test_a_diarized_timeline_of_two_speakers_plays_from_a_word(console: Page) -> None:
    await console.set_input_files("#tr-file", str(DATA / "diarization" / "sample.wav"))
    await console.check("#tr-diarize")
    await console.fill("#tr-speakers", "2")
    await console.click("#tr-form button[type=submit]")
    await console.wait_for_selector("#tr-timeline .turn", timeout=300_000)
    speakers = await console.eval_on_selector_all(
        "#tr-timeline .turn", "ts => [...new Set(ts.map(t => t.dataset.speaker))]"
    )
    assert len(speakers) == 2, speakers
    word = console.locator("#tr-timeline .turn").last.locator(".word").first
    start = float((await word.get_attribute("title")).split()[0])
    await word.click()
    assert abs(await console.evaluate("document.getElementById('tr-audio').currentTime") - start) < 0.5


async def test_live_transcription_of_the_microphone(console: Page) -> None:
    await open_tab(console, "live")
    await console.click("#live-start")
    await console.wait_for_selector("#live-finals .final", timeout=60_000)
    assert_heard({"text": await console.inner_text("#live-finals .final .text")}, CLIP)
    assert "end of turn" in await console.inner_text("#live-finals .final .latency")


async def test_a_voice_chat_turn_over_the_websocket(console: Page) -> None:
    with scripted_llm_server():
        await open_tab(console, "chat")
        await console.select_option("#chat-language", "en")
        await console.click("#chat summary")
        await console.fill("#chat-llm-url", SCRIPTED_LLM_URL)
        await console.click("#chat-start")
        await console.wait_for_selector("#chat-log .transcription", timeout=60_000)
        assert_heard({"text": await console.inner_text("#chat-log .transcription")}, CLIP)
        await until(console, "document.querySelector('#chat-log .agent-text')?.textContent.startsWith('You said')")
        await until(console, f"Number(document.getElementById('chat-state').dataset.peak) > {HEARD}")
        await console.wait_for_selector("#chat-latency [data-step=llm]", timeout=10_000)


async def test_the_same_agent_over_webrtc(console: Page) -> None:
    await open_tab(console, "chat")
    await console.select_option("#chat-transport", "webrtc")
    await console.select_option("#chat-language", "en")
    await console.click("#chat-start")
    await console.wait_for_selector("#chat-log .transcription", timeout=60_000)
    assert_heard({"text": await console.inner_text("#chat-log .transcription")}, CLIP)
    await console.wait_for_selector("#chat-log .agent-text", timeout=90_000)
    await until(console, f"Number(document.getElementById('chat-state').dataset.peak) > {HEARD}", timeout_s=60)


async def test_register_then_verify_a_voice(console: Page) -> None:
    await open_tab(console, "voices")
    await console.set_input_files("#vo-reg-file", str(DATA / "speaker" / "libri_testother_1998_1998-15444-0000.flac"))
    await console.fill("#vo-reg-name", "Reader 1998")
    await console.fill("#vo-reg-desc", "LibriSpeech test-other")
    await console.click("#vo-register button")
    await console.wait_for_selector("#vo-prints tbody tr", timeout=60_000)
    await console.set_input_files("#vo-ver-files", str(DATA / "speaker" / "libri_testother_1998_1998-15444-0002.flac"))
    await console.click("#vo-verify button")
    await console.wait_for_selector("#vo-result table", timeout=60_000)
    cells = await console.eval_on_selector_all("#vo-result tbody td", "tds => tds.map(t => t.textContent)")
    assert cells[2] == "ACCEPT" and float(cells[1]) > 3.5, cells


async def test_speak_then_create_edit_and_delete_a_collection(console: Page) -> None:
    await open_tab(console, "tts")
    await console.select_option("#tts-language", "en")
    await console.click("#tts-form button")
    await until(console, "document.getElementById('tts-state').textContent === 'played'", timeout_s=60)
    assert float(await console.get_attribute("#tts-state", "data-peak")) > HEARD
    engines = await console.eval_on_selector_all("#tts-speakers tbody tr", "rs => rs.map(r => r.cells[1].textContent)")
    assert engines and all(engines), engines

    await console.fill("#col-name", "Console bots")
    english = await console.eval_on_selector("#col-lang-en", "s => s.options[1].value")
    await console.select_option("#col-lang-en", english)
    await console.click("#col-save")
    row = console.locator("#tts-collections tbody tr", has_text="Console bots")
    await row.wait_for()
    await row.get_by_role("button", name="Edit collection Console bots").click()
    await console.fill("#col-name", "Console bots 2")
    await console.click("#col-save")
    edited = console.locator("#tts-collections tbody tr", has_text="Console bots 2")
    await edited.wait_for()
    assert "en:" in await edited.inner_text()
    await edited.get_by_role("button", name="Delete collection Console bots 2").click()
    await edited.wait_for(state="detached")
