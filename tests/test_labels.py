"""labels.yaml -> LabelScheme: the default news scheme, its API, and every validation error with its line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotator import keymap
from annotator.errors import LabelSchemeError
from annotator.labels import (
    EntityLabel,
    LabelScheme,
    RelationLabel,
    default_scheme_path,
    find_scheme,
    load_scheme,
)

REPO = Path(__file__).resolve().parents[1]
D = textwrap.dedent


def more_entities(entities: str) -> str:
    """MINIMAL with more entity items (given as an indented snippet) appended to its list."""
    return MINIMAL + textwrap.indent(D(entities), "  ")

MINIMAL = """\
entities:
  - name: PERSON
    hotkey: p
    description: People
"""


def write(directory: Path, text: str, name: str = "labels.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_at(tmp_path: Path, text: str, line: int) -> str:
    """Load ``text`` as a scheme, expect a LabelSchemeError on ``line``; return the message."""
    path = write(tmp_path, text)
    with pytest.raises(LabelSchemeError) as info:
        load_scheme(path)
    error = info.value
    assert error.line == line, error.message
    assert error.message.startswith(f"{path}:{line}: "), error.message
    return error.message


@pytest.fixture(scope="module")
def default() -> LabelScheme:
    return load_scheme(REPO / "labels.yaml")


# ---------------------------------------------------------------------------------------------
# The default scheme


def test_packaged_copy_is_byte_identical():
    assert (REPO / "annotator" / "data" / "labels.yaml").read_bytes() == (REPO / "labels.yaml").read_bytes()
    assert default_scheme_path().read_bytes() == (REPO / "labels.yaml").read_bytes()


def test_default_scheme_entities(default):
    expected = {
        "PERSON": "p", "ORG": "o", "GPE": "g", "LOC": "i", "NORP": "n",
        "FAC": "f", "EVENT": "e", "DATE": "t", "WEAPON": "w", "ROLE": "s",
    }
    assert {name: default.entity(name).hotkey for name in expected} == expected
    assert default.version == 1
    assert default.model == "en_core_web_sm"
    assert default.allow_overlaps is False
    for label in default.entities:
        assert label.color.startswith("#") and len(label.color) == 7
        assert label.description and "\n" not in label.description
    assert len({label.color for label in default.entities}) == len(default.entities), "colours must differ"


def test_default_scheme_relations(default):
    expected = {
        "HAS_ROLE": (("PERSON",), ("ROLE",)),
        "MEMBER_OF": (("PERSON",), ("ORG", "GPE", "NORP")),
        "LOCATED_IN": (("PERSON", "ORG", "FAC", "EVENT", "LOC", "GPE"), ("GPE", "LOC", "FAC")),
        "SUPPLIES": (("GPE", "ORG", "PERSON"), ("WEAPON", "GPE", "ORG")),
        "ATTACKS": (("GPE", "ORG", "NORP", "PERSON", "WEAPON"), ("GPE", "LOC", "FAC", "ORG", "PERSON")),
        "MEETS_WITH": (("PERSON", "ORG", "GPE"), ("PERSON", "ORG", "GPE")),
        "SPEAKS_TO": (("PERSON", "ORG"), ("PERSON", "ORG")),
        "ROLE_OF": (("ROLE",), ("ORG", "GPE")),
        "HAPPENED_ON": (("EVENT",), ("DATE",)),
    }
    assert set(default.relation_names) == set(expected)
    for name, (head, child) in expected.items():
        relation = default.relation(name)
        assert (relation.head, relation.child) == (head, child), name
        assert relation.description
        assert relation.symmetric is (name == "MEETS_WITH")
    hotkeys = [relation.hotkey for relation in default.relations]
    assert len(set(hotkeys)) == len(hotkeys)
    assert set(hotkeys) <= set("1234567890")


def test_default_relation_rule_has_role(default):
    rule = next(r for r in default.relation_rules if r.relation == "HAS_ROLE")
    assert (rule.head, rule.child, rule.max_tokens, rule.order) == ("PERSON", "ROLE", 3, "any")
    for rule in default.relation_rules:
        assert default.relation(rule.relation).allows(rule.head, rule.child)


def test_default_hotkeys_unique_and_free(default):
    hotkeys = [label.hotkey for label in default.entities]
    assert len(set(hotkeys)) == len(hotkeys)
    reserved = keymap.reserved_keys()
    assert not set(hotkeys) & reserved
    assert default.keys == {action: keys for action, (keys, _d) in keymap.DEFAULT_KEYMAP.items()}


def test_default_label_map(default):
    for label in ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "DATE"):
        assert default.map_model_label(label) == label
    assert default.map_model_label("PRODUCT") == "WEAPON"
    for label in ("CARDINAL", "MONEY", "TIME", "WORK_OF_ART", "LAW", "LANGUAGE", "PERCENT", "QUANTITY", "ORDINAL"):
        assert label in default.label_map
        assert default.map_model_label(label) is None
    assert default.map_model_label("SOMETHING_ELSE") is None


def test_default_patterns_cover_seed_weapons_and_roles(default):
    patterns = default.patterns_for_spacy()
    assert {"label": "WEAPON", "pattern": "ATACMS"} in patterns
    assert {"label": "WEAPON", "pattern": "Army Tactical Missile Systems"} in patterns
    assert all(set(p) == {"label", "pattern"} for p in patterns)
    for p in patterns:
        assert isinstance(p["pattern"], str) or all(isinstance(t, dict) for t in p["pattern"])
    # The caller gets copies: mutating them does not change the scheme.
    token_pattern = next(p for p in patterns if not isinstance(p["pattern"], str))
    token_pattern["pattern"][0]["MUTATED"] = True
    assert all("MUTATED" not in t for p in default.patterns_for_spacy() if not isinstance(p["pattern"], str) for t in p["pattern"])


def test_default_patterns_match_seed_sentences_with_spacy(default):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(default.patterns_for_spacy())
    text = (
        "Ukraine Defense Minister Rustem Umerov pressed U.S. officials Friday. "
        "Ukraine has presented a list of targets to U.S. senior officials and hopes Washington will lift the "
        "restriction on the use of the Army Tactical Missile Systems (ATACMS). "
        "The military has used missiles and drones to destroy Russia's air bases. "
        "Moscow's precision-guided glide bombs. Kyiv has a small batch of long-range missiles. "
        "Ukrainian President Volodymyr Zelensky fired his air force commander after a pilot crashed an F-16 plane. "
        "Umerov met Defense Secretary Lloyd Austin and other defense officials."
    )
    found = {(ent.text, ent.label_) for ent in nlp(text).ents}
    for expected in [
        ("Defense Minister", "ROLE"),
        ("senior officials", "ROLE"),
        ("Army Tactical Missile Systems", "WEAPON"),
        ("ATACMS", "WEAPON"),
        ("missiles", "WEAPON"),
        ("drones", "WEAPON"),
        ("glide bombs", "WEAPON"),
        ("long-range missiles", "WEAPON"),
        ("President", "ROLE"),
        ("air force commander", "ROLE"),
        ("F-16", "WEAPON"),
        ("Defense Secretary", "ROLE"),
        ("defense officials", "ROLE"),
    ]:
        assert expected in found, expected


# ---------------------------------------------------------------------------------------------
# API


def test_minimal_scheme_defaults(tmp_path):
    scheme = load_scheme(write(tmp_path, MINIMAL))
    assert scheme.entity_names == ("PERSON",)
    assert scheme.relation_names == ()
    assert scheme.version == 1 and scheme.model == "en_core_web_sm" and scheme.allow_overlaps is False
    assert scheme.label_map == {} and scheme.relation_rules == ()
    assert scheme.entity("PERSON").color.startswith("#")  # an automatic colour
    assert scheme.path == str(tmp_path / "labels.yaml")


def test_map_model_label_semantics(tmp_path):
    scheme = load_scheme(write(tmp_path, """\
        label_map:
          PRODUCT: WEAPON
          GPE: null
          NORP: PERSON
        entities:
          - {name: PERSON, hotkey: p, description: People}
          - {name: GPE, hotkey: g, description: Places}
          - {name: WEAPON, hotkey: w, description: Weapons}
        """))
    assert scheme.map_model_label("PERSON") == "PERSON"  # unlisted scheme label maps to itself
    assert scheme.map_model_label("GPE") is None  # listed as null: dropped even though it is a label
    assert scheme.map_model_label("PRODUCT") == "WEAPON"
    assert scheme.map_model_label("NORP") == "PERSON"
    assert scheme.map_model_label("CARDINAL") is None  # unlisted, not a label: dropped


def test_model_null_means_patterns_only(tmp_path):
    scheme = load_scheme(write(tmp_path, "model: null\n" + MINIMAL))
    assert scheme.model is None


def test_colours_are_normalised(tmp_path):
    scheme = load_scheme(write(tmp_path, """\
        entities:
          - {name: A1, hotkey: "1", color: "#ABC", description: a}
          - {name: B2, hotkey: "2", color: "#12Ab9F", description: b}
          - {name: C3, hotkey: "3", color: Sky, description: c}
        """))
    assert [label.color for label in scheme.entities] == ["#aabbcc", "#12ab9f", "#74b9ff"]


def test_lookup_by_hotkey_and_key_name(tmp_path):
    scheme = load_scheme(write(tmp_path, """\
        keys:
          help: f1
        entities:
          - {name: PERSON, hotkey: p, description: People}
          - {name: QUERY, hotkey: "?", description: Questions}
        relations:
          - {name: KNOWS, hotkey: 1, description: Knows, head: PERSON, child: [PERSON]}
        """))
    assert scheme.entity_by_hotkey("p").name == "PERSON"
    assert scheme.entity_by_hotkey("P") is None  # case-sensitive
    assert scheme.entity_by_hotkey("?").name == "QUERY"
    assert scheme.entity_by_hotkey("question_mark").name == "QUERY"
    assert scheme.relation_by_hotkey("1").name == "KNOWS"  # a bare YAML int is read as its text
    assert scheme.relation_by_hotkey("p") is None
    assert scheme.relation("KNOWS").head == ("PERSON",)  # a single name is accepted for a list
    assert scheme.keys["help"] == "f1"
    assert scheme.keys["accept"] == "a,enter"


def test_rebinding_an_action_frees_its_key(tmp_path):
    scheme = load_scheme(write(tmp_path, """\
        keys:
          accept: enter
          next_relation: period
        entities:
          - {name: ANIMAL, hotkey: a, description: Animals}
        """))
    assert scheme.entity_by_hotkey("a").name == "ANIMAL"
    assert scheme.keys["accept"] == "enter"
    assert scheme.keys["next_relation"] == "full_stop"  # the friendly alias becomes Textual's name


def test_relation_allows_and_symmetric():
    directed = RelationLabel("SUPPLIES", "4", "#ffffff", "d", ("GPE",), ("WEAPON",), False)
    assert directed.allows("GPE", "WEAPON")
    assert not directed.allows("WEAPON", "GPE")
    symmetric = RelationLabel("MEETS", "6", "#ffffff", "d", ("PERSON",), ("ORG",), True)
    assert symmetric.allows("PERSON", "ORG") and symmetric.allows("ORG", "PERSON")
    assert not symmetric.allows("PERSON", "PERSON")


def test_with_extra_entities(default):
    extended = default.with_extra_entities(["PERSON", "MONEY", "LAW", "MONEY"])
    assert extended.entity_names == default.entity_names + ("MONEY", "LAW")
    money = extended.entity("MONEY")
    assert money.hotkey == "" and money.patterns == () and money.description
    used = {label.color for label in default.entities}
    assert money.color not in used and extended.entity("LAW").color not in used | {money.color}
    assert extended.entity_by_hotkey("") is None
    assert default.entity("MONEY") is None  # the original is unchanged
    assert default.with_extra_entities(["PERSON"]) is default
    assert extended.relations == default.relations and extended.keys == default.keys
    # imported data keeps its own label names
    assert default.with_extra_entities(["Protein"]).entity("Protein").name == "Protein"
    for bad in ["two words", "", "x" * 65]:
        with pytest.raises(LabelSchemeError, match="cannot add the label"):
            default.with_extra_entities([bad])
    rel = default.with_extra_relations(["Equiv"]).relation("Equiv")
    assert rel.allows("Protein", "Entity") and rel.allows("PERSON", "ORG")


def test_entity_labels_are_hashable(default):
    assert len({*default.entities, *default.relations, *default.relation_rules}) > 0
    assert isinstance(default.entities[0], EntityLabel)


# ---------------------------------------------------------------------------------------------
# find_scheme


def test_find_scheme_explicit_wins(tmp_path):
    write(tmp_path, MINIMAL)
    other = write(tmp_path, MINIMAL.replace("PERSON", "OTHER"), name="other.yaml")
    assert find_scheme(other, cwd=tmp_path).entity_names == ("OTHER",)
    assert find_scheme("other.yaml", cwd=tmp_path).entity_names == ("OTHER",)  # relative to cwd


def test_find_scheme_local_file_before_packaged(tmp_path):
    write(tmp_path, MINIMAL)
    assert find_scheme(cwd=tmp_path).entity_names == ("PERSON",)


def test_find_scheme_falls_back_to_packaged(tmp_path):
    scheme = find_scheme(cwd=tmp_path)
    assert Path(scheme.path) == default_scheme_path()
    assert "WEAPON" in scheme.entity_names


def test_find_scheme_uses_process_cwd(tmp_path, monkeypatch):
    write(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path)
    assert find_scheme().entity_names == ("PERSON",)


def test_find_scheme_explicit_missing_is_an_error(tmp_path):
    write(tmp_path, MINIMAL)
    with pytest.raises(LabelSchemeError, match="not found"):
        find_scheme(tmp_path / "missing.yaml", cwd=tmp_path)


# ---------------------------------------------------------------------------------------------
# Validation: every error names the file and the line


def test_error_file_not_found(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(LabelSchemeError) as info:
        load_scheme(path)
    assert info.value.path == str(path) and info.value.line is None
    assert str(info.value) == f"{path}: label scheme not found (no such file)"


def test_error_directory(tmp_path):
    with pytest.raises(LabelSchemeError, match="directory"):
        load_scheme(tmp_path)


def test_error_not_utf8(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_bytes(b"entities:\n  - name: PERSON\n    description: caf\xe9\n")
    with pytest.raises(LabelSchemeError) as info:
        load_scheme(path)
    assert info.value.line == 3
    assert "UTF-8" in info.value.problem


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_scheme(path).entity_names == ("PERSON",)


def test_error_yaml_syntax(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            description: People: all of them
        """, 4)
    assert "YAML syntax error" in message


