#!/usr/bin/env bash
# Builds the website widget's assets: installs the npm packages at the exact versions of
# package-lock.json and copies the two browser bundles the page loads into web/vendor/, which
# bot/web_server.py serves (no CDN: the page must work where browsers reach no internet).
# Idempotent: returns at once when vendor/ was built from the current package files.
#
#   web/build.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

want=$(cat package.json package-lock.json build.sh | sha256sum | cut -d' ' -f1)
is_current() { [ "$(cat vendor/.built-from 2>/dev/null)" = "$want" ]; }
is_current && exit 0

if ! command -v npm >/dev/null 2>&1; then
    echo "web/build.sh: npm not found: install Node.js 18 or newer (with npm) to build the widget" >&2
    exit 1
fi
# Two builds may start at once (make run, a test run): one builds, the other waits and finds it done.
exec 9>.build.lock
flock 9
is_current && exit 0

echo "web/build.sh: installing the widget's npm packages" >&2
npm ci --no-audit --no-fund --loglevel=error >&2

rm -rf vendor.tmp
mkdir vendor.tmp
cp node_modules/deep-chat/dist/deepChat.bundle.js vendor.tmp/
cp node_modules/deep-chat/LICENSE vendor.tmp/deep-chat.LICENSE
cp node_modules/socket.io-client/dist/socket.io.esm.min.js node_modules/socket.io-client/dist/socket.io.esm.min.js.map vendor.tmp/
cp node_modules/socket.io-client/LICENSE vendor.tmp/socket.io-client.LICENSE
# Written last: a build cut short is rebuilt next time.
echo "$want" > vendor.tmp/.built-from
rm -rf vendor
mv vendor.tmp vendor
