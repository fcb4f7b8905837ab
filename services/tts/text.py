"""Text to sentences: synthesis streams sentence by sentence so the first audio comes fast."""

import re

# Sentence ends: Latin/Cyrillic punctuation followed by space, and CJK full stops (no space needed).
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")
# Long sentences are cut again at clause marks, so no single piece delays the stream.
CLAUSE_END = re.compile(r"(?<=[,;:、，；])")
MAX_PIECE_CHARS = 200


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
    return [p for p in pieces if any(ch.isalnum() for ch in p)]
