"""glTF rigs: reading morph targets, matching names, writing animated copies; the fitme head."""
