"""labels.yaml -> a frozen, validated :class:`LabelScheme`.

The file is composed into PyYAML's node tree (not loaded straight to Python values) so that every
problem can be reported with the file and the 1-based line of the offending node, as
``labels.yaml:12: duplicate hotkey 'p' for ORG (already used by PERSON)``.

Headless: this module imports only the standard library, PyYAML and the project's ``errors`` and
``keymap`` modules (no spaCy, no Textual), so the CLI can validate a scheme cheaply.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from annotator import keymap
from annotator.errors import LabelSchemeError

SCHEME_VERSION = 1
"""The only ``version`` this code reads."""

DEFAULT_MODEL = "en_core_web_sm"
"""The spaCy pipeline used for pre-annotation when ``model`` is not given."""

RULE_ORDERS: tuple[str, ...] = ("head_first", "child_first", "any")
"""Values of ``relation_rules[].order``: where the head span must be relative to the child span."""

NAMED_COLORS: dict[str, str] = {
    "red": "#ff5f5f",
    "rose": "#e06c75",
    "orange": "#ff9f43",
    "amber": "#ffc857",
    "yellow": "#f5e663",
    "lime": "#b8e35a",
    "green": "#5fd787",
    "teal": "#2ec4b6",
    "cyan": "#5fd7ff",
    "sky": "#74b9ff",
    "blue": "#5f87ff",
    "indigo": "#8c7ae6",
    "violet": "#b388ff",
    "purple": "#c678dd",
    "magenta": "#ff5fd7",
    "pink": "#ff8fb1",
    "brown": "#c8a27a",
    "grey": "#a8a8a8",
    "gray": "#a8a8a8",
    "white": "#e8e8e8",
}
"""Colour names accepted in labels.yaml, tuned to read well on a dark terminal background."""

_AUTO_COLORS: tuple[str, ...] = tuple(
    NAMED_COLORS[name]
    for name in ("sky", "amber", "green", "violet", "orange", "teal", "magenta", "lime", "rose",
                 "cyan", "yellow", "indigo", "pink", "brown", "blue", "purple", "red", "white", "grey")
)
"""Colours handed out, in order, to labels that do not choose one."""

_LABEL_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_MATCHER_OP = re.compile(r"[!?+*]|\{\d*(?:,\d*)?\}")
# Token attributes whose value is text (or a dict such as {"IN": [...]} / {"REGEX": ...}).
_TEXT_TOKEN_ATTRS = frozenset(
    {"ORTH", "TEXT", "LOWER", "NORM", "LEMMA", "POS", "TAG", "MORPH", "DEP", "ENT_TYPE", "ENT_ID",
     "ENT_KB_ID", "SHAPE", "PREFIX", "SUFFIX", "LANG"}
)

_TOP_KEYS = (
    "version", "model", "label_map", "allow_overlaps", "entities", "relations", "relation_rules", "keys", "review_keys", "memory"
)
_ENTITY_KEYS = ("name", "hotkey", "color", "description", "patterns")
_RELATION_KEYS = ("name", "hotkey", "color", "description", "head", "child", "symmetric")
_RULE_KEYS = ("relation", "head", "child", "max_tokens", "order")


@dataclass(frozen=True)
class EntityLabel:
    """An entity label of the scheme."""

    name: str
    """UPPER_SNAKE label name, as stored and exported."""
    hotkey: str
    """One character that applies the label; "" only for labels added by an import."""
    color: str
    """Normalised ``#rrggbb``."""
    description: str
    """One line shown in the label bar and the help screen."""
    patterns: tuple = field(default=(), hash=False)
    """Phrase patterns (str) and token patterns (tuple of token-attribute dicts) for suggestions."""


@dataclass(frozen=True)
class RelationLabel:
    """A relation label and the entity labels it may connect."""

    name: str
    """UPPER_SNAKE relation name."""
    hotkey: str
    """One character that picks this relation in relation mode (its own namespace)."""
    color: str
    """Normalised ``#rrggbb``."""
    description: str
    """One line shown in the help screen and the relation picker."""
    head: tuple[str, ...]
    """Entity labels allowed as the head (the relation points from head to child)."""
    child: tuple[str, ...]
    """Entity labels allowed as the child."""
    symmetric: bool = False
    """True when direction carries no meaning (MEETS_WITH): either order is allowed."""

    def allows(self, head_label: str, child_label: str) -> bool:
        """Whether a span labelled ``head_label`` may be the head and ``child_label`` the child."""
        if "*" in self.head and "*" in self.child:  # added from imported data: unconstrained
            return True
        if head_label in self.head and child_label in self.child:
            return True
        return self.symmetric and child_label in self.head and head_label in self.child


