"""Generators of the documentation site's reference pages (used by the mkdocs hook in ``docsgen/hooks.py``)."""
