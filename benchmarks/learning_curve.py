"""Learning curve of ``annotate --order document`` against ``--order uncertain``.

A simulated annotator answers from a public NER sample's own annotations (the two Prodigy
``ner.manual`` exports in ../shared/data/prodigy, FASHION_BRAND and DRUG, read with the project's
Prodigy reader and shuffled together with a fixed seed). A fixed held-out part is never offered.
The rest is the pool the annotator works through, one block at a time:

* ``document``: the next block in the pool's order;
* ``uncertain``: the block of undecided sentences with the highest :func:`annotator.queue_order.disagreement`
  between the suggestion sources there are: the pipelines trained after the last two blocks, as
  ``annotator train`` + ``annotator suggest`` would store them (ties in pool order; one window, as the
  pool is smaller than :data:`~annotator.queue_order.DEFAULT_WINDOW`). The first two blocks go in
  pool order for both (no two trained sources exist yet).

After each block both runs retrain from blank with :func:`annotator.train.train` (spaCy's loop) on
everything annotated so far and are scored (micro F1 over the labels, as ``train`` reports it)
on the held-out part, which is also spaCy's dev set for picking ``model-best`` (the same for both orders).

    .venv/bin/python benchmarks/learning_curve.py [--block 80] [--rounds 5] [--max-steps 400]   # ~11 min
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotator.formats.prodigy import read_prodigy  # noqa: E402
from annotator.labels import load_scheme  # noqa: E402
from annotator.model import Suggestion  # noqa: E402
from annotator.queue_order import disagreement, uncertain_order  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "prodigy"
FILES = ("prodigy_ner_fashion_brands_eval.jsonl", "prodigy_ner_drugs_eval.jsonl")


def load(seed: int):
    examples = []
    for name in FILES:
        for example in read_prodigy(DATA / name):
            if example.answer == "accept" and example.tokens:
                examples.append(example)
    random.Random(seed).shuffle(examples)
    for index, example in enumerate(examples):
        example.meta["article_id"] = index  # one "article" per record (train() reports article counts)
    return examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results-learning-curve.json")
    args = parser.parse_args()

    from annotator.resuggest import load_model, model_spans
    from annotator.train import TrainingData, train

    examples = load(args.seed)
    held_out, pool = examples[: args.held_out], examples[args.held_out :]
    labels = sorted({s.label for e in examples for s in e.spans})
    scheme = load_scheme(ROOT / "labels.yaml").with_extra_entities(labels)
    scheme = dataclasses.replace(scheme, allow_overlaps=False)  # NER only: the sample's spans never overlap
    print(f"{len(examples)} accepted records ({', '.join(labels)}): held out {len(held_out)}, pool {len(pool)}", flush=True)

    curves: dict[str, list[dict]] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        for order in ("document", "uncertain"):
            annotated: list[int] = []
            sources: list[list[tuple]] = []  # per trained model: its spans per pool index
            rows = []
            for round_ in range(1, args.rounds + 1):
                undecided = [i for i in range(len(pool)) if i not in set(annotated)]
                if order == "uncertain" and len(sources) >= 2:
                    scored = []
                    for i in undecided:
                        suggestions = [Suggestion(i, f"trained-{k}", spans[i]) for k, spans in enumerate(sources[-2:])]
                        scored.append((i, disagreement(suggestions)))
                    block = uncertain_order(scored)[: args.block]
                else:
                    block = undecided[: args.block]
                annotated += block
                data = TrainingData("curve", "simulated", [pool[i] for i in annotated], held_out)
                result = train(data, scheme, Path(work) / order, base="blank", max_steps=args.max_steps,
                               eval_frequency=max(1, args.max_steps // 3), seed=args.seed, compare_base=False)
                trained = result.trained  # score_on_dev on the held-out part, inside train()
                if order == "uncertain" and round_ < args.rounds:
                    nlp = load_model(str(result.model_path))
                    sources.append([tuple(spans) for spans in model_spans(nlp, ((e.text, e.tokens) for e in pool), scheme, "trained")])
                row = {"sentences": len(annotated), "spans": sum(len(pool[i].spans) for i in annotated),
                       "p": trained.micro.precision, "r": trained.micro.recall, "f1": trained.micro.f1,
                       "per_label_f1": {k: v.f1 for k, v in trained.per_label.items()},
                       "seconds": round(time.monotonic() - started)}
                rows.append(row)
                print(order, json.dumps(row), flush=True)
            curves[order] = rows
    args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json.name)}, "labels": labels,
                                     "held_out": len(held_out), "pool": len(pool), "curves": curves}, indent=2) + "\n")
    print(table(curves))
    print(text_plot(curves))


def table(curves: dict[str, list[dict]]) -> str:
    lines = ["| sentences annotated | document F1 | uncertain F1 | document spans | uncertain spans |", "|---|---|---|---|---|"]
    for doc, unc in zip(curves["document"], curves["uncertain"]):
        lines.append(f"| {doc['sentences']} | {doc['f1']:.3f} | {unc['f1']:.3f} | {doc['spans']} | {unc['spans']} |")
    return "\n".join(lines)


def text_plot(curves: dict[str, list[dict]], height: int = 12) -> str:
    """F1 (rows, 0 at the bottom) against the rounds (columns): d document, u uncertain, * both."""
    top = max(r["f1"] for rows in curves.values() for r in rows) or 1.0
    grid = [[" "] * (len(curves["document"]) * 6) for _ in range(height + 1)]
    for mark, rows in (("d", curves["document"]), ("u", curves["uncertain"])):
        for x, row in enumerate(rows):
            y = round(row["f1"] / top * height)
            cell = grid[height - y]
            cell[x * 6 + 3] = "*" if cell[x * 6 + 3] not in (" ", mark) else mark
    lines = [f"{top * (height - i) / height:5.2f} |{''.join(r)}" for i, r in enumerate(grid)]
    lines.append("      +" + "-" * (len(curves["document"]) * 6))
    lines.append("       " + "".join(f"{r['sentences']:>5} " for r in curves["document"]) + " sentences annotated")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
