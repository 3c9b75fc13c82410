"""The floor for import: bare spaCy segmentation of the same JSONL articles, in its own process.

``spacy.blank("en")`` + ``sentencizer`` over the articles' paragraphs (split on blank lines as the
annotator does) with ``nlp.pipe``; nothing is stored. Run by ``run.py`` as a child process so its
wall time and peak memory (``ru_maxrss``) are measured exactly like ``annotator import``'s.
Prints one JSON line: sentences, paragraphs, articles, characters.

usage: python benchmarks/raw_segment.py FILE.jsonl [FILE.jsonl ...]
"""

import json
import re
import sys

import spacy

PARAGRAPH_BREAK = re.compile(r"\r?\n(?:[^\S\r\n]*\r?\n)+")


def main(paths: list[str]) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    counts = {"articles": 0, "paragraphs": 0, "sentences": 0, "characters": 0}

    def paragraphs():
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    text = json.loads(line)["text"]
                    counts["articles"] += 1
                    counts["characters"] += len(text)
                    for paragraph in PARAGRAPH_BREAK.split(text):
                        paragraph = paragraph.strip()
                        if paragraph:
                            counts["paragraphs"] += 1
                            yield paragraph

    for doc in nlp.pipe(paragraphs(), batch_size=256):
        counts["sentences"] += sum(1 for _ in doc.sents)
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1:])
