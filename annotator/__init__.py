"""annotator: keyboard-first named-entity and relation annotation of news, in the terminal.

This package's import is deliberately light (no spaCy, no Textual): the CLI, the store and the
formats load heavy libraries only inside the functions that need them.
"""

__version__ = "0.1.0"