def test_error_yaml_unclosed_bracket(tmp_path):
    error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: [p
            description: People

        """, 4)


def test_error_yaml_control_character(tmp_path):
    assert "special characters are not allowed (U+0007)" in error_at(tmp_path, MINIMAL + "  - {name: ORG, hotkey: o, description: \x07}\n", 5)


def test_error_yaml_unknown_tag(tmp_path):
    assert "'!weird'" in error_at(tmp_path, MINIMAL + "    patterns:\n      - [{LOWER: !weird x}]\n", 6)


def test_error_top_level_not_mapping(tmp_path):
    assert "must be a mapping" in error_at(tmp_path, "- PERSON\n- ORG\n", 1)


def test_error_empty_file(tmp_path):
    assert "empty" in error_at(tmp_path, "# nothing but a comment\n", 1)


def test_error_unknown_top_level_key(tmp_path):
    message = error_at(tmp_path, MINIMAL + "allow_overlap: true\n", 5)
    assert "unknown key 'allow_overlap'" in message
    assert "did you mean 'allow_overlaps'" in message
    assert "allowed: version, model, label_map, allow_overlaps, entities, relations, relation_rules, keys" in message


def test_error_unknown_entity_key(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            colour: red
            description: People
        """, 4)
    assert "unknown key 'colour' in entity label PERSON" in message and "did you mean 'color'" in message


