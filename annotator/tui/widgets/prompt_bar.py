"""A one-line prompt composed with its screen (go to sentence N, search), fed keys in order.

Why not a modal screen with an ``Input``: Textual forwards each key to the focused widget at once
and runs bindings only when the key bubbles back up to the app. When ``/`` opened a modal screen,
the keys typed right after it (``Obama⏎`` in the same burst) were already on their way up from the
sentence view; they reached a screen whose input was not focused yet and were dropped, so ``/Obama⏎``
searched "ma" or re-ran the previous search.

Here the focus never moves: the prompt is part of the screen from the start, and while it is open
the app hands it every key that bubbles up (:meth:`PromptBar.feed`), in the order typed. Keys can
therefore never be lost or reordered while the prompt opens. Editing is deliberately small:
printable characters, backspace, delete, ←/→, home/end, ctrl+u (clear), enter, escape. A
pre-filled value (the last search) is selected: typing replaces it, enter reuses it.
"""

from __future__ import annotations

from typing import Callable

from textual import events
from textual.content import Content
from textual.widgets import Static

Answer = Callable[["str | None"], None]
"""Called once with the text on enter, or None on escape."""


class PromptBar(Static):
    """Question and editable text on one line; hidden while closed."""

    DEFAULT_CSS = """
    PromptBar {
        display: none;
        height: 1;
        padding: 0 1;
        background: $accent 30%;
    }
    PromptBar.-open {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = ""
        self.placeholder = ""
        self.value = ""
        """The text typed so far."""
        self.cursor = 0
        """Insertion point (0..len(value))."""
        self.selected = False
        """True while a pre-filled value is selected (typing replaces it)."""
        self._answer: Answer | None = None

    @property
    def is_open(self) -> bool:
        return self._answer is not None

    def open(self, question: str, answer: Answer, *, placeholder: str = "", value: str = "") -> None:
        """Show the prompt; from now on :meth:`feed` receives the keys (synchronous, nothing is queued)."""
        self.question = question
        self.placeholder = placeholder
        self.value = value
        self.cursor = len(value)
        self.selected = bool(value)
        self._answer = answer
        self.add_class("-open")
        self._render_line()

    def close(self, value: str | None) -> None:
        """Hide the prompt and answer (once)."""
        answer, self._answer = self._answer, None
        self.remove_class("-open")
        if answer is not None:
            answer(value)

    def feed(self, event: events.Key) -> None:
        """Handle one key of the prompt (every key goes here while it is open)."""
        key = event.key
        if key == "enter":
            self.close(self.value)
            return
        if key == "escape":
            self.close(None)
            return
        if self.selected and key in ("backspace", "delete", "ctrl+u"):
            self.value, self.cursor, self.selected = "", 0, False
        elif key == "backspace":
            if self.cursor > 0:
                self.value = self.value[: self.cursor - 1] + self.value[self.cursor :]
                self.cursor -= 1
        elif key == "delete":
            self.value = self.value[: self.cursor] + self.value[self.cursor + 1 :]
        elif key == "left":
            self.cursor = max(0, self.cursor - 1)
            self.selected = False
        elif key == "right":
            self.cursor = min(len(self.value), self.cursor + 1)
            self.selected = False
        elif key in ("home", "ctrl+a"):
            self.cursor, self.selected = 0, False
        elif key in ("end", "ctrl+e"):
            self.cursor, self.selected = len(self.value), False
        elif key == "ctrl+u":
            self.value, self.cursor = self.value[self.cursor :], 0
        elif event.is_printable and event.character:
            if self.selected:
                self.value, self.cursor, self.selected = "", 0, False
            self.value = self.value[: self.cursor] + event.character + self.value[self.cursor :]
            self.cursor += len(event.character)
        else:
            return
        self._render_line()

    def paste(self, text: str) -> None:
        """Insert pasted text (its first line) at the cursor."""
        text = text.splitlines()[0] if text else ""
        if self.selected:
            self.value, self.cursor, self.selected = "", 0, False
        self.value = self.value[: self.cursor] + text + self.value[self.cursor :]
        self.cursor += len(text)
        self._render_line()

    def _render_line(self) -> None:
        before, at, after = self.value[: self.cursor], self.value[self.cursor : self.cursor + 1], self.value[self.cursor + 1 :]
        parts: list[Content | tuple[str, str] | str] = [(self.question, "bold"), " "]
        if self.selected:
            parts += [(self.value, "reverse")]
        elif not self.value and self.placeholder:
            parts += [(" ", "reverse"), (self.placeholder, "dim")]
        else:
            parts += [before, (at or " ", "reverse"), after]
        parts.append(("   enter: go · esc: cancel", "dim"))
        self.update(Content.assemble(*parts), layout=False)


def open_prompt_bar(screen) -> "PromptBar | None":
    """The screen's open prompt, if it has one (what the app hands the keys to)."""
    try:
        bar = getattr(screen, "prompt_bar", None)
    except Exception:  # a screen whose prompt is not mounted (yet, or any more)
        return None
    return bar if isinstance(bar, PromptBar) and bar.is_open else None


class PromptKeys:
    """App mixin: while the screen's prompt is open, every key that bubbles up goes to it, in order."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and event.is_forwarded:
            bar = open_prompt_bar(self.screen)  # type: ignore[attr-defined]
            if bar is not None:
                event.stop()
                if isinstance(event, events.Paste):
                    bar.paste(event.text)
                else:
                    bar.feed(event)
                return
        await super().on_event(event)  # type: ignore[misc]
