"""Pipeline stages that are not phonemes, rigs or exporters: audio in, curves, the pipeline."""
