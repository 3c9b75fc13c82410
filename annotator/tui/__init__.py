"""The terminal user interface (Textual). Imported only by ``annotator annotate``; never imports spaCy."""
