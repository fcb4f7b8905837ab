"""The web console (/console) in a real headless Chromium through the gateway, panel by panel, with a fake
microphone playing real speech: what each panel shows comes from the fleet's public API. Every page must
log no console error and ask nothing of another origin; each panel's screenshot lands in build/console-screenshots/
(tests/console_page.py). More panels: tests/test_console_browser_*.py."""

import asyncio
import json
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.conftest import DATA, SCRIPTED_LLM_URL, manifest
from tests.console_page import HEARD, open_tab, socket_events, submit, until
from tests.scripted_llm import scripted_llm_server
from tests.test_webrtc_browser import CLIP
from tests.webrtc_peer import assert_heard

pytestmark = pytest.mark.fleet

REFERENCE = "asr/en_LJ050-0131.wav"  # 7.7 s of one reader, and its transcript in the manifest
SECOND_REFERENCE = "asr/en_librispeech_1995-1837-0001.wav"  # 8.7 s


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


async def test_every_control_is_labelled_and_fits_a_narrow_screen(console: Page) -> None:
    await console.set_viewport_size({"width": 360, "height": 740})
    for panel in ("transcribe", "live", "chat", "voices", "tts"):
        await open_tab(console, panel)
        unlabelled = await console.evaluate(
            f"""[...document.querySelectorAll('#{panel} :is(input, select, textarea, meter)')]
                .filter(c => c.type !== 'hidden' && !c.labels.length && !c.getAttribute('aria-label'))
                .map(c => c.id || c.outerHTML)"""
        )
        assert not unlabelled, (panel, unlabelled)
        width = await console.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (panel, width)  # nothing scrolls sideways


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


async def test_live_voice_profile_bars_show_the_ssap_events(console: Page) -> None:
    await open_tab(console, "live")
    events = socket_events(console, "/ws/transcribe/vad")
    await console.check("#live-ssap")
    await console.click("#live-start")
    await console.wait_for_selector("#live-profile meter", timeout=60_000)
    profiles = [e["properties"] for e in await events.of_type("ssap")]
    assert "gender" in profiles[-1], events
    shown = await console.eval_on_selector_all(
        "#live-profile meter", "ms => ms.map(m => [m.getAttribute('aria-label'), m.value])"
    )
    expected = {f"{prop} {label}": p for prop, labels in profiles[-1].items() for label, p in labels.items()}
    assert dict(shown) == pytest.approx(expected, abs=1e-6), (shown, profiles)
    assert sum(p for name, p in shown if name.startswith("gender ")) == pytest.approx(1, abs=1e-3)


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


async def test_add_list_replace_and_delete_a_cloned_speaker(console: Page, fleet: str) -> None:
    await open_tab(console, "tts")
    actions = "ReplaceDelete"  # the two buttons of a cloned speaker's row
    await console.fill("#clone-name", "Console clone")
    await console.select_option("#clone-language", "en")
    await console.fill("#clone-text", manifest()[REFERENCE])
    await console.set_input_files("#clone-file", str(DATA / REFERENCE))
    speaker = await submit(console, "#clone-save", "/api/speakers")
    row = console.locator(f"#tts-speakers tbody tr[data-id='{speaker['id']}']")
    await row.wait_for()
    cells = [await c.text_content() for c in await row.locator("td").all()]
    assert speaker["engine"] and cells == ["Console clone", speaker["engine"], "en", speaker["user_id"], actions]
    label = await console.eval_on_selector(f"#tts-speaker option[value='{speaker['id']}']", "o => o.textContent")
    assert label == f"Console clone (en, {speaker['engine']})"  # every speaker picker offers it
    assert await console.input_value("#clone-language") == "en"  # the form's reset keeps the default language

    await row.get_by_role("button", name="Replace the recording of Console clone").click()
    assert await console.is_disabled("#clone-name")
    assert await console.input_value("#clone-text") == manifest()[REFERENCE]
    second_text = manifest()[SECOND_REFERENCE]
    await console.fill("#clone-text", second_text)
    await console.set_input_files("#clone-file", str(DATA / SECOND_REFERENCE))
    replaced = await submit(console, "#clone-save", f"/api/speakers/{speaker['id']}/reference-audio", "PUT")
    assert replaced["reference_text"] == second_text and replaced["updated_at"] > speaker["updated_at"]
    name_cell = f"document.querySelector(\"#tts-speakers tr[data-id='{speaker['id']}'] td\")"
    await until(console, f"{name_cell}.title === {json.dumps(second_text)}")  # the list, reloaded
    assert await console.is_enabled("#clone-name")  # the form is back to adding

    await row.get_by_role("button", name="Delete speaker Console clone").click()
    await row.wait_for(state="detached")
    listed = await (await console.request.get(f"{fleet}/api/speakers")).json()
    assert speaker["id"] not in [s["id"] for s in listed["speakers"]]
