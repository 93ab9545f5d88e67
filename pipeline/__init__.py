"""winnow: clean, deduplicated JSONL from messy scraped text, with every removal explained."""

__version__ = "0.1.0"
