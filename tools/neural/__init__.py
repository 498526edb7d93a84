"""Training the audio-only regressor: dataset building, augmentation, training, metrics."""
