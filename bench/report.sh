#!/usr/bin/env bash
# Progress report benchmark (see docs/benchmarks.md): a plan of 1,000 and of
# 10,000 activities in 2020, 100 newsletter issues with 5,000 recipients each
# (500,000 delivery records); the time to build and render the 2020 report in
# HTML and in PDF (median of RUNS), and how it grows from 1,000 activities
# (linear would be x10). Target: at most 2 s for the year at 10,000.
#
# Usage: bench/report.sh [--quick]   (--quick: 50,000 deliveries, 1 run)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3; SUBSCRIBERS=5000
if [ "${1:-}" = "--quick" ]; then RUNS=1; SUBSCRIBERS=500; fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
cargo build --release --quiet --example report_data
GEN="$CARGO_TARGET_DIR/release/examples/report_data"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
R1=$("$GEN" --database "sqlite://$WORK/r1k.db" --activities 1000 --issues 100 --subscribers "$SUBSCRIBERS" --measure "$RUNS")
echo "$R1"
R10=$("$GEN" --database "sqlite://$WORK/r10k.db" --activities 10000 --issues 100 --subscribers "$SUBSCRIBERS" --measure "$RUNS")
echo "$R10"
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
for f in html pdf; do
    a=$(field "${f}_median_ms" "$R1"); b=$(field "${f}_median_ms" "$R10")
    ca=$(field "${f}_cpu_ms" "$R1"); cb=$(field "${f}_cpu_ms" "$R10")
    rb=$(field "${f}_render_ms" "$R10")
    growth=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')
    verdict=$(awk -v b="$b" 'BEGIN {print (b <= 2000) ? "within" : "OVER"}')
    echo "$f: 1k ${a} ms, 10k ${b} ms (of which rendering ${rb} ms; CPU ${ca} / ${cb} ms), growth x$growth (linear is x10); $verdict the 2 s target"
    echo "RESULT ${f}_ms_1k=$a ${f}_ms_10k=$b ${f}_growth=$growth ${f}_cpu_ms_1k=$ca ${f}_cpu_ms_10k=$cb ${f}_render_ms_10k=$rb"
done
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