def test_error_missing_entities(tmp_path):
    assert "missing the required key 'entities'" in error_at(tmp_path, "version: 1\nmodel: null\n", 1)


def test_error_missing_entity_description(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            description: People
          - name: ORG
            hotkey: o
        """, 5)
    assert "entity label ORG is missing the required key 'description'" in message


def test_error_missing_relation_head(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - name: KNOWS
            hotkey: 1
            description: Knows
            child: [PERSON]
        """), 6)
    assert "missing the required key 'head'" in message


def test_error_wrong_type_bool(tmp_path):
    message = error_at(tmp_path, MINIMAL + "allow_overlaps: sometimes\n", 5)
    assert "allow_overlaps must be true or false, got the text 'sometimes'" in message


def test_error_wrong_type_entities_not_a_list(tmp_path):
    assert "entities must be a list, got a mapping" in error_at(tmp_path, "entities:\n  PERSON: p\n", 2)


def test_error_wrong_type_entity_not_a_mapping(tmp_path):
    assert "must be a mapping" in error_at(tmp_path, MINIMAL + "  - ORG\n", 5)


def test_error_wrong_type_version(tmp_path):
    assert "version must be a whole number" in error_at(tmp_path, 'version: "1"\n' + MINIMAL, 1)


def test_error_unsupported_version(tmp_path):
    assert "unsupported version 2" in error_at(tmp_path, "version: 2\n" + MINIMAL, 1)


