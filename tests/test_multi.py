"""Several annotators: concurrent processes, agreement figures by hand, review --auto, gold export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, SEED, run_cli

WRITER = r"""
import sys, time
from annotator.model import Span
from annotator.store import Store

db, annotator, plan = sys.argv[1], sys.argv[2], sys.argv[3]
with Store(db) as store:
    for item in plan.split(";"):
        position, answer, *labels = item.split(",")
        sentence = store.sentence_at("demo", int(position)).sentence
        spans = []
        for entry in labels:
            word, label = entry.split("=")
            start = sentence.text.index(word)
            end = start + len(word)
            first = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
            last = next(i for i, t in enumerate(sentence.tokens) if t.end == end)
            spans.append(Span(start, end, label, first, last))
        store.add_decision(sentence, annotator=annotator, answer=answer, spans=spans, session=annotator)
        time.sleep(0.01)
"""

ALICE = "3,accept,Rustem Umerov=PERSON,Kyiv=GPE;4,accept,CNN=ORG;5,accept,Umerov=PERSON"
BOB = "3,accept,Rustem Umerov=PERSON,Kyiv=PERSON;4,accept,CNN=ORG;5,reject"


def make_two_annotators(tmp_path: Path) -> Path:
    db = tmp_path / "two.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, plan], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for name, plan in (("alice", ALICE), ("bob", BOB))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    return db


def test_agreement_matches_hand_computation(tmp_path):
    db = make_two_annotators(tmp_path)
    result = run_cli("agreement", "demo", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n_sentences"] == 3
    pair = data["spans"]["pairs"][0]
    assert (pair["a"], pair["b"]) == ("alice", "bob")
    # Spans compare on sentences both accepted (3 and 4): alice {Umerov PER, Kyiv GPE, CNN ORG},
    # bob {Umerov PER, Kyiv PER, CNN ORG}: tp 2, fp 1, fn 1 -> P = R = F1 = 2/3.
    exact = pair["exact"]["micro"]
    assert (exact["tp"], exact["fp"], exact["fn"]) == (2, 1, 1)
    assert abs(exact["f1"] - 2 / 3) < 1e-12
    # Per label: PERSON (bob has an extra Kyiv PERSON): tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3.
    person = pair["exact"]["per_label"]["PERSON"]
    assert abs(person["precision"] - 0.5) < 1e-12 and person["recall"] == 1.0
    # GPE: bob has none: tp 0, fn 1 -> recall 0.
    assert pair["exact"]["per_label"]["GPE"]["recall"] == 0.0
    # Overlap match: Kyiv overlaps but with another label, so the same numbers.
    assert abs(pair["overlap"]["micro"]["f1"] - 2 / 3) < 1e-12
    # Answers over sentences 3, 4, 5: agree, agree, accept vs reject -> observed 2/3.
    answers = data["answers"]["pairs"][0]
    assert abs(answers["observed"] - 2 / 3) < 1e-12
    # Token kappa cross-checked with sklearn on the same token labels.
    from sklearn.metrics import cohen_kappa_score

    from annotator.agreement import token_labels
    from annotator.store import Store

    with Store(db) as store:
        a_labels, b_labels = [], []
        for position in (3, 4):
            sentence = store.sentence_at("demo", position).sentence
            a = store.current_decision(sentence.id, "alice")
            b = store.current_decision(sentence.id, "bob")
            a_map = token_labels(a.spans, len(sentence.tokens))
            b_map = token_labels(b.spans, len(sentence.tokens))
            a_labels += [a_map.get(i, "O") for i in range(len(sentence.tokens))]
            b_labels += [b_map.get(i, "O") for i in range(len(sentence.tokens))]
    token_pair = data["tokens"]["pairs"][0]
    assert abs(token_pair["kappa"] - cohen_kappa_score(a_labels, b_labels)) < 1e-9
    text = run_cli("agreement", "demo", "--db", str(db))
    assert text.returncode == 0 and "alice / bob" in text.stdout and "Fleiss" in text.stdout


def test_auto_review_and_gold_export(tmp_path):
    db = make_two_annotators(tmp_path)
    carol = subprocess.run([sys.executable, "-c", WRITER, str(db), "carol", "3,accept,Rustem Umerov=PERSON,Kyiv=GPE;5,reject"],
                           cwd=ROOT, capture_output=True, text=True)
    assert carol.returncode == 0, carol.stderr
    result = run_cli("review", "demo", "--auto", "majority", "--reviewer", "rev", "--db", str(db))
    assert result.returncode == 0, result.stderr
    # 4: alice+bob agree; 3: alice+carol (2 of 3) beat bob; 5: bob+carol reject beat alice
    assert "1 sentence where all agreed and 2 majority decisions" in result.stdout
    out = tmp_path / "gold"
    exported = run_cli("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "from gold" in exported.stdout
    records = [json.loads(line) for line in (out / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2  # sentences 3 and 4 accepted; 5 rejected
    labels = {(r["text"][s["start"]:s["end"]], s["label"]) for r in records for s in r["spans"]}
    assert ("Kyiv", "GPE") in labels and ("Kyiv", "PERSON") not in labels
    again = run_cli("review", "demo", "--auto", "majority", "--reviewer", "rev", "--db", str(db))
    assert "3 were gold already" in again.stdout


def _kyiv(sentence, label: str):
    from annotator.model import Span

    start = sentence.text.index("Kyiv")
    first = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
    return Span(start, start + 4, label, first, first)


def test_merge_of_superseding_decisions_names_the_latest(tmp_path):
    """A source whose later decisions supersede earlier ones (in the same merge, and after an
    earlier merge brought the first ones): the target's current, show, stats, export and check
    all name the latest decision."""
    from annotator.store import Store

    source = tmp_path / "alice.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(source), "--no-model").returncode == 0
    with Store(source) as store:
        third = store.sentence_at("demo", 3).sentence
        fourth = store.sentence_at("demo", 4).sentence
        store.add_decision(third, annotator="alice", answer="accept", spans=[_kyiv(third, "GPE")])
        store.add_decision(fourth, annotator="alice", answer="accept")
        store.add_decision(fourth, annotator="alice", answer="reject")  # superseded within one merge
    target = tmp_path / "target.db"
    first = run_cli("merge", str(target), str(source))
    assert first.returncode == 0, first.stderr
    assert f"{source}: 1 dataset, 1 article, 22 sentences" in first.stdout and "3 decisions merged" in first.stdout
    with Store(source) as store:  # alice corrects herself after the first merge
        third = store.sentence_at("demo", 3).sentence
        store.add_decision(third, annotator="alice", answer="accept", spans=[_kyiv(third, "LOC")])
    second = run_cli("merge", str(target), str(source))
    assert second.returncode == 0, second.stderr
    assert "0 articles" in second.stdout and "1 decision merged" in second.stdout
    with Store(target) as store:
        third = store.sentence_at("demo", 3).sentence
        fourth = store.sentence_at("demo", 4).sentence
        assert [h.spans[0].label for h in store.history(third.id, "alice")] == ["GPE", "LOC"]
        latest = store.current_decision(third.id, "alice")
        assert latest.spans[0].label == "LOC" and latest.supersedes == store.history(third.id, "alice")[0].id
        current = {(s.position, d.answer, tuple(x.label for x in d.spans)) for s, d in store.current_decisions("demo")}
        assert current == {(3, "accept", ("LOC",)), (4, "reject", ())}
        assert store.verify("demo").ok
    stats = json.loads(run_cli("stats", "demo", "--db", str(target), "--json").stdout)
    assert stats["spans_per_label"] == {"LOC": 1}
    assert stats["decisions_per_annotator"] == {"alice": {"accept": 1, "reject": 1}}
    shown = run_cli("show", "demo", "--db", str(target), "--annotator", "alice", "--from", "3", "--limit", "2")
    assert shown.returncode == 0 and "Kyiv LOC" in shown.stdout and "GPE" not in shown.stdout and "reject" in shown.stdout
    out = tmp_path / "out"
    exported = run_cli("export", "demo", "--format", "jsonl", "--answers", "accept,reject", "--db", str(target), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in (out / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["answer"], [sp["label"] for sp in r["spans"]]) for r in records] == [("accept", ["LOC"]), ("reject", [])]
    checked = run_cli("check", "demo", "--db", str(target))
    assert checked.returncode == 0 and "database: ok" in checked.stdout, checked.stdout + checked.stderr
