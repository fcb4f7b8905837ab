"""Voice profiling (SSAP): gender from an embedded model, age and emotion from user-supplied classifiers."""