@dataclass(frozen=True)
class RelationRule:
    """A suggested relation: spans labelled ``head`` and ``child`` close to each other."""

    relation: str
    """The relation name to suggest."""
    head: str
    """Entity label of the head span."""
    child: str
    """Entity label of the child span."""
    max_tokens: int
    """At most this many tokens between the two spans."""
    order: str = "head_first"
    """``head_first``, ``child_first`` or ``any``: which span comes first in the sentence."""


@dataclass(frozen=True)
class LabelScheme:
    """A validated label scheme: entity and relation labels, pre-annotation settings and keys."""

    path: str
    """The file it was read from (as given), for messages."""
    version: int
    """Format version of the file (1)."""
    model: str | None
    """spaCy pipeline for pre-annotation, or None for patterns only."""
    label_map: dict[str, str | None] = field(hash=False)
    """Model label -> scheme label, or None to drop it (see :meth:`map_model_label`)."""
    allow_overlaps: bool
    """Whether entity spans may overlap."""
    entities: tuple[EntityLabel, ...]
    """Entity labels in file order (the order of the label bar)."""
    relations: tuple[RelationLabel, ...] = ()
    """Relation labels in file order."""
    relation_rules: tuple[RelationRule, ...] = ()
    """Rules that suggest relations between suggested spans."""
    keys: dict[str, str] = field(default_factory=dict, hash=False)
    """Binding id -> comma-separated keys: the default keymap with the file's ``keys`` applied."""
    review_keys: dict[str, str] = field(default_factory=dict, hash=False)
    """Review id -> comma-separated keys: :data:`~annotator.keymap.REVIEW_KEYMAP` with the file's ``review_keys`` applied."""
    memory: str = "own"
    """Annotation memory in the annotate screen (:mod:`annotator.memory`): ``own`` (the annotator's
    decisions plus gold), ``shared`` (everyone's plus gold) or ``off``; a dataset's ``memory``
    setting overrides it."""

    @cached_property
    def _entities_by_name(self) -> dict[str, EntityLabel]:
        return {label.name: label for label in self.entities}

    @cached_property
    def _relations_by_name(self) -> dict[str, RelationLabel]:
        return {label.name: label for label in self.relations}

    @cached_property
    def _entities_by_hotkey(self) -> dict[str, EntityLabel]:
        return {label.hotkey: label for label in self.entities if label.hotkey}

    @cached_property
    def _relations_by_hotkey(self) -> dict[str, RelationLabel]:
        return {label.hotkey: label for label in self.relations if label.hotkey}

    @property
    def entity_names(self) -> tuple[str, ...]:
        """Entity label names in file order."""
        return tuple(label.name for label in self.entities)

    @property
    def relation_names(self) -> tuple[str, ...]:
        """Relation label names in file order."""
        return tuple(label.name for label in self.relations)

    def entity(self, name: str) -> EntityLabel | None:
        """The entity label called ``name``, or None."""
        return self._entities_by_name.get(name)

    def relation(self, name: str) -> RelationLabel | None:
        """The relation label called ``name``, or None."""
        return self._relations_by_name.get(name)

    def entity_by_hotkey(self, key: str) -> EntityLabel | None:
        """The entity label whose hotkey is ``key`` (a character or a Textual key name), or None."""
        return _by_hotkey(self._entities_by_hotkey, key)

    def relation_by_hotkey(self, key: str) -> RelationLabel | None:
        """The relation label whose hotkey is ``key`` (a character or a Textual key name), or None."""
        return _by_hotkey(self._relations_by_hotkey, key)

    def map_model_label(self, model_label: str) -> str | None:
        """The scheme label for a label predicted by the model, or None to drop the prediction.

        A label listed in ``label_map`` maps to its target (None drops it); an unlisted label that
        is also an entity of the scheme maps to itself; any other label is dropped.
        """
        if model_label in self.label_map:
            return self.label_map[model_label]
        return model_label if model_label in self._entities_by_name else None

    def patterns_for_spacy(self) -> list[dict[str, Any]]:
        """Every pattern as an EntityRuler/SpanRuler dict ``{"label": ..., "pattern": ...}``.

        Phrase patterns stay strings; token patterns become fresh lists of dicts the caller may keep.
        """
        patterns: list[dict[str, Any]] = []
        for label in self.entities:
            for pattern in label.patterns:
                if isinstance(pattern, str):
                    patterns.append({"label": label.name, "pattern": pattern})
                else:
                    patterns.append({"label": label.name, "pattern": [copy.deepcopy(t) for t in pattern]})
        return patterns

    def with_extra_entities(self, names: Iterable[str]) -> LabelScheme:
        """This scheme plus entity labels it lacks (for ``import --add-labels``).

        Imported data keeps its own label names (``Protein``, ``FASHION_BRAND``), so any name of
        1-64 printable characters without whitespace is accepted here. New labels have no hotkey
        (they are applied by cycling with ``confirm_span``), an automatic colour, no patterns.
        """
        entities = list(self.entities)
        known = set(self.entity_names)
        used_colors = {label.color for label in self.entities}
        for name in names:
            if name in known:
                continue
            _check_imported_label(name, self.path)
            color = _next_auto_color(used_colors, len(entities))
            used_colors.add(color)
            entities.append(EntityLabel(name, "", color, "Added from imported data", ()))
            known.add(name)
        if len(entities) == len(self.entities):
            return self
        return replace(self, entities=tuple(entities), label_map=dict(self.label_map), keys=dict(self.keys))

    def with_extra_relations(self, names: Iterable[str]) -> LabelScheme:
        """This scheme plus relation labels it lacks, allowed between any entity labels."""
        relations = list(self.relations)
        known = set(self.relation_names)
        used_colors = {label.color for label in self.relations}
        for name in names:
            if name in known:
                continue
            _check_imported_label(name, self.path)
            color = _next_auto_color(used_colors, len(relations))
            used_colors.add(color)
            relations.append(RelationLabel(name, "", color, "Added from imported data", ("*",), ("*",)))
            known.add(name)
        if len(relations) == len(self.relations):
            return self
        return replace(self, relations=tuple(relations), label_map=dict(self.label_map), keys=dict(self.keys))

    def for_dataset(self, settings: Mapping[str, Any]) -> LabelScheme:
        """This scheme plus the labels a dataset accepted with ``import --add-labels`` (its
        ``extra_entities`` / ``extra_relations`` settings); ``self`` when there are none."""
        scheme = self
        extra_entities = settings.get("extra_entities") or []
        extra_relations = settings.get("extra_relations") or []
        if extra_entities:
            scheme = scheme.with_extra_entities(extra_entities)
        if extra_relations:
            scheme = scheme.with_extra_relations(extra_relations)
        return scheme


