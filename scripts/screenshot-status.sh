#!/usr/bin/env bash
# Screenshot of the status page (GET /) in headless Chromium, to check how it renders.
# Usage: scripts/screenshot-status.sh [URL] [OUT.png]
#   URL defaults to http://127.0.0.1:8080/ (a running `sentry-repro serve`), OUT to target/status.png.
# Needs chromium (Debian: apt-get install chromium). Exit 0 only if a non-empty PNG was written.
set -euo pipefail
url="${1:-http://127.0.0.1:8080/}"
out="${2:-target/status.png}"
browser=""
for b in chromium chromium-browser google-chrome headless_shell; do
  if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
  echo "screenshot-status: chromium not found (apt-get install chromium)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --no-first-run --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1400,900 --screenshot="$out_abs" "$url" >/dev/null 2>&1
if [ ! -s "$out_abs" ] || [ "$(head -c 8 "$out_abs" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]; then
  echo "screenshot-status: no PNG written to $out_abs" >&2
  exit 1
fi
echo "$out_abs"
