"""Widgets of the annotate screen: the sentence view (Line API), the label bar and the side lists."""
