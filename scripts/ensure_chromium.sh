#!/usr/bin/env bash
# The browser tests drive Debian's headless Chromium through chromedriver; install both when missing (root only).
set -uo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium and chromium-driver for the browser tests..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 \
    || echo "Could not install chromium: the browser tests will be skipped." >&2
else
  echo "chromium/chromedriver missing and not root: the browser tests will be skipped." >&2
fi
exit 0
