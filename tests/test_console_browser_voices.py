"""The console's Voices panel in Chromium through the gateway (tests/console_page.py): anti-spoofing in its
three modes and a voice profile, each shown as the voice service answered it, and voice prints listed and
deleted."""

import pytest
from playwright.async_api import Page

from tests.conftest import DATA
from tests.console_page import open_tab, rows_of, submit

pytestmark = pytest.mark.fleet

HUMAN = DATA / "spoof" / "en_stp_human_cancel_timer.wav"
SYNTHETIC = DATA / "spoof" / "en_stp_tts_resume_the_timer.wav"
MODES = ("bank_top_security", "bank_flex", "consumer")  # strictest first


async def test_anti_spoof_in_each_mode_shows_what_the_service_answered(console: Page) -> None:
    await open_tab(console, "voices")
    await console.set_input_files("#vo-spoof-files", [str(HUMAN), str(SYNTHETIC)])
    thresholds = []
    for mode in MODES:
        await console.select_option("#vo-spoof-mode", mode)
        body = await submit(console, "#vo-spoof button", "/voice/anti-spoof")
        assert body["mode"] == mode
        await console.wait_for_selector(f"#vo-result h3 >> text=Anti-spoof ({mode})")
        expected = [
            [r["file"], r["result"], f"{r['score']:.3f}", str(r["threshold"]), f"{r['confidence']:.2f}"]
            + ["passed" if r["qa_passed"] else "failed"]
            for r in body["results"]
        ]
        assert await rows_of(console, "#vo-result") == expected
        assert [r[0] for r in expected] == [HUMAN.name, SYNTHETIC.name]
        thresholds.append(body["results"][0]["threshold"])
    assert thresholds[0] > thresholds[1] > thresholds[2], thresholds  # each mode is its own strictness


async def test_a_voice_profile_shows_the_services_probabilities(console: Page) -> None:
    await open_tab(console, "voices")
    await console.set_input_files("#vo-profile-file", str(DATA / "asr" / "en_LJ050-0131.wav"))
    body = await submit(console, "#vo-profile button", "/voice/profile")
    await console.wait_for_selector("#vo-result .profile meter")
    shown = await console.eval_on_selector_all(
        "#vo-result .profile meter", "ms => ms.map(m => [m.getAttribute('aria-label'), m.value])"
    )
    expected = {f"{prop} {label}": p for prop, labels in body["properties"].items() for label, p in labels.items()}
    assert "gender" in body["properties"] and dict(shown) == pytest.approx(expected, abs=1e-6), (shown, body)
    notes = await console.eval_on_selector_all("#vo-result .note", "ns => ns.map(n => n.textContent)")
    assert notes == [f"{p}: {m['reason']}" for p, m in body["models"].items() if not m["available"]]
    assert f"{body['voiced_seconds']:.1f} s voiced" in await console.inner_text("#vo-result h3")


async def test_voice_prints_are_listed_and_deleted(console: Page, fleet: str) -> None:
    await open_tab(console, "voices")
    await console.set_input_files("#vo-reg-file", str(DATA / "speaker" / "libri_testother_2033_2033-164914-0000.flac"))
    await console.fill("#vo-reg-name", "Reader 2033")
    await console.fill("#vo-reg-desc", "to be deleted")
    made = await submit(console, "#vo-register button", "/voice/register")
    row = console.locator(f"#vo-prints tbody tr[data-id='{made['speaker_id']}']")
    await row.wait_for()
    assert [await c.text_content() for c in await row.locator("td").all()] == [
        *("Reader 2033", "to be deleted", made["speaker_id"], "Delete")
    ]
    assert await console.input_value("#vo-ver-speaker") == made["speaker_id"]  # ready to verify against
    await row.get_by_role("button", name="Delete voice print Reader 2033").click()
    await row.wait_for(state="detached")
    listed = await (await console.request.get(f"{fleet}/voice/speakers", params={"limit": 500})).json()
    assert made["speaker_id"] not in [s["speaker_id"] for s in listed["speakers"]]
    options = await console.eval_on_selector_all("#vo-ver-speaker option", "os => os.map(o => o.value)")
    assert made["speaker_id"] not in options
