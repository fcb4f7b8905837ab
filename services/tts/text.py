"""Text to sentences: synthesis streams sentence by sentence so the first audio comes fast."""

import re

# Sentence ends: Latin/Cyrillic punctuation followed by space, and CJK full stops (no space needed).
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")
# Long sentences are cut again at clause marks, so no single piece delays the stream.
CLAUSE_END = re.compile(r"(?<=[,;:、，；])")
MAX_PIECE_CHARS = 200
FIRST_CLAUSE_MIN_CHARS = 4  # a first clause shorter than this is not worth a piece of its own


def sentences(text: str) -> list[str]:
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
    return split_first_clause(pieces)


def split_first_clause(pieces: list[str]) -> list[str]:
    """Say the first clause on its own: the first audio frame then waits only for it."""
    if not pieces:
        return pieces
    parts = CLAUSE_END.split(pieces[0], maxsplit=1)
    if len(parts) < 2 or len(parts[0].strip()) < FIRST_CLAUSE_MIN_CHARS or not any(c.isalnum() for c in parts[1]):
        return pieces
    return [parts[0].strip(), parts[1].strip(), *pieces[1:]]
