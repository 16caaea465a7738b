"""What every part of alphastream agrees on, and nothing else: shared types and constants,
the model-pair metadata, the event models and the feature registry.

A leaf package: it imports no other module of the project (``tests/unit/test_layout.py``
enforces it), so the runtime, training and the tools can all depend on it without a cycle.
"""
