"""Reading JSON Lines / JSON record files with line numbers, and writing JSONL deterministically.

Lines are split on ``\\n`` only: U+2028 and U+2029 are legal inside JSON strings and
``str.splitlines`` would cut a record in two at them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

import srsly

from annotator.errors import ExportError, InputError

_WHITESPACE = re.compile(r"[ \t\n\r]*")


def read_text_file(path: Path) -> str:
    """The file decoded as UTF-8 (a leading BOM dropped); unreadable files become ``InputError``."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})", path, line) from None


def read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a folder, expected a file", path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None


def iter_json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` for every record of a JSONL file or a JSON file.

    JSONL (one value per line) is parsed line by line with srsly. A ``.json`` file, or any file whose
    content starts with ``[``, is parsed as a sequence of JSON values: a top-level array yields its
    elements, a top-level object is one record (so pretty-printed single records work too). The
    line of a record is the line where it starts.
    """
    path = Path(path)
    text = read_text_file(path)
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        yield from _iter_json_document(text, path)
        return
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = srsly.json_loads(raw)
        except ValueError:
            raise InputError(f"JSON syntax error: {_syntax_detail(raw)}", path, number) from None
        yield number, value


def peek_json_record(path: Path) -> Any:
    """The first record of a JSON/JSONL file, or ``None`` when it has none.

    A JSONL file is read only up to its first record (format detection of a big file); a JSON
    document, or a first line that does not decode or parse, is read as ``iter_json_records`` reads
    it, so the answer and the error are the same."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        try:
            with path.open("rb") as handle:
                for number, data in enumerate(handle, start=1):
                    raw = data.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\n")
                    if not raw.strip():
                        continue
                    if raw.lstrip().startswith("["):
                        break  # a JSON document
                    import srsly

                    return srsly.json_loads(raw)
                else:
                    return None  # no record (or an empty file)
        except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
            pass  # worded below, as the whole file's reader words it
    for _, record in iter_json_records(path):
        return record
    return None


def _syntax_detail(raw: str) -> str:
    """The standard library's description of why ``raw`` is not JSON (it names the column)."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as error:
        return f"{error.msg} (column {error.colno})"
    except ValueError as error:  # pragma: no cover - e.g. numbers too large for srsly
        return str(error)
    return "not valid JSON"  # pragma: no cover - srsly rejected what json accepts


def _iter_json_document(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()

    def line_of(index: int) -> int:
        return text.count("\n", 0, index) + 1

    def decode(index: int) -> tuple[Any, int]:
        try:
            return decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise InputError(f"JSON syntax error: {error.msg} (column {error.colno})", path, error.lineno) from None

    def skip(index: int) -> int:
        match = _WHITESPACE.match(text, index)
        return match.end() if match else index

    index = skip(0)
    while index < len(text):
        if text[index] == "[":
            index = skip(index + 1)
            if index < len(text) and text[index] == "]":
                index = skip(index + 1)
                continue
            while True:
                line = line_of(index)
                value, index = decode(index)
                yield line, value
                index = skip(index)
                if index < len(text) and text[index] == ",":
                    index = skip(index + 1)
                    continue
                if index < len(text) and text[index] == "]":
                    index = skip(index + 1)
                    break
                raise InputError("JSON syntax error: expected ',' or ']' in the array", path, line_of(index))
        else:
            line = line_of(index)
            value, index = decode(index)
            yield line, value
            index = skip(index)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """One compact JSON object per line, ``\\n`` line ends, UTF-8 (non-ASCII escaped by srsly)."""
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for record in records:
                out.write(srsly.json_dumps(record))
                out.write("\n")
    except OSError as error:
        raise ExportError(f"cannot write: {error.strerror or error}", path) from None
