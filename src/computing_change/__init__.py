"""Computing Change: the helper package of the course.

Modules: :mod:`formulas` (every formula once, validated), :mod:`widgets` (formula to
interactive cell), :mod:`machine` (what the reader's machine offers), :mod:`timing`
(``bench``: warm-up, repeats, median), and the demo kernels of the chapters.
"""

__version__ = "0.1.0"
