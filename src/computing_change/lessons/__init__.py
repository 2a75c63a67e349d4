"""One module per notebook, named after it, holding only what the notebook cannot define in
a cell: the workers a spawn-mode process pool imports by name, and what a later chapter
reuses. Each is shown on its page with ``computing_change.core.notebook.show``. Imports
``core``, ``models`` and the lessons of earlier chapters only."""
