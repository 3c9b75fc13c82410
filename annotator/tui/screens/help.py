"""Every key of the annotate screen (as currently bound) and every label with hotkey, colour and description."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ...keymap import DEFAULT_KEYMAP, key_display, keys_display

MOUSE_HELP = (
    "Mouse: click a word to move the cursor, drag to select words, click a label in the label bar to apply it. "
    "Relations: click the tag of the head span (²PERSON), click the other span, then click the relation label."
)


def help_content(scheme, keymap: dict[str, str]) -> Content:
    """The help text: keys by binding id, entity labels, relation labels."""
    parts: list[Content] = [Content.from_markup("[b]Keys[/]  (rebind them in labels.yaml under keys:, by these ids)\n")]
    for binding_id, (default_keys, description) in DEFAULT_KEYMAP.items():
        keys = keys_display(keymap.get(binding_id, default_keys))
        parts.append(
            Content.from_markup("  [b]$keys[/] $description [dim]($id)[/]\n", keys=f"{keys:<18}", description=description, id=binding_id)
        )
    parts.append(Content.from_markup("  [b]$keys[/] $description\n", keys=f"{'1 2 … / 12':<18}", description="Jump to span N (in relation mode: choose it as the other span)"))
    parts.append(Content.from_markup("  [b]$keys[/] $description\n", keys=f"{'ctrl+p':<18}", description="Command palette: every action by name"))
    parts.append(
        Content.from_markup(
            "  [dim]$note[/]\n",
            note="Edits not accepted are kept as drafts and come back with their sentence (u reverts).",
        )
    )
    parts.append(Content.from_markup("\n[b]Entity labels[/]  (press the key on a word or a selection)\n"))
    for label in scheme.entities:
        key = key_display(label.hotkey) if label.hotkey else "·"
        parts.append(
            Content.from_markup(
                f"  [#111111 on {label.color}] $key [/] [{label.color} b]$name[/] $description\n",
                key=key,
                name=f"{label.name:<8}",
                description=label.description,
            )
        )
    if scheme.relations:
        parts.append(Content.from_markup("\n[b]Relation labels[/]  (r on the head span, choose the other span, then the key)\n"))
        for label in scheme.relations:
            arrow = "◀──▶" if label.symmetric else "──▶"
            parts.append(
                Content.from_markup(
                    f"  [#111111 on {label.color}] $key [/] [{label.color} b]$name[/] $description\n"
                    "      [dim]$heads $arrow $children[/]\n",
                    key=key_display(label.hotkey),
                    name=f"{label.name:<11}",
                    description=label.description,
                    heads=", ".join(label.head),
                    arrow=arrow,
                    children=", ".join(label.child),
                )
            )
    parts.append(Content.from_markup("\n[dim]$mouse[/]\n", mouse=MOUSE_HELP))
    parts.append(Content.from_markup("\n[dim]Suggested spans are underlined with a ? after the label; confirmed ones have the label colour as background. Accept stores everything shown.[/]"))
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    """The keys and labels; any of escape, q, ? closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", show=True),
    ]

    def __init__(self, scheme, keymap: dict[str, str]) -> None:
        super().__init__()
        self.scheme = scheme
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_content(self.scheme, self.keymap), id="help-text")

    def action_close(self) -> None:
        if self.is_current:
            self.dismiss(None)
