"""Configuration: hashed hyperparameters of MPT and LTH runs, and the published presets."""
