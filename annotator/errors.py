"""Errors a user can cause. The CLI prints each as one line on stderr and exits with code 2.

Every class carries where the problem is (a file and, when known, a line) and what is wrong, so the
message names both: ``labels.yaml:12: duplicate hotkey 'p' (already used by PERSON)``.
"""

from __future__ import annotations

from pathlib import Path


class AnnotatorError(Exception):
    """Base class: a problem the user can act on (never a bug)."""

    exit_code = 2

    def __init__(self, problem: str, path: str | Path | None = None, line: int | None = None):
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``path:line: problem`` (parts that are unknown are left out)."""
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.problem}" if where else self.problem

    def __str__(self) -> str:
        return self.message


class LabelSchemeError(AnnotatorError):
    """labels.yaml is missing, unreadable or invalid."""


class InputError(AnnotatorError):
    """An input file (article, annotated data) cannot be read or is invalid."""


class StoreError(AnnotatorError):
    """The database cannot be opened or used (newer schema, not SQLite, read-only, disk full...)."""


class DatasetError(AnnotatorError):
    """A dataset, annotator or sentence named on the command line does not exist or is invalid."""


class ExportError(AnnotatorError):
    """An export cannot be written (existing output without --force, problems under --strict...)."""


class ModelError(AnnotatorError):
    """A spaCy pipeline named by the user cannot be loaded."""


class AnnotationError(AnnotatorError):
    """A decision would store an invalid span or relation (off token boundaries, dangling...)."""


class TrainingError(AnnotatorError):
    """A model cannot be trained from the decisions (nothing accepted, no spans, no dev part...)."""
