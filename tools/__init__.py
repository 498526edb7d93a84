"""Developer tools: evaluation, training, dataset building and doc pictures.

Not part of the installed package: they run from a source checkout (`animate eval` and
`animate train` find this folder next to `voxface/`; tests and benches import `tools.*` from
the repository root). They may read ../shared, but only when called, never at import time.
"""
