"""Text to pieces: synthesis streams piece by piece (sentences, then clauses of long ones) so the
first audio comes fast; the first piece is kept to a few words whatever the punctuation. The TTS
service cuts its requests' text so; the voice agent asks `known_first_piece` of an LLM reply still
streaming, to send that first piece before the sentence is complete."""

import re
from dataclasses import dataclass

# Sentence ends: Latin/Cyrillic punctuation followed by space, and CJK full stops (no space needed).
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")
# Long sentences are cut again at clause marks, so no single piece delays the stream.
CLAUSE_END = re.compile(r"(?<=[,;:、，；])")
MAX_PIECE_CHARS = 200
FIRST_CLAUSE_MIN_CHARS = 4  # a first clause shorter than this is not worth a piece of its own
# The first piece is FIRST_PIECE_WORDS words (Piper says three in under 100 ms on one CPU thread),
# or 2 to MAX_FIRST_PIECE_WORDS where the next word starts a phrase (English: a preposition, a
# conjunction, a relative pronoun), so the cut falls where a speaker could pause. A first sentence
# with fewer than FIRST_PIECE_WORDS + MIN_REST_WORDS words is said whole.
FIRST_PIECE_WORDS = 3
MAX_FIRST_PIECE_WORDS = 4
MIN_REST_WORDS = 2
DECIDING_WORDS = MAX_FIRST_PIECE_WORDS + MIN_REST_WORDS  # words that fix the cut of any longer first piece
# fmt: off
PHRASE_STARTS = frozenset({
    "about", "after", "and", "as", "at", "because", "before", "but", "by", "for", "from", "if", "in", "into",
    "near", "of", "on", "or", "over", "since", "so", "than", "that", "through", "to", "under", "until",
    "when", "where", "which", "while", "who", "with", "without",
})
# Words that bind to the next one: a head does not end in one where another cut is at hand.
BINDS_FORWARD = PHRASE_STARTS | {
    "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "these", "those", "some",
    "any", "no", "every", "each", "am", "is", "are", "was", "were", "be", "been", "will", "would", "can",
    "could", "shall", "should", "may", "might", "must", "do", "does", "did", "has", "have", "had", "not",
    "very",
}
# fmt: on


def sentences(text: str, cut_first: bool = True) -> list[str]:
    """`text` in pieces; `cut_first=False`: the first piece is not cut again (the text goes on from a first
    piece said before it)."""
    pieces = []
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= MAX_PIECE_CHARS:
            pieces.append(sentence)
            continue
        current = ""
        for clause in CLAUSE_END.split(sentence):
            if current and len(current) + len(clause) > MAX_PIECE_CHARS:
                pieces.append(current.strip())
                current = ""
            current += clause
        if current.strip():
            pieces.append(current.strip())
    pieces = [p for p in pieces if any(ch.isalnum() for ch in p)]
    return split_first_words(split_first_clause(pieces)) if cut_first else pieces


@dataclass(frozen=True)
class FirstPiece:
    said: str  # as `sentences` gives it (a comma added where the words have no mark of their own)
    end: int  # where it ends in the text it was found in: the rest of the sentence starts there


def known_first_piece(text: str) -> FirstPiece | None:
    """The first piece `sentences` gives for every sentence that begins with `text` (a sentence not yet
    ended: an LLM reply still streaming), or None while what follows could change it. A first clause
    decides it once a letter or digit follows its mark; otherwise DECIDING_WORDS words do, as
    `split_first_words` looks no further for a longer sentence. The last word counts once a space ends it."""
    if SENTENCE_END.search(text):
        return None
    mark = CLAUSE_END.search(text)
    if mark is not None and len(clause := text[: mark.end()].strip()) >= FIRST_CLAUSE_MIN_CHARS:
        if not any(ch.isalnum() for ch in text[mark.end() :]):
            return None
        said = split_first_words([clause])[0]
        return FirstPiece(said, mark.end() if said == clause else _end_of_words(text, len(said.split())))
    words = text.split()
    if words and not text[-1].isspace():
        words.pop()  # it may go on
    if len(words) < DECIDING_WORDS:
        return None
    said = split_first_words([" ".join(words[:DECIDING_WORDS])])[0]
    return FirstPiece(said, _end_of_words(text, len(said.split()))) if any(ch.isalnum() for ch in said) else None


def _end_of_words(text: str, count: int) -> int:
    """Where the `count`-th word of `text` ends."""
    return list(re.finditer(r"\S+", text))[count - 1].end()


def fallback_cut(words: list[str]) -> int:
    """FIRST_PIECE_WORDS, or a word more or less where the head would end in a word that binds
    to the next."""
    for count in (FIRST_PIECE_WORDS, FIRST_PIECE_WORDS + 1, FIRST_PIECE_WORDS - 1):
        if count <= len(words) - MIN_REST_WORDS and words[count - 1].lower() not in BINDS_FORWARD:
            return count
    return FIRST_PIECE_WORDS


def ends_a_clause(piece: str) -> bool:
    """The piece ends at a clause mark: the sentence goes on in the next piece."""
    return CLAUSE_END.search(piece[-1:]) is not None


def split_first_clause(pieces: list[str]) -> list[str]:
    """Say the first clause on its own: the first audio frame then waits only for it."""
    if not pieces:
        return pieces
    parts = CLAUSE_END.split(pieces[0], maxsplit=1)
    if len(parts) < 2 or len(parts[0].strip()) < FIRST_CLAUSE_MIN_CHARS or not any(c.isalnum() for c in parts[1]):
        return pieces
    return [parts[0].strip(), parts[1].strip(), *pieces[1:]]


def split_first_words(pieces: list[str]) -> list[str]:
    """Cut a long first piece after its first few words, so the first audio waits for those only.
    The head ends in a comma where it has no mark of its own: engines then say it as a phrase that
    goes on (a continuing pitch and a short pause), not as the end of a sentence. Text written without
    spaces (Japanese, Chinese) is left to the clause marks: Kokoro's Japanese cut after a particle read
    back with a character error rate of 0.14 against 0.02 whole (bench/tts_first_piece.py)."""
    if not pieces:
        return pieces
    first = pieces[0]
    words = first.split()
    if len(words) < FIRST_PIECE_WORDS + MIN_REST_WORDS:
        return pieces
    at_phrase = [
        count
        for count in range(2, min(MAX_FIRST_PIECE_WORDS, len(words) - MIN_REST_WORDS) + 1)
        if words[count].lower().strip("\"'(") in PHRASE_STARTS
    ]
    count = min(at_phrase, key=lambda n: (abs(n - FIRST_PIECE_WORDS), n)) if at_phrase else fallback_cut(words)
    head, rest = " ".join(words[:count]), " ".join(words[count:])
    if head[-1].isalnum():
        head += ","
    return [head, rest, *pieces[1:]]
