"""Hostile pull requests against a real registry: what `gitreg check --base` reports about each, and what a
deploy from a fresh clone does once a maintainer merges it anyway (``python -m pytest tests/adversarial``).

- :mod:`.harness`: the base registry (built once per session, copied per case), the attacker's tools (hand
  edits, force-adds, planted store bytes, pickles that leave a mark when they run) and the deploy;
- :mod:`.catalogue`: the named hostile (and honest) pull requests, as data: each a function that makes the
  branch ``pr``, the exact blocking codes of ``check --base main --rev pr``, and the deploy's outcome;
- ``test_catalogue.py`` runs every entry; ``test_generated.py`` generates more (impostor file names).
"""