def _check_imported_label(name: object, path: str) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or any(ch.isspace() for ch in name) or not name.isprintable():
        raise LabelSchemeError(
            f"cannot add the label {name!r}: labels are 1-64 printable characters without spaces", path
        )


def _by_hotkey(table: dict[str, Any], key: str) -> Any:
    if not key:
        return None
    found = table.get(key)
    if found is None and len(key) > 1:
        character = keymap.key_character(key)
        if character is not None:
            found = table.get(character)
    return found


def _next_auto_color(used: set[str], index: int) -> str:
    for color in _AUTO_COLORS:
        if color not in used:
            return color
    return _AUTO_COLORS[index % len(_AUTO_COLORS)]


# ---------------------------------------------------------------------------------------------
# Finding and loading


def default_scheme_path() -> Path:
    """The packaged default scheme, ``annotator/data/labels.yaml``."""
    from importlib.resources import files

    return Path(str(files("annotator.data").joinpath("labels.yaml")))


def find_scheme(explicit: str | Path | None = None, cwd: Path | None = None) -> LabelScheme:
    """The scheme to use: ``explicit`` (``--labels PATH``) if given, else ``./labels.yaml``, else the default.

    A relative ``explicit`` path is taken relative to ``cwd`` when ``cwd`` is given. An explicit path
    that does not exist is an error, never a silent fall-back.
    """
    if explicit is not None:
        explicit_path = Path(explicit)
        if cwd is not None and not explicit_path.is_absolute():
            explicit_path = Path(cwd) / explicit_path
        return load_scheme(explicit_path)
    local = Path(cwd) / "labels.yaml" if cwd is not None else Path("labels.yaml")
    try:
        found = local.is_file()
    except OSError as exc:  # e.g. a working folder this user may not look into: one line, not a fall-back
        raise LabelSchemeError(f"cannot read: {exc.strerror}", local) from None
    if found:
        return load_scheme(local)
    return load_scheme(default_scheme_path())


