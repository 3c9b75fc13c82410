"""Import hygiene: the formats package is headless core — importing it loads neither Textual nor
spaCy (spaCy is imported inside the functions that need it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "annotator.formats",
    "annotator.formats.prodigy",
    "annotator.formats.doccano",
    "annotator.formats.brat",
    "annotator.formats.conll",
    "annotator.formats.docbin",
    "annotator.formats.align",
    "annotator.formats.hashing",
]
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_neither_spacy_nor_textual(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "loaded = sorted(m for m in ('spacy', 'textual', 'thinc') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"


def test_jsonl_export_path_stays_light(tmp_path: Path) -> None:
    """Writing Prodigy JSONL from Examples that carry tokens never needs spaCy."""
    code = (
        "import sys\n"
        "from annotator.formats import write_prodigy, read_prodigy\n"
        "from annotator.model import Example, Span, Token\n"
        "ex = Example(text='Ann met Bob', tokens=[Token(0, 3, True), Token(4, 7, True), Token(8, 11)], spans=[Span(0, 3, 'PER', 0, 0)])\n"
        f"write_prodigy([ex], {str(tmp_path / 'o.jsonl')!r})\n"
        f"assert list(read_prodigy({str(tmp_path / 'o.jsonl')!r}))[0].spans == ex.spans\n"
        "print('spacy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
