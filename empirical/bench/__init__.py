"""Benchmarks of training steps: score-mask and IMP overheads on CPU, and the prepared GPU check."""
