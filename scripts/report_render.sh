#!/usr/bin/env bash
# Renders an align report in headless Chromium and checks what it drew: the
# screenshot must not be blank and the DOM Chromium built must hold every
# chart's <svg>. Chromium is kept off the network and out of any profile.
#   usage: scripts/report_render.sh REPORT.html [OUT.png]   (default OUT: REPORT.png)
#   CHROMIUM=/path/to/chromium overrides the browser (default: chromium on PATH).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 REPORT.html [OUT.png]" >&2
	exit 2
fi
[ -f "$1" ] || { echo "$1: no such file" >&2; exit 2; }
report="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
out="${2:-${report%.html}.png}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
chromium="${CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
[ -x "$chromium" ] || { echo "chromium not found (Debian: apt-get install chromium)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile")
url="file://${report// /%20}"

rm -f "$out"
if ! timeout 120 "$chromium" "${flags[@]}" --window-size=1200,2000 --screenshot="$out" "$url" >"$work/shot.log" 2>&1; then
	cat "$work/shot.log" >&2
	echo "report_render: chromium --screenshot failed" >&2
	exit 1
fi
[ -s "$out" ] || { cat "$work/shot.log" >&2; echo "report_render: no screenshot at $out" >&2; exit 1; }
if ! timeout 120 "$chromium" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.log"; then
	cat "$work/dom.log" >&2
	echo "report_render: chromium --dump-dom failed" >&2
	exit 1
fi

(cd "$repo" && go run ./scripts/pngstat "$out")
want=$(grep -o '<svg' "$report" | wc -l)
got=$(grep -o '<svg' "$work/dom.html" | wc -l)
if [ "$got" -eq 0 ] || [ "$got" -ne "$want" ]; then
	echo "report_render: the rendered DOM has $got <svg> chart(s), the file $want" >&2
	exit 1
fi
echo "report_render: $got chart(s) rendered; screenshot $out"
