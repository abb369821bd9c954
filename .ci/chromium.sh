#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are installed, for the report's browser test
# (tests/report/test_browser.py). On Debian: installs the `chromium` and `chromium-driver`
# packages, plus fonts-liberation so text renders, when either binary is missing (apt-get, as
# root or through sudo); does nothing when both are there. No browser build is ever downloaded
# from anywhere else.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }

if have chromium && have chromedriver; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: chromium/chromedriver missing and no apt-get; the browser test will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "chromium.sh: expected root or sudo to run apt-get, got neither" >&2
  exit 1
fi
echo "chromium.sh: installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null
have chromium && have chromedriver || { echo "chromium.sh: still missing after installing" >&2; exit 1; }
