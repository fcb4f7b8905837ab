"""Turning a streamed LLM reply into what the client reads and what TTS says: a leading language
prefix (`[en] ...`) is taken off both and picks the language; complete sentences go to TTS while the
LLM is still generating, and the first sentence's first piece (the one TTS would say first: a first
clause, or its first few words) as soon as it is known, the rest of that sentence after it."""

import re
from dataclasses import dataclass

from services.common.languages import LANGUAGES
from services.common.text_pieces import SENTENCE_END, known_first_piece

PREFIX = re.compile(r"^\s*\[(" + "|".join(LANGUAGES) + r")\]\s*")
MAX_PREFIX_CHARS = 6  # "[ja]" and a little slack


@dataclass(frozen=True)
class Speech:
    """What goes to TTS: a sentence, a first sentence's first piece, or the rest of that sentence."""

    text: str  # as TTS says it (a first piece ends in a comma where it has no mark of its own)
    written: str  # as the reply has it: what the agent said, for the history
    continues: bool = False  # the rest of a sentence whose first piece went before it


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
    """Feed LLM tokens; get back the text to show and what is ready to be spoken."""

    language: str | None = None  # set when the reply starts with a prefix
    text: str = ""  # everything shown so far (prefix removed)
    _head: str = ""  # held back until we know whether a prefix starts the reply
    _decided: bool = False
    _pending: str = ""  # text not yet part of a complete sentence
    _spoke: bool = False  # something went to TTS already
    _head_chars: int = 0  # characters of the pending sentence that went to TTS as its first piece

    def feed(self, token: str) -> tuple[str, list[Speech]]:
        """(text to show now, speech ready now)."""
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
        ready = [self._speech(p) for p in parts if p.strip()]
        if not (self._spoke or ready) and (first := known_first_piece(self._pending)) is not None:
            self._head_chars = first.end
            ready.append(Speech(first.said, self._pending[: first.end].strip()))
        self._spoke = self._spoke or bool(ready)
        return token, ready

    def _speech(self, sentence: str) -> Speech:
        """A complete sentence as it came (spaces around it included), or the rest of one begun early."""
        rest, continues = sentence[self._head_chars :].strip(), self._head_chars > 0
        self._head_chars = 0
        return Speech(rest, rest, continues)

    def finish(self) -> tuple[str, list[Speech]]:
        """At the end of the reply: whatever was held back, and the last sentence."""
        shown = ""
        if not self._decided:  # the whole reply was shorter than a possible prefix
            _, self.language, shown = read_prefix(self._head)
            shown = shown.strip()
            self._decided = True
            self.text += shown
            self._pending += shown
        last, self._pending = self._pending, ""
        return shown, [self._speech(last)] if last.strip() else []
