"""Suggestions from a child process, so the annotation screen never holds spaCy in memory.

The annotation screen asks for suggestions of the next few sentences from a worker thread. Loading
spaCy and the English model in the screen's own process would take its memory from ~60 MB to
~170 MB and compete with key handling; instead ``SubprocessSuggester`` starts
``python -m annotator.suggest_process LABELS`` once and talks JSON lines with it:

* the child prints one header line ``{"source", "notice", "model_name"}`` when its pipeline is
  loaded;
* each request is one line ``[{"text", "tokens": [s0, e0, s1, e1, ...]}, ...]``;
* each answer is one line ``[{"spans": [...], "relations": [...]}, ...]`` in the same order, or
  ``{"error": "..."}`` when the request failed (as does the header when the pipeline cannot load);
  the parent raises :class:`SuggesterError` with it and the screen says so in its status line.

``SubprocessSuggester`` has the interface the screen's worker expects of a ``Preannotator``:
``suggest(inputs)``, ``source``, ``notice`` and ``model_name``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Iterable, Iterator, Sequence

from .model import Relation, Span, tokens_from_offsets


class SuggesterError(RuntimeError):
    """The child process failed to start or stopped answering."""


class SubprocessSuggester:
    """A ``Preannotator`` running in a child process (started on construction)."""

    def __init__(self, labels_path: str, model: str | None = None):
        command = [sys.executable, "-m", "annotator.suggest_process", labels_path]
        if model:
            command.append(model)
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, encoding="utf-8", bufsize=1,
            )
        except OSError as exc:
            raise SuggesterError(f"the suggestion process could not start: {exc}") from None
        self._lock = threading.Lock()
        header = self._read()
        self.source: str = header.get("source", "suggester")
        self.notice: str = header.get("notice", "")
        self.model_name: str | None = header.get("model_name")

    def _read(self) -> dict | list:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise SuggesterError("the suggestion process stopped")
        try:
            data = json.loads(line)
        except ValueError:
            raise SuggesterError(f"the suggestion process answered something else than JSON: {line[:80]!r}") from None
        if isinstance(data, dict) and "error" in data:
            raise SuggesterError(data["error"])
        return data

    def suggest(self, sentences: Iterable, batch_size: int = 256, n_process: int = 1) -> Iterator[tuple[list[Span], list[Relation]]]:
        """Suggested spans and relations for each sentence (objects with ``text`` and ``tokens``)."""
        items = list(sentences)
        request = [{"text": s.text, "tokens": [v for t in s.tokens for v in (t.start, t.end)]} for s in items]
        with self._lock:
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise SuggesterError(f"the suggestion process stopped: {exc}") from None
            answer = self._read()
        for result in answer:  # type: ignore[union-attr]
            yield (
                [Span.from_dict(d) for d in result["spans"]],
                [Relation.from_dict(d) for d in result["relations"]],
            )

    def close(self) -> None:
        """Stop the child process: end its input and give it 2 s to finish the request it is
        on, then kill it; either way it is reaped before this returns."""
        if self._process.poll() is None:
            try:
                if self._process.stdin:
                    self._process.stdin.close()
                self._process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()


def serve(labels_path: str, model: str | None, lines: Iterable[str], out) -> None:
    """The child's loop: load the pipeline, print the header, answer each request line."""
    from .labels import load_scheme
    from .preannotate import Preannotator, SentenceInput

    try:
        scheme = load_scheme(labels_path)
        pre = Preannotator(scheme, model=model)
    except Exception as exc:  # reported to the parent, which shows it in the status line
        out.write(json.dumps({"error": str(exc)}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"source": pre.source, "notice": pre.notice, "model_name": pre.model_name}) + "\n")
    out.flush()
    for line in lines:
        if not line.strip():
            continue
        try:
            request: Sequence[dict] = json.loads(line)
            inputs = [
                SentenceInput(item["text"], tokens_from_offsets(item["text"], zip(item["tokens"][0::2], item["tokens"][1::2])))
                for item in request
            ]
            answer: list | dict = [
                {"spans": [s.to_dict() for s in spans], "relations": [r.to_dict() for r in relations]}
                for spans, relations in pre.suggest(inputs)
            ]
        except Exception as exc:  # one bad request is answered with its error; the child goes on serving
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":  # pragma: no cover - exercised through SubprocessSuggester
    serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None, sys.stdin, sys.stdout)
