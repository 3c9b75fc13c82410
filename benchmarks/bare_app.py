"""The yardstick for the TUI rows: the least a Textual app does to show a sentence and move a cursor.

One ``Static`` holds the sentence, with the word under the cursor in reverse video; the right arrow
moves the cursor and updates that one widget. A footer shows the binding, as the annotate screen
does. ``benchmarks/run.py`` starts it in tmux next to ``annotator annotate`` and reports the ratio.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static

SENTENCE = "The foreign minister presses allies in Brussels to send more air defence systems before winter"


class BareApp(App[None]):
    BINDINGS = [("right", "next_word", "Next word")]

    def __init__(self) -> None:
        super().__init__()
        self.words = SENTENCE.split()
        self.cursor = 0

    def compose(self) -> ComposeResult:
        yield Static(self.sentence(), id="sentence")
        yield Footer()

    def sentence(self) -> Text:
        text = Text()
        for index, word in enumerate(self.words):
            if index:
                text.append(" ")
            text.append(word, style="reverse" if index == self.cursor else "")
        return text

    def action_next_word(self) -> None:
        self.cursor = (self.cursor + 1) % len(self.words)
        self.query_one("#sentence", Static).update(self.sentence())


if __name__ == "__main__":
    BareApp().run()