def test_error_wrong_type_description(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            description: [People]
        """, 4)
    assert "description of PERSON must be text, got a list" in message


def test_error_multiline_description(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            description: |
              People
              and more
        """, 4)
    assert "one line" in message


def test_error_wrong_type_model(tmp_path):
    assert "model" in error_at(tmp_path, "model: 3\n" + MINIMAL, 1)


def test_error_empty_scheme(tmp_path):
    message = error_at(tmp_path, "model: null\nentities: []\n", 2)
    assert "no entity labels" in message


def test_error_empty_scheme_null(tmp_path):
    message = error_at(tmp_path, "model: null\nentities:\n", 2)
    assert "entities must be a list" in message


def test_error_invalid_label_name(tmp_path):
    message = error_at(tmp_path, more_entities("""\
          - name: Organisation
            hotkey: o
            description: Organisations
        """), 5)
    assert "invalid label name 'Organisation'" in message and "UPPER_SNAKE" in message


def test_error_invalid_relation_name(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - name: has-role
            hotkey: 1
            description: d
            head: [PERSON]
            child: [PERSON]
        """), 6)
    assert "invalid label name 'has-role'" in message


def test_error_duplicate_label_name(tmp_path):
    message = error_at(tmp_path, more_entities("""\
          - name: ORG
            hotkey: o
            description: Organisations
          - name: PERSON
            hotkey: q2
            description: People again
        """), 8)
    assert "duplicate entity label PERSON (first defined on line 2)" in message


def test_error_duplicate_relation_name(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - {name: KNOWS, hotkey: 1, description: d, head: [PERSON], child: [PERSON]}
          - {name: KNOWS, hotkey: 2, description: d, head: [PERSON], child: [PERSON]}
        """), 7)
    assert "duplicate relation label KNOWS (first defined on line 6)" in message


