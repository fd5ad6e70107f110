#!/usr/bin/env bash
# Makes sure Debian's headless Chromium is installed for the browser tests and prints its path.
# Playwright cannot download its own browser builds here, so the tests drive this one through
# `executable_path`. Idempotent: returns at once when a Chromium is already on the machine.
#
#   scripts/ensure-browser.sh        prints the Chromium executable on the last line
#
# Environment: CHROMIUM_PATH (use this executable, install nothing).
set -euo pipefail

find_chromium() {
    local candidate
    for candidate in "${CHROMIUM_PATH:-}" chromium chromium-browser; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if path=$(find_chromium); then
    echo "$path"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-browser: Chromium is missing and installing it needs root: sudo apt-get install chromium" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-browser: Chromium is missing and this is not a Debian-like system (no apt-get)" >&2
    exit 1
fi

# Two test runs may start at once: one installs, the other waits and then finds it.
exec 9>/tmp/ensure-browser.lock
flock 9
if path=$(find_chromium); then
    echo "$path"
    exit 0
fi

apt_get() {
    # Waits for another apt/dpkg run (other jobs on the machine) instead of failing on its lock.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"
}

echo "ensure-browser: installing Debian's chromium (once per machine)" >&2
# A fresh machine has no package lists; a stale list may name a version the mirror no longer has.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]' || ! apt_get install -y --no-install-recommends chromium >&2; then
    apt_get update >&2
    apt_get install -y --no-install-recommends chromium >&2
fi

path=$(find_chromium) || { echo "ensure-browser: chromium installed but not found on PATH" >&2; exit 1; }
echo "$path"
