"""A one-line prompt (go to sentence N, search text): returns the text, or None on escape."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, question: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.question = question
        """The question shown above the input."""
        self.placeholder = placeholder
        self.value = value
        self._answered = False

    def _answer(self, value: str | None) -> None:
        # Keys typed quickly can submit twice before the screen is gone: answer once.
        if not self._answered and self.is_current:
            self._answered = True
            self.dismiss(value)

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.question, id="prompt-question")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer(event.value)

    def action_cancel(self) -> None:
        self._answer(None)