@pytest.mark.parametrize("hotkey", ["pp", "''", "' '", "'\\t'"])
def test_error_invalid_hotkey(tmp_path, hotkey):
    message = error_at(tmp_path, f"""\
        entities:
          - name: PERSON
            description: People
            hotkey: {hotkey}
        """, 4)
    assert "invalid hotkey" in message or "must be" in message


def test_error_hotkey_hash_unquoted(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            description: People
            hotkey: #
        """, 4)
    assert "hotkey of PERSON is empty" in message and "quoted" in message


def test_error_hotkey_wrong_type(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            description: People
            hotkey: true
        """, 4)
    assert "hotkey of PERSON must be text" in message


def test_error_duplicate_hotkey(tmp_path):
    message = error_at(tmp_path, more_entities("""\
          - name: PLACE
            hotkey: p
            description: Places
        """), 6)
    assert "duplicate hotkey 'p' for PLACE (already used by PERSON)" in message


def test_hotkeys_are_case_sensitive(tmp_path):
    scheme = load_scheme(write(tmp_path, MINIMAL + "  - {name: PLACE, hotkey: P, description: Places}\n"))
    assert scheme.entity_by_hotkey("P").name == "PLACE"


def test_error_duplicate_relation_hotkey(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - {name: KNOWS, hotkey: 1, description: d, head: [PERSON], child: [PERSON]}
          - {name: LIKES, hotkey: "1", description: d, head: [PERSON], child: [PERSON]}
        """), 7)
    assert "duplicate relation hotkey '1' for LIKES (already used by KNOWS)" in message


def test_relation_hotkeys_are_their_own_namespace(tmp_path):
    scheme = load_scheme(write(tmp_path, MINIMAL + D("""\
        relations:
          - {name: KNOWS, hotkey: p, description: d, head: [PERSON], child: [PERSON]}
          - {name: LIKES, hotkey: a, description: d, head: [PERSON], child: [PERSON]}
        """)))
    assert scheme.relation_by_hotkey("p").name == "KNOWS"


def test_error_hotkey_reserved_by_action(tmp_path):
    message = error_at(tmp_path, more_entities("""\
          - name: ANIMAL
            hotkey: a
            description: Animals
        """), 6)
    assert "hotkey 'a' for ANIMAL is the key of the action 'accept'" in message
    assert "rebind accept under 'keys'" in message


@pytest.mark.parametrize(
    ("hotkey", "action"), [("'?'", "help"), ("'['", "prev_sentence"), ("':'", "goto"), ("'.'", "next_relation"), ("','", "prev_relation")]
)
def test_error_hotkey_reserved_punctuation(tmp_path, hotkey, action):
    message = error_at(tmp_path, more_entities(f"""\
          - name: OTHER
            description: Other
            hotkey: {hotkey}
        """), 7)
    assert f"the action '{action}'" in message


def test_error_invalid_colour(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            color: chartreuse
            description: People
        """, 4)
    assert "invalid color 'chartreuse' for PERSON" in message and "#rrggbb" in message


@pytest.mark.parametrize("color", ["'#12345'", "'#ggg'", "'ff0000'"])
def test_error_invalid_hex_colour(tmp_path, color):
    error_at(tmp_path, f"entities:\n  - name: PERSON\n    hotkey: p\n    description: People\n    color: {color}\n", 5)


def test_error_colour_hash_unquoted(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            color: #ff0000
            description: People
        """, 4)
    assert "quote hex colours" in message


def test_error_relation_head_unknown_entity(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - name: KNOWS
            hotkey: 1
            description: Knows
            head:
              - PERSON
              - PERSN
            child: [PERSON]
        """), 11)
    assert "the head of KNOWS names 'PERSN', which is not an entity label" in message
    assert "did you mean 'PERSON'" in message


def test_error_relation_child_unknown_entity(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - name: KNOWS
            hotkey: 1
            description: Knows
            head: [PERSON]
            child: [ORG]
        """), 10)
    assert "the child of KNOWS names 'ORG'" in message


def test_error_relation_empty_child(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - {name: KNOWS, hotkey: 1, description: d, head: [PERSON],
             child: []}
        """), 7)
    assert "at least one entity label" in message