def load_scheme(path: str | Path) -> LabelScheme:
    """Read and validate a label scheme; any problem raises :class:`LabelSchemeError` with file and line."""
    where = str(path)
    text = _read_text(Path(path), where)
    try:
        root = _compose(text)
        return _SchemeReader(where).scheme(root)
    except yaml.MarkedYAMLError as exc:  # syntax errors, and unknown tags (!foo) met while converting
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot parse"
        raise LabelSchemeError(f"YAML syntax error: {problem}", where, mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:  # control characters: the reader gives an offset, not a line
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise LabelSchemeError(f"YAML syntax error: {exc.reason} (U+{code:04X})", where, line) from None
    except yaml.YAMLError as exc:  # other unmarked errors (rare): no line to give
        raise LabelSchemeError(f"YAML syntax error: {exc}", where) from None


def _compose(text: str) -> Node | None:
    """The file's node tree: through libyaml when PyYAML was built with it (the same nodes, tags,
    styles and line marks, ~15x faster than the pure-Python parser, which a screen's start-up
    pays), else, and for a file libyaml refuses, through the pure parser, whose errors are the
    ones reported."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _read_text(path: Path, where: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabelSchemeError("label scheme not found (no such file)", where) from None
    except IsADirectoryError:
        raise LabelSchemeError("is a directory, not a label scheme file", where) from None
    except OSError as exc:
        raise LabelSchemeError(f"cannot read the label scheme: {exc.strerror or exc}", where) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LabelSchemeError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", where, line
        ) from None


# ---------------------------------------------------------------------------------------------
# Validation over the node tree


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    """A short description of what a node holds, for "expected X, got Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return "nothing (null)"
    if kind == "str":
        return f"the text {node.value!r}"
    noun = {"bool": "boolean", "int": "number", "float": "number", "timestamp": "date"}.get(kind, kind)
    return f"the {noun} {node.value}"


def _close(word: str, choices: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _item_title(kind: str, node: Node, index: int) -> str:
    """``entity label ORG`` when the item has a text name, else ``entity label #2`` (for messages)."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value == "name"
                and isinstance(value_node, ScalarNode)
                and value_node.tag == "tag:yaml.org,2002:str"
            ):
                return f"{kind} {value_node.value}"
    return f"{kind} #{index}"


class _SchemeReader:
    """Walks the composed node tree, checking as it converts; raises on the first problem."""

    def __init__(self, path: str):
        self.path = path
        self._constructor = yaml.constructor.SafeConstructor()  # turns scalar nodes into values
        self._converting: set[int] = set()  # nodes being converted by to_python (alias loops)

    # -- generic helpers --------------------------------------------------------------------

    def error(self, node: Node | None, problem: str) -> LabelSchemeError:
        return LabelSchemeError(problem, self.path, _line(node) if node is not None else 1)

    def mapping(
        self, node: Node, what: str, allowed: Sequence[str] | None = None, required: Sequence[str] = ()
    ) -> dict[str, tuple[ScalarNode, Node]]:
        """Key -> (key node, value node); checks type, duplicate, unknown and missing keys."""
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping of keys to values, got {_describe(node)}")
        entries: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise self.error(key_node, f"keys in {what} must be text, got {_describe(key_node)}")
            key = key_node.value
            if key in entries:
                first = _line(entries[key][0])
                raise self.error(key_node, f"duplicate key {key!r} in {what} (first given on line {first})")
            if allowed is not None and key not in allowed:
                raise self.error(
                    key_node,
                    f"unknown key {key!r} in {what}{_close(key, allowed)} (allowed: {', '.join(allowed)})",
                )
            entries[key] = (key_node, value_node)
        for key in required:
            if key not in entries:
                raise self.error(node, f"{what} is missing the required key {key!r}")
        return entries

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{what} must be a list, got {_describe(node)}")
        return list(node.value)

    def scalar(self, node: Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def string(self, node: Node, what: str, *, allow_null: bool = False) -> str | None:
        if isinstance(node, ScalarNode):
            if node.tag == "tag:yaml.org,2002:str":
                return node.value
            if allow_null and node.tag == "tag:yaml.org,2002:null":
                return None
        raise self.error(node, f"{what} must be text, got {_describe(node)}")

    def boolean(self, node: Node, what: str) -> bool:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            return bool(self.scalar(node))
        raise self.error(node, f"{what} must be true or false, got {_describe(node)}")

    def integer(self, node: Node, what: str) -> int:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:int":
            return int(self.scalar(node))
        raise self.error(node, f"{what} must be a whole number, got {_describe(node)}")

    def to_python(self, node: Node, what: str) -> Any:
        """Plain Python data for a node (mappings need text keys and no duplicates)."""
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self._converting:
            raise self.error(node, f"{what} refers to itself through a YAML alias")
        self._converting.add(id(node))
        try:
            if isinstance(node, MappingNode):
                entries = self.mapping(node, what).items()
                return {key: self.to_python(value, f"{what}: {key}") for key, (_key_node, value) in entries}
            return [self.to_python(item, what) for item in node.value]
        finally:
            self._converting.discard(id(node))

    def label_name(self, node: Node, what: str) -> str:
        name = self.string(node, f"the name of {what}")
        if not _LABEL_NAME.fullmatch(name):
            raise self.error(
                node,
                f"invalid label name {name!r}: use UPPER_SNAKE (a capital letter, then capitals, digits or _)",
            )
        return name

    def hotkey(self, node: Node, label: str) -> str:
        # A bare digit (hotkey: 1) is read as an int by YAML: take its text as written. (A plain
        # scalar's style is None from the pure parser, "" from libyaml.)
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:int" and not node.style:
            key = node.value
        elif isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            raise self.error(
                node,
                f"hotkey of {label} is empty: give one character, quoted if YAML treats it specially "
                "(hotkey: '#')",
            )
        else:
            key = self.string(node, f"the hotkey of {label}")
        if len(key) != 1 or not key.isprintable() or key.isspace():
            raise self.error(node, f"invalid hotkey {key!r} for {label}: use exactly one printable, non-space character")
        return key

    def color(self, node: Node, label: str) -> str:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            raise self.error(
                node,
                f"color of {label} is empty; note that '#' starts a YAML comment, so quote hex colours "
                "(color: '#ff5f5f')",
            )
        text = self.string(node, f"the color of {label}").strip()
        if _HEX_COLOR.fullmatch(text):
            digits = text[1:].lower()
            if len(digits) == 3:
                digits = "".join(ch * 2 for ch in digits)
            return "#" + digits
        named = NAMED_COLORS.get(text.lower())
        if named is not None:
            return named
        raise self.error(
            node,
            f"invalid color {text!r} for {label}: use '#rgb', '#rrggbb' or one of {', '.join(NAMED_COLORS)}",
        )

    def description(self, node: Node, label: str) -> str:
        text = self.string(node, f"the description of {label}").strip()
        if not text:
            raise self.error(node, f"the description of {label} is empty: say in one line what the label marks")
        if "\n" in text:
            raise self.error(node, f"the description of {label} must be one line")
        return text

    def label_list(self, node: Node, what: str, entity_names: dict[str, int]) -> tuple[str, ...]:
        """A list of entity label names (a single name is accepted too); each must be a scheme entity."""
        items = [node] if isinstance(node, ScalarNode) else self.sequence(node, what)
        if not items:
            raise self.error(node, f"{what} must name at least one entity label")
        names: list[str] = []
        for item in items:
            name = self.string(item, f"each label in {what}")
            if name not in entity_names:
                raise self.error(item, f"{what} names {name!r}, which is not an entity label of this scheme"
                                 f"{_close(name, list(entity_names))} (entities: {', '.join(entity_names)})")
            if name not in names:
                names.append(name)
        return tuple(names)

    # -- sections ---------------------------------------------------------------------------

    def scheme(self, root: Node | None) -> LabelScheme:
        if root is None:
            raise LabelSchemeError("the label scheme is empty: it needs at least an 'entities' list", self.path, 1)
        if not isinstance(root, MappingNode):
            raise self.error(
                root, f"the top level must be a mapping with the keys {', '.join(_TOP_KEYS)}, got {_describe(root)}"
            )
        top = self.mapping(root, "the label scheme", _TOP_KEYS, required=("entities",))

        version = SCHEME_VERSION
        if "version" in top:
            node = top["version"][1]
            version = self.integer(node, "version")
            if version != SCHEME_VERSION:
                raise self.error(node, f"unsupported version {version}: this annotator reads version {SCHEME_VERSION}")

        model: str | None = DEFAULT_MODEL
        if "model" in top:
            node = top["model"][1]
            model = self.string(node, "model (a spaCy pipeline name, or null)", allow_null=True)
            if model is not None:
                model = model.strip()
                if not model:
                    raise self.error(node, "model is empty: name a spaCy pipeline, or write null for patterns only")

        allow_overlaps = False
        if "allow_overlaps" in top:
            allow_overlaps = self.boolean(top["allow_overlaps"][1], "allow_overlaps")

        memory = "own"
        if "memory" in top:
            memory = self.memory(top["memory"][1])

        keys = self.keys(top["keys"][1]) if "keys" in top else keymap.merged_keymap()
        review_keys = (
            self.keys(top["review_keys"][1], "review_keys") if "review_keys" in top else keymap.merged_keymap(section="review_keys")
        )
        entities = self.entities(top["entities"][1], keys)
        entity_lines = {label.name: line for label, line in entities}
        relations = self.relations(top["relations"][1], entity_lines) if "relations" in top else []
        label_map = self.label_map(top["label_map"][1], entity_lines) if "label_map" in top else {}
        rules = (
            self.relation_rules(top["relation_rules"][1], entity_lines, {r.name: r for r in relations})
            if "relation_rules" in top
            else []
        )
        return LabelScheme(
            path=self.path,
            version=version,
            model=model,
            label_map=label_map,
            allow_overlaps=allow_overlaps,
            entities=tuple(label for label, _line_no in entities),
            relations=tuple(relations),
            relation_rules=tuple(rules),
            keys=keys,
            review_keys=review_keys,
            memory=memory,
        )

    def memory(self, node: Node) -> str:
        """``memory``: true (= own), false (= off), or one of own, shared, off."""
        from annotator.memory import MEMORY_MODES, memory_mode

        value = self.scalar(node) if isinstance(node, ScalarNode) and node.tag in (
            "tag:yaml.org,2002:bool", "tag:yaml.org,2002:str") else None
        mode = memory_mode(value)
        if mode is None:
            raise self.error(
                node, f"memory must be true, false or one of {', '.join(MEMORY_MODES)}, got {_describe(node)}"
            )
        return mode

    def keys(self, node: Node, section: str = "keys") -> dict[str, str]:
        """A ``keys`` / ``review_keys`` section merged over its screen's default keymap; checks ids and
        clashes between that screen's actions (each screen has its own keys: ``e`` edits on the review
        screen and is EVENT's hotkey on the annotate screen)."""
        overrides: dict[str, str] = {}
        override_lines: dict[str, Node] = {}
        table = keymap.KEYMAPS[section]
        allowed = tuple(action for action in table if action not in keymap.FIXED_IDS)
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return keymap.merged_keymap(section=section)
        for action, (key_node, value_node) in self.mapping(node, section).items():
            if action in keymap.FIXED_IDS and action in table:
                raise self.error(key_node, f"{action} in {section} cannot be rebound: {keymap.FIXED_IDS[action]}")
            if action not in table:
                raise self.error(
                    key_node,
                    f"unknown binding id {action!r} in {section}{_close(action, allowed)} (known ids: {', '.join(allowed)})",
                )
            written = self.string(value_node, f"the keys of {action} (comma-separated key names)")
            alternatives = keymap.split_keys(written)
            if not alternatives:
                raise self.error(value_node, f"no key given for {action}")
            for key in alternatives:
                if any(ch.isspace() for ch in key) or (len(key) > 1 and "" in key.split("+")[:-1]):
                    raise self.error(value_node, f"invalid key {key!r} for {action}: use a Textual key name such as 'ctrl+d'")
            overrides[action] = ",".join(keymap.KEY_ALIASES.get(key, key) for key in alternatives)
            override_lines[action] = value_node
        merged = keymap.merged_keymap(overrides, section)
        for key, actions in keymap.key_actions(overrides, section).items():
            if len(actions) > 1:
                culprits = [a for a in actions if a in override_lines]
                at = max((override_lines[a] for a in culprits), key=_line)
                raise self.error(
                    at,
                    f"key {keymap.key_display(key)!r} is bound to both {actions[0]} and {actions[1]}; "
                    "give one of them another key",
                )
        return merged

    def entities(self, node: Node, keys: dict[str, str]) -> list[tuple[EntityLabel, int]]:
        items = self.sequence(node, "entities")
        if not items:
            raise self.error(node, "the scheme has no entity labels: list at least one under 'entities'")
        reserved = {k: acts[0] for k, acts in keymap.key_actions(keys).items()}
        seen_names: dict[str, int] = {}
        seen_hotkeys: dict[str, str] = {}
        labels: list[tuple[EntityLabel, int]] = []
        used_colors: set[str] = set()
        for index, item in enumerate(items, start=1):
            what = _item_title("entity label", item, index)
            entry = self.mapping(item, what, _ENTITY_KEYS, required=("name", "hotkey", "description"))
            name_node = entry["name"][1]
            name = self.label_name(name_node, what)
            if name in seen_names:
                raise self.error(name_node, f"duplicate entity label {name} (first defined on line {seen_names[name]})")
            seen_names[name] = _line(name_node)

            hotkey_node = entry["hotkey"][1]
            hotkey = self.hotkey(hotkey_node, name)
            if hotkey in seen_hotkeys:
                raise self.error(hotkey_node, f"duplicate hotkey {hotkey!r} for {name} (already used by {seen_hotkeys[hotkey]})")
            action = reserved.get(keymap.key_name(hotkey))
            if action is not None:
                raise self.error(
                    hotkey_node,
                    f"hotkey {hotkey!r} for {name} is the key of the action {action!r} "
                    f"({keymap.DEFAULT_KEYMAP[action][1]}); pick another hotkey or rebind {action} under 'keys'",
                )
            seen_hotkeys[hotkey] = name

            if "color" in entry:
                color = self.color(entry["color"][1], name)
            else:
                color = _next_auto_color(used_colors, len(labels))
            used_colors.add(color)
            description = self.description(entry["description"][1], name)
            patterns = self.patterns(entry["patterns"][1], name) if "patterns" in entry else ()
            labels.append((EntityLabel(name, hotkey, color, description, patterns), _line(item)))
        return labels

    def patterns(self, node: Node, label: str) -> tuple:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return ()
        patterns: list[Any] = []
        for item in self.sequence(node, f"the patterns of {label}"):
            if isinstance(item, ScalarNode):
                phrase = self.string(item, f"a phrase pattern of {label}")
                if not phrase.strip():
                    raise self.error(item, f"empty phrase pattern for {label}")
                patterns.append(phrase)
                continue
            tokens = self.sequence(item, f"a pattern of {label} (a phrase, or a list of token dicts)")
            if not tokens:
                raise self.error(item, f"empty token pattern for {label}: list at least one token dict")
            token_dicts = []
            for token in tokens:
                token_dict = self.to_python(token, f"a token of a pattern of {label}") if isinstance(token, MappingNode) else None
                if token_dict is None:
                    raise self.error(
                        token, f"each token of a pattern of {label} must be a mapping like {{LOWER: missile}}, got {_describe(token)}"
                    )
                self.check_token(token, token_dict, label)
                token_dicts.append(token_dict)
            patterns.append(tuple(token_dicts))
        return tuple(patterns)

    def check_token(self, node: MappingNode, token: dict[str, Any], label: str) -> None:
        """Catch the common YAML slips in token patterns (spaCy validates the rest when it loads them)."""
        for (key_node, value_node) in node.value:
            attr = key_node.value
            value = token[attr]
            if attr == "OP":
                if not isinstance(value, str) or not _MATCHER_OP.fullmatch(value):
                    raise self.error(
                        value_node, f"invalid OP {value!r} in a pattern of {label}: use one of ! ? + * or {{n,m}} (quoted)"
                    )
            elif attr.upper() in _TEXT_TOKEN_ATTRS and not isinstance(value, (str, dict)):
                raise self.error(
                    value_node,
                    f"{attr} in a pattern of {label} must be text or a mapping such as {{IN: [...]}}, "
                    f"got {_describe(value_node)} (quote it)",
                )

    def relations(self, node: Node, entity_lines: dict[str, int]) -> list[RelationLabel]:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        seen_names: dict[str, int] = {}
        seen_hotkeys: dict[str, str] = {}
        used_colors: set[str] = set()
        relations: list[RelationLabel] = []
        for index, item in enumerate(self.sequence(node, "relations"), start=1):
            what = _item_title("relation label", item, index)
            entry = self.mapping(item, what, _RELATION_KEYS, required=("name", "hotkey", "description", "head", "child"))
            name_node = entry["name"][1]
            name = self.label_name(name_node, what)
            if name in seen_names:
                raise self.error(name_node, f"duplicate relation label {name} (first defined on line {seen_names[name]})")
            seen_names[name] = _line(name_node)
            hotkey_node = entry["hotkey"][1]
            hotkey = self.hotkey(hotkey_node, name)
            if hotkey in seen_hotkeys:
                raise self.error(
                    hotkey_node, f"duplicate relation hotkey {hotkey!r} for {name} (already used by {seen_hotkeys[hotkey]})"
                )
            seen_hotkeys[hotkey] = name
            if "color" in entry:
                color = self.color(entry["color"][1], name)
            else:
                color = _next_auto_color(used_colors, len(relations))
            used_colors.add(color)
            description = self.description(entry["description"][1], name)
            head = self.label_list(entry["head"][1], f"the head of {name}", entity_lines)
            child = self.label_list(entry["child"][1], f"the child of {name}", entity_lines)
            symmetric = self.boolean(entry["symmetric"][1], f"symmetric of {name}") if "symmetric" in entry else False
            relations.append(RelationLabel(name, hotkey, color, description, head, child, symmetric))
        return relations

    def label_map(self, node: Node, entity_lines: dict[str, int]) -> dict[str, str | None]:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return {}
        label_map: dict[str, str | None] = {}
        for model_label, (_key_node, value_node) in self.mapping(node, "label_map").items():
            target = self.string(value_node, f"the target of {model_label} in label_map (a scheme label or null)", allow_null=True)
            if target is not None and target not in entity_lines:
                raise self.error(
                    value_node,
                    f"label_map maps {model_label} to {target!r}, which is not an entity label of this scheme"
                    f"{_close(target, list(entity_lines))} (entities: {', '.join(entity_lines)}; null drops the label)",
                )
            label_map[model_label] = target
        return label_map

    def relation_rules(
        self, node: Node, entity_lines: dict[str, int], relations: dict[str, RelationLabel]
    ) -> list[RelationRule]:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        rules: list[RelationRule] = []
        for index, item in enumerate(self.sequence(node, "relation_rules"), start=1):
            what = f"relation rule #{index}"
            entry = self.mapping(item, what, _RULE_KEYS, required=("relation", "head", "child", "max_tokens"))
            relation_node = entry["relation"][1]
            relation_name = self.string(relation_node, f"the relation of {what}")
            relation = relations.get(relation_name)
            if relation is None:
                raise self.error(
                    relation_node,
                    f"{what} names the relation {relation_name!r}, which is not a relation of this scheme"
                    f"{_close(relation_name, list(relations))} (relations: {', '.join(relations) or 'none'})",
                )
            ends: dict[str, str] = {}
            for end in ("head", "child"):
                end_node = entry[end][1]
                label = self.string(end_node, f"the {end} of {what}")
                if label not in entity_lines:
                    raise self.error(
                        end_node,
                        f"{what} names the {end} {label!r}, which is not an entity label of this scheme"
                        f"{_close(label, list(entity_lines))}",
                    )
                ends[end] = label
            if not relation.allows(ends["head"], ends["child"]):
                raise self.error(
                    item,
                    f"{what}: {relation.name} does not allow {ends['head']} -> {ends['child']} "
                    f"(head: {', '.join(relation.head)}; child: {', '.join(relation.child)})",
                )
            max_node = entry["max_tokens"][1]
            max_tokens = self.integer(max_node, f"max_tokens of {what}")
            if max_tokens < 0:
                raise self.error(max_node, f"max_tokens of {what} must be 0 or more, got {max_tokens}")
            order = "head_first"
            if "order" in entry:
                order_node = entry["order"][1]
                order = self.string(order_node, f"the order of {what}")
                if order not in RULE_ORDERS:
                    raise self.error(order_node, f"invalid order {order!r} in {what}: use one of {', '.join(RULE_ORDERS)}")
            rules.append(RelationRule(relation.name, ends["head"], ends["child"], max_tokens, order))
        return rules
