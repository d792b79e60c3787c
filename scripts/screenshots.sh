#!/usr/bin/env bash
# Refreshes docs/screenshots/*.png: the main pages of the web interface in
# Spanish, English and French, taken by headless Chromium from a server with
# the default 2020 plan. Needs the Debian packages chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test api browser::screenshots -- --ignored --exact
ls -1 docs/screenshots/
