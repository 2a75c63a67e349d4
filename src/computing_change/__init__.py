"""Computing Change: the helper package of the course, in three layers.

``core``
    untaught plumbing (checks, machine, timing, pools, tracing, notebook, jsgen);
``models``
    every closed form once (formulas), fits, and the formula widgets (views);
``lessons``
    one module per notebook, same name, holding only what must be importable.

Each layer imports only the layers above it in this list (``tests/test_layering.py``).
"""

__version__ = "0.1.0"
