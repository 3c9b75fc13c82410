"""Both screens' actions: binding ids, default keys and one-line descriptions.

Headless on purpose (no Textual import): ``labels.py`` validates the ``keys:`` (annotate screen)
and ``review_keys:`` (review screen) sections of labels.yaml against these tables and refuses
entity hotkeys taken by an annotate action; the help screens list the descriptions; the TUI turns
each entry into a ``Binding`` whose ``id`` is :func:`binding_id` of it, and both apps rebind them
with :func:`binding_overrides` through ``App.set_keymap``.

Keys are Textual key names (``question_mark``, ``shift+left``, ``ctrl+d``); several alternatives are
separated by commas. A single printable character (``[``) is accepted too, as Textual accepts it.
"""

from __future__ import annotations

import unicodedata
from typing import Mapping

DEFAULT_KEYMAP: dict[str, tuple[str, str]] = {
    # Deciding on the sentence.
    "accept": ("a,enter", "Accept the sentence as shown and go to the next"),
    "reject": ("x", "Reject the sentence (it is unusable) and go to the next"),
    "skip": ("space", "Move on without a decision"),
    "undo": ("u,backspace", "Undo the last decision or edit"),
    "quit": ("q,ctrl+q", "Quit; edits not accepted are kept as drafts (a 2nd q confirms)"),
    # Moving the cursor and making spans.
    "cursor_left": ("left,h", "Move the cursor one token left"),
    "cursor_right": ("right,l", "Move the cursor one token right"),
    "extend_left": ("shift+left", "Extend the selection one token left"),
    "extend_right": ("shift+right", "Extend the selection one token right"),
    "sentence_start": ("home,circumflex_accent", "Jump to the first word of the sentence"),
    "sentence_end": ("end,dollar_sign", "Jump to the last word of the sentence"),
    "next_word": ("ctrl+right,W", "Jump to the next word (over punctuation)"),
    "prev_word": ("ctrl+left,B", "Jump to the previous word (over punctuation)"),
    "find_next": ("j", "Jump to the next word by its first character (j K: to Kyiv)"),
    "find_prev": ("J", "Jump to the previous word by its first character"),
    "next_gap": ("m", "Jump to the next capitalised word outside the spans"),
    "prev_gap": ("M", "Jump to the previous capitalised word outside the spans"),
    "extend_word_right": ("ctrl+shift+right,greater_than_sign", "Extend the selection to the next word"),
    "extend_word_left": ("ctrl+shift+left,less_than_sign", "Extend the selection to the previous word"),
    "extend_find_next": ("k", "Select up to a later word by its first character"),
    "extend_find_prev": ("K", "Select back to an earlier word by its first character"),
    "select_run": ("C", "Select the capitalised words at the cursor, or the next ones"),
    "next_span": ("tab", "Jump to the next span or suggestion"),
    "prev_span": ("shift+tab", "Jump to the previous span or suggestion"),
    "delete_span": ("d,delete", "Delete the span under the cursor"),
    "confirm_span": ("c", "Confirm the suggestion under the cursor, or cycle the label of a confirmed span"),
    "split_span": ("vertical_line", "Split the span at the cursor (a lower-case word there goes)"),
    "start_left": ("left_curly_bracket", "Span start one piece left (a word, or part of one)"),
    "start_right": ("right_curly_bracket", "Span start one piece right (pro-Russian → Russian)"),
    "end_left": ("left_parenthesis", "Span end one piece left (U.S.-made → U.S.- → U.S.)"),
    "end_right": ("right_parenthesis", "Span end one piece right"),
    "clear_selection": ("escape", "Clear the selection (or leave relation mode)"),
    # Moving between sentences.
    "prev_sentence": ("pageup,[", "Go to the previous sentence"),
    "next_sentence": ("pagedown,]", "Go to the next sentence"),
    "goto": ("colon", "Jump to sentence N"),
    "search": ("slash", "Search the dataset's text"),
    "help": ("question_mark", "Show the keys and the labels"),
    "toggle_context": ("v", "Cycle the context: sentences around → paragraph → whole article"),
    # Relations.
    "relation_mode": ("r", "Start a relation from the span under the cursor"),
    "next_relation": ("full_stop", "Select the next relation"),
    "prev_relation": ("comma", "Select the previous relation"),
    "delete_relation": ("ctrl+d", "Delete the selected relation"),
    "reverse_relation": ("ctrl+r", "Swap head and child of the selected relation"),
    "relabel_relation": ("ctrl+l", "Change the label of the selected relation"),
}
"""Annotate binding id -> (default keys, description), in the order the help screen lists them."""

