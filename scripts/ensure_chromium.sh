#!/usr/bin/env bash
# Make sure the Chromium browser that the browser test drives (through Playwright, /usr/bin/chromium) exists.
# As root with apt, install the Debian/Ubuntu package `chromium`; otherwise stop with one line naming it.
set -euo pipefail

BROWSER=/usr/bin/chromium
[ -x "$BROWSER" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Chromium (apt-get install chromium) for the browser test" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$BROWSER" ] && exit 0
fi
echo "error: $BROWSER not found: install the 'chromium' package (sudo apt-get install chromium)" >&2
exit 1
