#!/usr/bin/env bash
# The whole book as one printable PDF, offline (into _build/pdf/computing-change.pdf, or the
# path given): the single-page HTML build printed by headless Chromium (/usr/bin/chromium).
# Solutions are omitted (they stay on the website); widgets print as their saved view.
source "$(dirname "$0")/_env.sh"
python scripts/build_pdf.py "$@"
