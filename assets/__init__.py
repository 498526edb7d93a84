"""Files the project makes and ships: the fitme head, the example clip and its transcript."""

from importlib.resources import files


def asset_path(name: str) -> str:
    """Absolute path of a bundled asset file, e.g. asset_path('fitme.glb')."""
    return str(files(__name__) / name)
