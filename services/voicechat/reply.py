"""Turning a streamed LLM reply into what the client reads and what TTS says: a leading language
prefix (`[en] ...`) is taken off both and picks the language; complete sentences go to TTS while the
LLM is still generating."""

import re
from dataclasses import dataclass

from services.common.languages import LANGUAGES

PREFIX = re.compile(r"^\s*\[(" + "|".join(LANGUAGES) + r")\]\s*")
MAX_PREFIX_CHARS = 6  # "[ja]" and a little slack
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")


def read_prefix(head: str) -> tuple[bool, str | None, str]:
    """For the first characters of a reply: (decided, language of a prefix, the text after it)."""
    stripped = head.lstrip()
    if not stripped:
        return False, None, ""
    if not stripped.startswith("["):
        return True, None, head
    if "]" not in stripped:
        return len(stripped) > MAX_PREFIX_CHARS, None, head
    match = PREFIX.match(head)
    return (True, match.group(1), head[match.end() :]) if match else (True, None, head)


@dataclass
class ReplyParser:
    """Feed LLM tokens; get back the text to show and the sentences ready to be spoken."""

    language: str | None = None  # set when the reply starts with a prefix
    text: str = ""  # everything shown so far (prefix removed)
    _head: str = ""  # held back until we know whether a prefix starts the reply
    _decided: bool = False
    _pending: str = ""  # text not yet part of a complete sentence

    def feed(self, token: str) -> tuple[str, list[str]]:
        """(text to show now, complete sentences to speak now)."""
        if not self._decided:
            self._head += token
            self._decided, self.language, token = read_prefix(self._head)
            if not self._decided:
                return "", []
        if not self.text:
            token = token.lstrip()
        self.text += token
        self._pending += token
        parts = SENTENCE_END.split(self._pending)
        self._pending = parts.pop()
        return token, [p.strip() for p in parts if p.strip()]

    def finish(self) -> tuple[str, list[str]]:
        """At the end of the reply: whatever was held back, and the last sentence."""
        shown = ""
        if not self._decided:  # the whole reply was shorter than a possible prefix
            _, self.language, shown = read_prefix(self._head)
            shown = shown.strip()
            self._decided = True
            self.text += shown
            self._pending += shown
        last, self._pending = self._pending.strip(), ""
        return shown, [last] if last else []
