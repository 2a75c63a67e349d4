#!/usr/bin/env bash
# Build the website into _build/html (or into DIR/_build/html with: build_site.sh DIR).
# Warnings are errors (-W), references are checked (-n); notebooks show their committed outputs.
source "$(dirname "$0")/_env.sh"
out="${1:-.}"
jupyter-book build . --all -W -n --keep-going --path-output "$out"
echo "Website: $out/_build/html/index.html"