def test_error_relation_symmetric_wrong_type(tmp_path):
    message = error_at(tmp_path, MINIMAL + D("""\
        relations:
          - {name: KNOWS, hotkey: 1, description: d, head: [PERSON], child: [PERSON],
             symmetric: maybe}
        """), 7)
    assert "symmetric of KNOWS must be true or false" in message


def test_error_label_map_target_unknown(tmp_path):
    message = error_at(tmp_path, """\
        label_map:
          PERSON: PERSON
          PRODUCT: WEAPONS
        entities:
          - {name: PERSON, hotkey: p, description: People}
          - {name: WEAPON, hotkey: w, description: Weapons}
        """, 3)
    assert "label_map maps PRODUCT to 'WEAPONS', which is not an entity label" in message
    assert "did you mean 'WEAPON'" in message


def test_error_label_map_not_a_mapping(tmp_path):
    assert "label_map must be a mapping" in error_at(tmp_path, "label_map: [PERSON]\n" + MINIMAL, 1)


RULE_BASE = MINIMAL + """\
  - {name: ROLE, hotkey: s, description: Roles}
relations:
  - {name: HAS_ROLE, hotkey: 1, description: d, head: [PERSON], child: [ROLE]}
  - {name: MEETS, hotkey: 2, description: d, head: [PERSON], child: [ROLE], symmetric: true}
relation_rules:
"""


def test_relation_rules_parse(tmp_path):
    scheme = load_scheme(write(tmp_path, RULE_BASE + """\
  - {relation: HAS_ROLE, head: PERSON, child: ROLE, max_tokens: 3, order: any}
  - {relation: MEETS, head: ROLE, child: PERSON, max_tokens: 0}
"""))
    first, second = scheme.relation_rules
    assert (first.relation, first.head, first.child, first.max_tokens, first.order) == ("HAS_ROLE", "PERSON", "ROLE", 3, "any")
    assert (second.order, second.head) == ("head_first", "ROLE")  # symmetric: reversed ends allowed


def test_error_relation_rule_unknown_relation(tmp_path):
    message = error_at(tmp_path, RULE_BASE + """\
  - relation: HAS_ROLES
    head: PERSON
    child: ROLE
    max_tokens: 3
""", 10)
    assert "relation rule #1 names the relation 'HAS_ROLES', which is not a relation" in message


def test_error_relation_rule_head_not_allowed(tmp_path):
    message = error_at(tmp_path, RULE_BASE + """\
  - relation: HAS_ROLE
    head: PERSON
    child: ROLE
    max_tokens: 3
  - relation: HAS_ROLE
    head: ROLE
    child: PERSON
    max_tokens: 3
""", 14)
    assert "relation rule #2: HAS_ROLE does not allow ROLE -> PERSON" in message


def test_error_relation_rule_unknown_entity(tmp_path):
    message = error_at(tmp_path, RULE_BASE + """\
  - relation: HAS_ROLE
    head: PERSON
    child: TITLE
    max_tokens: 3
""", 12)
    assert "names the child 'TITLE', which is not an entity label" in message


def test_error_relation_rule_negative_max_tokens(tmp_path):
    message = error_at(tmp_path, RULE_BASE + """\
  - relation: HAS_ROLE
    head: PERSON
    child: ROLE
    max_tokens: -1
""", 13)
    assert "must be 0 or more" in message


def test_error_relation_rule_max_tokens_wrong_type(tmp_path):
    message = error_at(tmp_path, RULE_BASE + "  - {relation: HAS_ROLE, head: PERSON, child: ROLE, max_tokens: true}\n", 10)
    assert "max_tokens of relation rule #1 must be a whole number, got the boolean true" in message


def test_error_relation_rule_bad_order(tmp_path):
    message = error_at(tmp_path, RULE_BASE + """\
  - relation: HAS_ROLE
    head: PERSON
    child: ROLE
    max_tokens: 3
    order: before
""", 14)
    assert "invalid order 'before'" in message and "head_first, child_first, any" in message


def test_error_keys_unknown_binding_id(tmp_path):
    message = error_at(tmp_path, D("""\
        keys:
          accept: enter
          acept: a
        """) + MINIMAL, 3)
    assert "unknown binding id 'acept'" in message and "did you mean 'accept'" in message


def test_error_keys_same_key_for_two_actions(tmp_path):
    message = error_at(tmp_path, D("""\
        keys:
          help: f1
          accept: x,enter
        """) + MINIMAL, 3)
    assert "key 'x' is bound to both accept and reject" in message