REVIEW_KEYMAP: dict[str, tuple[str, str]] = {
    "take": ("1,2,3,4,5,6,7,8,9", "Take version N as gold and go to the next sentence"),
    "take_selected": ("a,enter", "Take the selected version as gold"),
    "edit": ("e", "Edit a copy of a version (then its number; e or enter: the selected one)"),
    "reject": ("x", "Store gold 'reject' (the sentence is unusable)"),
    "undo": ("u,backspace", "Undo the last gold decision of this session (back to its sentence)"),
    "cancel": ("escape", "Cancel choosing a version to edit"),
    "select_next": ("down,j", "Select the next version"),
    "select_prev": ("up,k", "Select the previous version"),
    "next": ("pagedown,]", "Next sentence in the queue (no decision)"),
    "prev": ("pageup,[", "Previous sentence in the queue (no decision)"),
    "goto": ("colon", "Go to item N of the queue"),
    "toggle_agreed": ("t", "Show or hide the sentences where everyone agreed"),
    "accept_agreed": ("A,shift+a", "Store every agreed sentence without gold as gold (one transaction)"),
    "help": ("question_mark", "Show the keys"),
    "quit": ("q,ctrl+q", "Quit (every gold decision is already saved)"),
}
"""Review id (as written under ``review_keys:``) -> (default keys, description), in help order.

The Textual binding id is ``review_`` + the id (:func:`binding_id`), so it never meets an annotate
id in the app-wide keymap (the review app shows the annotate screen's bindings too, to edit a version)."""

FIXED_IDS: dict[str, str] = {"take": "the digits 1-9 are the version numbers"}
"""Review ids that cannot be rebound (their keys still count when looking for clashes), and why."""

KEYMAPS: dict[str, dict[str, tuple[str, str]]] = {"keys": DEFAULT_KEYMAP, "review_keys": REVIEW_KEYMAP}
"""labels.yaml section -> the table of the screen it rebinds."""

_BINDING_PREFIX = {"keys": "", "review_keys": "review_"}


def binding_id(section: str, action: str) -> str:
    """The Textual binding id of ``action`` of the ``section`` table.

    >>> binding_id("keys", "accept"), binding_id("review_keys", "take_selected")
    ('accept', 'review_take_selected')
    """
    return _BINDING_PREFIX[section] + action


def bound_keys(section: str, keys: Mapping[str, str] | None) -> dict[str, str]:
    """Id -> keys as bound now: the section's defaults with the scheme's ``keys`` over them.

    >>> bound_keys("review_keys", {"reject": "ctrl+x"})["reject"], bound_keys("keys", None)["accept"]
    ('ctrl+x', 'a,enter')
    """
    table = KEYMAPS[section]
    return merged_keymap({action: written for action, written in (keys or {}).items() if action in table}, section)


def binding_overrides(sections: Mapping[str, Mapping[str, str] | None]) -> dict[str, str]:
    """Textual binding id -> keys, for ``App.set_keymap``: only what differs from the defaults.

    ``sections`` maps a labels.yaml section (``keys``, ``review_keys``) to the scheme's keys for it.

    >>> binding_overrides({"keys": {"accept": "enter", "reject": "x"}, "review_keys": {"reject": "r"}})
    {'accept': 'enter', 'review_reject': 'r'}
    """
    overrides: dict[str, str] = {}
    for section, keys in sections.items():
        table = KEYMAPS[section]
        for action, written in (keys or {}).items():
            if action in table and action not in FIXED_IDS and written != table[action][0]:
                overrides[binding_id(section, action)] = written
    return overrides

KEY_ALIASES: dict[str, str] = {
    "period": "full_stop",
    "dot": "full_stop",
    "esc": "escape",
    "return": "enter",
    "del": "delete",
    "pgup": "pageup",
    "pgdn": "pagedown",
}
"""Friendly names accepted in labels.yaml -> the name Textual gives the key."""

# Textual renames a few Unicode character names (see textual.keys.KEY_NAME_REPLACEMENTS).
_UNICODE_NAME_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
_REVERSED_UNICODE_NAME_REPLACEMENTS = {v: k for k, v in _UNICODE_NAME_REPLACEMENTS.items()}
# Unicode names with a hyphen, which Textual turns into "_" like the spaces ("LESS-THAN SIGN").
_HYPHENATED_NAMES = {"less_than_sign": "<", "greater_than_sign": ">"}

_KEY_DISPLAY = {
    "left": "←",
    "right": "→",
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "space": "space",
    "enter": "enter",
    "escape": "esc",
    "tab": "tab",
    "backspace": "backspace",
    "delete": "del",
    "insert": "ins",
    "home": "home",
    "end": "end",
    "period": ".",
}


