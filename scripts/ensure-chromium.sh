#!/bin/sh
# Make Debian's chromium available for the browser tests, or say clearly why it is not.
# Playwright cannot download its own browser here, so tests use /usr/bin/chromium.
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests (one time)..."
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/milestone-chromium.log 2>&1; then
        echo "chromium installed."
        exit 0
    fi
    echo "SKIPPING browser tests: apt-get could not install chromium (see /tmp/milestone-chromium.log)."
    exit 0
fi
echo "SKIPPING browser tests: chromium is not installed and this user cannot apt-get install it."
echo "  Install it with: sudo apt-get install chromium"
exit 0