def test_error_keys_two_overrides_clash(tmp_path):
    message = error_at(tmp_path, D("""\
        keys:
          help: f1
          reject: f2
          skip: f1
        """) + MINIMAL, 4)
    assert "key 'f1' is bound to both skip and help" in message or "help and skip" in message


def test_error_keys_character_and_name_clash(tmp_path):
    # "?" and "question_mark" are the same key.
    message = error_at(tmp_path, "keys:\n  search: '?'\n" + MINIMAL, 2)
    assert "bound to both" in message


def test_review_keys_rebind_review_actions_only(tmp_path):
    # Each screen has its own keys: e stays EVENT's hotkey while it edits on the review screen.
    scheme = load_scheme(write(tmp_path, "review_keys:\n  reject: r\n  next: n,pagedown\n" + MINIMAL.replace("hotkey: p", "hotkey: e")))
    assert scheme.review_keys["reject"] == "r" and scheme.review_keys["next"] == "n,pagedown"
    assert scheme.review_keys["edit"] == "e" and scheme.entity_by_hotkey("e").name == "PERSON"
    assert scheme.keys["reject"] == "x"  # the annotate screen's reject is untouched
    assert load_scheme(write(tmp_path, MINIMAL)).review_keys == {a: k for a, (k, _d) in keymap.REVIEW_KEYMAP.items()}


def test_error_review_keys_unknown_id(tmp_path):
    message = error_at(tmp_path, D("""\
        review_keys:
          reject: r
          rejet: f2
        """) + MINIMAL, 3)
    assert "unknown binding id 'rejet' in review_keys" in message and "did you mean 'reject'" in message


def test_error_review_keys_clash(tmp_path):
    message = error_at(tmp_path, D("""\
        review_keys:
          help: f1
          toggle_agreed: x
        """) + MINIMAL, 3)
    assert "key 'x' is bound to both reject and toggle_agreed" in message


def test_error_review_keys_clash_with_the_version_digits(tmp_path):
    message = error_at(tmp_path, "review_keys:\n  select_next: '2'\n" + MINIMAL, 2)
    assert "key '2' is bound to both take and select_next" in message


def test_error_review_keys_take_is_fixed(tmp_path):
    message = error_at(tmp_path, "review_keys:\n  take: a\n" + MINIMAL, 2)
    assert "take in review_keys cannot be rebound" in message


def test_error_keys_wrong_type(tmp_path):
    assert "keys of accept" in error_at(tmp_path, "keys:\n  accept: [a, enter]\n" + MINIMAL, 2)


def test_error_keys_empty(tmp_path):
    assert "no key given for accept" in error_at(tmp_path, "keys:\n  accept: ''\n" + MINIMAL, 2)


def test_error_duplicate_yaml_key(tmp_path):
    message = error_at(tmp_path, """\
        entities:
          - name: PERSON
            hotkey: p
            description: People
            hotkey: q
        """, 5)
    assert "duplicate key 'hotkey'" in message and "first given on line 3" in message


def test_error_duplicate_top_level_yaml_key(tmp_path):
    message = error_at(tmp_path, MINIMAL + "entities:\n  - {name: ORG, hotkey: o, description: Orgs}\n", 5)
    assert "duplicate key 'entities'" in message


def test_error_duplicate_label_map_key(tmp_path):
    message = error_at(tmp_path, "label_map:\n  PRODUCT: null\n  PRODUCT: PERSON\n" + MINIMAL, 3)
    assert "duplicate key 'PRODUCT' in label_map" in message


def test_error_pattern_wrong_shape(tmp_path):
    message = error_at(tmp_path, MINIMAL + """\
    patterns:
      - Alex Marquardt
      - [{LOWER: alex}, marquardt]
""", 7)
    assert "must be a mapping" in message


def test_error_pattern_mapping_instead_of_list(tmp_path):
    message = error_at(tmp_path, MINIMAL + """\
    patterns:
      - {LOWER: alex}
""", 6)
    assert "a phrase, or a list of token dicts" in message


def test_error_pattern_empty_token_list(tmp_path):
    assert "empty token pattern" in error_at(tmp_path, MINIMAL + "    patterns:\n      - []\n", 6)


def test_error_pattern_unquoted_yaml_boolean(tmp_path):
    message = error_at(tmp_path, MINIMAL + """\
    patterns:
      - [{LOWER: yes}]
""", 6)
    assert "LOWER in a pattern of PERSON must be text" in message and "quote it" in message


def test_error_pattern_bad_op(tmp_path):
    message = error_at(tmp_path, MINIMAL + """\
    patterns:
      - [{LOWER: mr, OP: maybe}, {IS_TITLE: true}]
""", 6)
    assert "invalid OP 'maybe'" in message


