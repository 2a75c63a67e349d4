"""Untaught plumbing: input checks, the reader's machine, timing, pools of workers (one
process-pool helper, one Dask client factory), memory tracing, the notebook helpers (glue,
show) and the Python-to-JavaScript translator of the live widgets. Imports nothing else of
the package."""
