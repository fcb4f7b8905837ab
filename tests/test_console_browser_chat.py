"""The console's voice chat in Chromium through the gateway (tests/console_page.py): barge-in over the
WebSocket (the fake microphone speaks while the agent's long reply plays; the server sends `interrupted` and the
page's player stops), and the per-stage `latency` events of the agent over WebRTC, carried by the `chat`
DataChannel, on the same chart as the WebSocket agent's."""

import pytest
from playwright.async_api import Page

from tests.conftest import SCRIPTED_LLM_URL
from tests.console_page import HEARD, open_tab, socket_events, until
from tests.scripted_llm import scripted_llm_server
from tests.test_webrtc_browser import CLIP
from tests.webrtc_peer import assert_heard

pytestmark = pytest.mark.fleet

SILENT = 0.001  # the analyser's level once the player's queue is dropped
# Records what the page receives on its DataChannels (the test's spy; the console keeps no such log).
DATA_CHANNEL_SPY = """(() => {
  window.dataChannelEvents = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    channel.addEventListener("message", ({ data }) => window.dataChannelEvents.push(JSON.parse(data)));
    return channel;
  };
})()"""


async def chart_of_first_turn(page: Page) -> dict[str, str]:
    """Step → the text its bar shows, in the chart of the conversation's first turn."""
    return await page.evaluate(
        """Object.fromEntries([...[...document.querySelectorAll('#chat-latency .turn-latency')].at(-1)
            .querySelectorAll('[data-step]')].map(s => [s.dataset.step, s.textContent]))"""
    )


@pytest.mark.parametrize("microphone", [6.0], indirect=True)  # 6 s of silence, then the user speaks
async def test_speech_over_the_agent_interrupts_its_playback(console: Page) -> None:
    with scripted_llm_server():
        await open_tab(console, "chat")
        events = socket_events(console, "/ws/voice-chat")
        await console.select_option("#chat-language", "en")
        await console.click("#chat summary")
        await console.fill("#chat-llm-url", SCRIPTED_LLM_URL)
        await console.click("#chat-start")
        await until(console, "document.getElementById('chat-state').textContent === 'listening'")
        await console.fill("#chat-text", "Tell me a story")  # a reply of 29 sentences
        await console.press("#chat-text", "Enter")
        await until(console, f"Number(document.getElementById('chat-state').dataset.level) > {HEARD}")
        await console.wait_for_selector("#chat-log .interrupted", timeout=30_000)
        await until(console, f"Number(document.getElementById('chat-state').dataset.level) < {SILENT}", 1.5)
        kinds = [e["type"] for e in events]
        assert "interrupted" in kinds and "agent_end" not in kinds[: kinds.index("interrupted")], kinds
        note = console.locator("#chat-log .interrupted")
        await until(console, "document.querySelector('#chat-log .interrupted').dataset.dropped !== undefined", 5)
        assert float(await note.get_attribute("data-dropped")) > 0  # queued agent audio was dropped, not played
        assert (await console.inner_text("#chat-log .agent-text")).startswith("This is sentence number 1")
        # What interrupted the agent is the user's next turn.
        await console.wait_for_selector("#chat-log .interrupted ~ .transcription", timeout=60_000)
        assert_heard({"text": await console.inner_text("#chat-log .interrupted ~ .transcription")}, CLIP)
        reply = "document.querySelector('#chat-log .interrupted ~ .agent-text')"
        await until(console, f"{reply}?.textContent.startsWith('You said')")


async def test_the_webrtc_agents_latency_events_are_charted(console: Page) -> None:
    await open_tab(console, "chat")
    await console.evaluate(DATA_CHANNEL_SPY)
    await console.select_option("#chat-transport", "webrtc")
    await console.select_option("#chat-language", "en")
    await console.click("#chat-start")
    await console.wait_for_selector("#chat-log .transcription", timeout=60_000)
    await console.wait_for_selector("#chat-latency [data-step=tts_first]", timeout=90_000)
    await console.wait_for_selector('#chat-latency [data-step="first audio (here)"]', timeout=60_000)
    latencies = [e for e in await console.evaluate("window.dataChannelEvents") if e["type"] == "latency"]
    first = {}
    for event in latencies:
        first.setdefault(event["step"], event["value"])
    assert set(first) == {"llm", "tts_first"}, latencies
    chart = await chart_of_first_turn(console)
    for step, value in first.items():
        assert value.endswith("ms") and chart[step] == f"{int(value.removesuffix('ms'))} ms", (chart, latencies)
    assert int(chart["first audio (here)"].split()[0]) > 0
