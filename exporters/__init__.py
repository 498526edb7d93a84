"""Exporters, registered in one table (`voxface.exporters.registry.EXPORTERS`) that the CLI reads."""
