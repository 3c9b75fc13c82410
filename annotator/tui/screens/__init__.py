"""Screens of the annotator app: annotate, help and small prompts."""
