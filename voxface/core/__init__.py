"""The ground floor: value types, name tables, errors and the one atomic file writer.

Everything else in voxface imports from here; nothing here imports from the rest of voxface
(enforced by the import-linter contracts in pyproject.toml, run by tests/test_layers.py).
"""