def split_keys(keys: str) -> list[str]:
    """The alternatives of a comma-separated key list, stripped, empty items dropped.

    A lone ``,`` cannot be written this way: use its name, ``comma``.

    >>> split_keys("a, enter")
    ['a', 'enter']
    """
    return [key.strip() for key in keys.split(",") if key.strip()]


def key_name(key: str) -> str:
    """The name Textual gives ``key``: characters become names, aliases are resolved.

    >>> key_name("?"), key_name("["), key_name("period"), key_name("a"), key_name("shift+left")
    ('question_mark', 'left_square_bracket', 'full_stop', 'a', 'shift+left')
    """
    if len(key) == 1:
        return _character_key_name(key)
    return KEY_ALIASES.get(key, key)


def _character_key_name(character: str) -> str:
    """Textual's key name for one character (mirrors ``textual.keys._character_to_key``)."""
    if character.isalnum():
        return character
    if character == "\t":
        return "tab"
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return character
    return _UNICODE_NAME_REPLACEMENTS.get(name, name)


def key_character(key: str) -> str | None:
    """The printable character a key name stands for (``question_mark`` -> ``?``), or ``None``.

    >>> key_character("question_mark"), key_character("p"), key_character("ctrl+d"), key_character("enter")
    ('?', 'p', None, None)
    """
    key = KEY_ALIASES.get(key, key)
    if "+" in key[:-1]:
        return None
    if len(key) == 1:
        return key
    if key in ("space", "tab", "enter", "escape", "backspace", "delete"):
        return None
    if key in _HYPHENATED_NAMES:
        return _HYPHENATED_NAMES[key]
    unicode_name = _REVERSED_UNICODE_NAME_REPLACEMENTS.get(key, key).replace("_", " ").upper()
    try:
        character = unicodedata.lookup(unicode_name)
    except KeyError:
        return None
    return character if character.isprintable() and not character.isspace() else None


def merged_keymap(keymap_overrides: Mapping[str, str] | None = None, section: str = "keys") -> dict[str, str]:
    """Id -> keys: the section's defaults with ``keymap_overrides`` applied (unknown ids raise ValueError)."""
    table = KEYMAPS[section]
    merged = {action: keys for action, (keys, _description) in table.items()}
    for action, keys in (keymap_overrides or {}).items():
        if action not in table:
            raise ValueError(f"unknown binding id {action!r}")
        merged[action] = keys
    return merged


def key_actions(keymap_overrides: Mapping[str, str] | None = None, section: str = "keys") -> dict[str, list[str]]:
    """Textual key name -> the ids of the section that use it (more than one means a conflict)."""
    actions: dict[str, list[str]] = {}
    for action, keys in merged_keymap(keymap_overrides, section).items():
        for key in dict.fromkeys(key_name(k) for k in split_keys(keys)):
            actions.setdefault(key, []).append(action)
    return actions


def reserved_keys(keymap_overrides: dict[str, str] | None = None) -> set[str]:
    """Every key used by an action, both as written and as Textual names it.

    So ``"?" in reserved_keys()`` and ``"question_mark" in reserved_keys()`` are both true, whether
    the caller holds a typed character or a Textual ``event.key``.

    >>> {"a", "enter", "?", "question_mark", "["} <= reserved_keys()
    True
    >>> "a" in reserved_keys({"accept": "enter"})
    False
    """
    keys: set[str] = set()
    for written in merged_keymap(keymap_overrides).values():
        for key in split_keys(written):
            keys.add(key)
            keys.add(key_name(key))
            character = key_character(key_name(key))
            if character is not None:
                keys.add(character)
    return keys


def key_display(key: str) -> str:
    """How a key is shown to the user: short, with symbols for punctuation and arrows.

    >>> [key_display(k) for k in ("question_mark", "colon", "slash", "shift+left", "pageup", "period", "comma")]
    ['?', ':', '/', 'shift+←', 'PgUp', '.', ',']
    """
    if key.endswith("+"):  # a bare "+" or "ctrl++"
        modifiers, base = key[:-2], "+"
    else:
        modifiers, _plus, base = key.rpartition("+")
    if base in _KEY_DISPLAY:
        shown = _KEY_DISPLAY[base]
    else:
        shown = key_character(base) or base
    return f"{modifiers}+{shown}" if modifiers else shown


def keys_display(keys: str, separator: str = " / ") -> str:
    """All alternatives of a comma-separated key list for display.

    >>> keys_display("u,backspace")
    'u / backspace'
    """
    return separator.join(key_display(key) for key in split_keys(keys))