def test_error_pattern_token_keys_not_text(tmp_path):
    assert "must be text" in error_at(tmp_path, MINIMAL + "    patterns:\n      - [{1: a}]\n", 6)


def test_error_pattern_alias_loop(tmp_path):
    assert "refers to itself" in error_at(tmp_path, MINIMAL + "    patterns:\n      - &loop [{LOWER: {IN: *loop}}]\n", 6)


def test_patterns_parse(tmp_path):
    scheme = load_scheme(write(tmp_path, MINIMAL + """\
    patterns:
      - Alex Marquardt
      - [{LOWER: {IN: [mr, ms]}, OP: "?"}, {IS_TITLE: true}]
"""))
    assert scheme.patterns_for_spacy() == [
        {"label": "PERSON", "pattern": "Alex Marquardt"},
        {"label": "PERSON", "pattern": [{"LOWER": {"IN": ["mr", "ms"]}, "OP": "?"}, {"IS_TITLE": True}]},
    ]


# ---------------------------------------------------------------------------------------------
# keymap


def test_default_keymap_ids_and_keys():
    assert keymap.DEFAULT_KEYMAP["accept"][0] == "a,enter"
    assert keymap.DEFAULT_KEYMAP["confirm_span"][0] == "c"
    assert keymap.DEFAULT_KEYMAP["help"][0] == "question_mark"
    assert keymap.DEFAULT_KEYMAP["next_relation"][0] == "full_stop"  # Textual's name for "."
    assert keymap.DEFAULT_KEYMAP["prev_relation"][0] == "comma"
    assert set(keymap.DEFAULT_KEYMAP) == {
        "accept", "reject", "skip", "undo", "quit", "cursor_left", "cursor_right", "extend_left", "extend_right",
        "next_span", "prev_span", "delete_span", "confirm_span", "clear_selection", "prev_sentence",
        "next_sentence", "goto", "search", "help", "toggle_context", "relation_mode", "next_relation",
        "prev_relation", "delete_relation", "reverse_relation", "relabel_relation",
        "sentence_start", "sentence_end", "next_word", "prev_word", "find_next", "find_prev", "next_gap",
        "prev_gap", "extend_word_right", "extend_word_left", "extend_find_next", "extend_find_prev", "select_run",
        "split_span", "start_left", "start_right", "end_left", "end_right",
    }
    for keys, description in keymap.DEFAULT_KEYMAP.values():
        assert keys and description and "\n" not in description


def test_default_keymap_has_no_clashes():
    clashes = {key: actions for key, actions in keymap.key_actions().items() if len(actions) > 1}
    assert clashes == {}


def test_reserved_keys():
    reserved = keymap.reserved_keys()
    assert {"a", "enter", "x", "space", "shift+left", "ctrl+d", "pageup", "[", "]"} <= reserved
    assert {"question_mark", "?", "colon", ":", "slash", "/", "full_stop", ".", "comma", ","} <= reserved
    assert "p" not in reserved
    overridden = keymap.reserved_keys({"accept": "enter"})
    assert "a" not in overridden and "enter" in overridden
    with pytest.raises(ValueError):
        keymap.reserved_keys({"nonsense": "z"})


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("question_mark", "?"), ("colon", ":"), ("slash", "/"), ("space", "space"), ("shift+left", "shift+←"),
        ("pageup", "PgUp"), ("period", "."), ("full_stop", "."), ("comma", ","), ("a", "a"), ("ctrl+d", "ctrl+d"),
        ("left_square_bracket", "["), ("[", "["),
    ],
)
def test_key_display(key, shown):
    assert keymap.key_display(key) == shown


def test_key_name_matches_textual_when_available():
    keys = pytest.importorskip("textual.keys")
    for character in "?:/.,[]a1#-+@_\\":
        assert keymap.key_name(character) == keys._character_to_key(character), character


# ---------------------------------------------------------------------------------------------
# Import hygiene


def test_import_does_not_load_spacy_or_textual():
    code = (
        "import sys, annotator.labels, annotator.keymap\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('spacy', 'textual', 'thinc'))\n"
        "print(','.join(heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_libyaml_and_the_pure_parser_give_the_same_scheme(tmp_path, monkeypatch):
    import yaml

    from annotator.labels import load_scheme

    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    edited = tmp_path / "labels.yaml"
    edited.write_text(
        (REPO / "labels.yaml").read_text(encoding="utf-8").replace("hotkey: 1", "hotkey: '1'", 1)
        + "\n# a comment at the end\n",
        encoding="utf-8",
    )
    fast = [load_scheme(REPO / "labels.yaml"), load_scheme(edited)]
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert [load_scheme(REPO / "labels.yaml"), load_scheme(edited)] == fast
