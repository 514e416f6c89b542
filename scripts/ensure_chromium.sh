#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser test
# (tests/test_browser.py drives it with Playwright; no browser is ever downloaded).
# Idempotent and quiet when it is already there. Installing needs root (or sudo).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "ensure_chromium: $CHROMIUM is missing and installing it needs root:" >&2
    echo "  apt-get update && apt-get install -y chromium" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and there is no apt-get here; install Chromium by hand" >&2
    exit 1
fi

echo "ensure_chromium: installing Debian's chromium (for tests/test_browser.py)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ensure_chromium: apt-get could not install chromium" >&2
    exit 1
fi
rm -f "$log"

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
