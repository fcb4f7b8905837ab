"""How a long file is cut into pieces for parallel decoding: in pauses only, about one window each;
which language a file of several is reported in."""

from services.asr.language_id import LanguageRun, most_spoken
from services.asr.transcriber import MIN_CUT_PAUSE, PIECE_MARGIN, cut_at_pauses

RATE = 16_000
WINDOW = 30 * RATE


def segments(*bounds_s: tuple[float, float]) -> list[dict[str, int]]:
    return [{"start": int(a * RATE), "end": int(b * RATE)} for a, b in bounds_s]


def test_a_file_that_fits_one_window_stays_whole() -> None:
    speech = segments((0.5, 10), (12, 20), (22, 29))
    assert cut_at_pauses(speech, (0, 30 * RATE), WINDOW, MIN_CUT_PAUSE) == [(0, 30 * RATE)]


def test_cuts_fall_halfway_through_the_latest_pause_before_a_window_is_full() -> None:
    speech = segments((0, 10), (11, 20), (21, 29), (30, 40), (41, 55), (56, 70))
    pieces = cut_at_pauses(speech, (0, 70 * RATE), WINDOW, MIN_CUT_PAUSE)
    assert pieces == [(0, int(29.5 * RATE)), (int(29.5 * RATE), int(55.5 * RATE)), (int(55.5 * RATE), 70 * RATE)]
    for start, end in pieces:  # no speech is cut in two
        assert not any(s["start"] < start < s["end"] or s["start"] < end < s["end"] for s in speech)


def test_short_gaps_are_never_cut_even_past_a_window() -> None:
    speech = segments((0, 20), (20.1, 40), (40.15, 50))  # gaps under MIN_CUT_PAUSE
    assert cut_at_pauses(speech, (0, 50 * RATE), WINDOW, MIN_CUT_PAUSE) == [(0, 50 * RATE)]


def test_pieces_cover_the_span_and_skip_only_the_middle_of_long_pauses() -> None:
    speech = segments(*[(i * 7.0, i * 7.0 + 6) for i in range(10)], (100, 110), (111, 120))
    pieces = cut_at_pauses(speech, (3 * RATE, 150 * RATE), WINDOW, MIN_CUT_PAUSE)
    assert pieces[0][0] == 3 * RATE and pieces[-1][1] == 150 * RATE
    assert all(end - start <= WINDOW for start, end in pieces[:-1])
    for (_, end), (start, _) in zip(pieces, pieces[1:], strict=False):
        assert start - end <= max(0, 37 * RATE - 2 * PIECE_MARGIN)  # 1 s gaps stay; the 37 s one is trimmed
        assert not any(s["start"] < start and end < s["end"] for s in speech)  # no speech skipped


def test_the_main_language_is_the_one_most_speech_is_in() -> None:
    runs = [
        LanguageRun("en", segments((0, 20))),
        LanguageRun("vi", segments((21, 40), (41, 70))),
        LanguageRun("en", segments((71, 80))),
    ]
    assert most_spoken(runs) == "vi"
    assert most_spoken(runs[:1]) == "en"
