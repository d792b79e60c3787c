#!/usr/bin/env bash
# Soak benchmark (see docs/benchmarks.md): 1,000,000 mixed requests on 64
# keep-alive connections against one `pregon serve` on loopback (a seeded SQLite
# database), in segments of wrk; after each segment the server's resident
# memory (VmRSS) and wrk's latency percentiles are recorded, so drift in
# either shows as a trend over the run. Non-2xx answers and socket errors are
# counted: the run must have none.
#
# The mix, per connection in turn: the public feed, /healthz, a plan list, one
# activity, the activity list (page of 50), the OpenAPI document, /readyz, and
# one write: a new organisation (POST, 201), so the database grows as the run
# goes and writers queue behind SQLite's one write lock.
#
# Usage: [PREGON_BIN=path] [SOAK_SEGMENT=20s] bench/soak.sh [TOTAL_REQUESTS] (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${1:-1000000}
CONNECTIONS=64; THREADS=2; SEGMENT=${SOAK_SEGMENT:-20s}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

# PREGON_BIN: a binary already built (e.g. target/debug/pregon) instead of a release build.
if [ -n "${PREGON_BIN:-}" ]; then
    BIN="$PREGON_BIN"
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
    cargo build --release --quiet --bin pregon
    BIN="$CARGO_TARGET_DIR/release/pregon"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm)"
echo "== commit: $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"

DB="sqlite://$WORK/soak.db"
"$BIN" --database "$DB" migrate >/dev/null
"$BIN" --database "$DB" seed >/dev/null
TOKEN=$("$BIN" --database "$DB" token create --role editor --name soak | tail -1)
ACTIVITY=1

PORT=$(free_port)
PREGON__DATABASE__URL="$DB" PREGON__SERVER__BIND="127.0.0.1:$PORT" \
PREGON__FEEDS__RATE_LIMIT_PER_MINUTE=1000000000 \
PREGON__SERVER__PUBLIC_RATE_LIMIT_PER_MINUTE=1000000000 PREGON__RATE_LIMITS__FEED_PER_FEED_PER_MINUTE=1000000000 \
PREGON__RATE_LIMITS__HEALTH_PER_MINUTE=1000000000 RUST_LOG=error \
    "$BIN" serve --no-dispatcher >"$WORK/pregon.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
# The SQLite write-ahead log: it must be checkpointed back, not grow with the run.
wal() { local f="$WORK/soak.db-wal"; [ -f "$f" ] && echo $(( $(stat -c %s "$f") / 1024 )) || echo 0; }

cat >"$WORK/mix.lua" <<LUA
local paths = {
  "/feeds/public.ics", "/healthz", "/api/v1/plans", "/api/v1/activities/$ACTIVITY",
  "/api/v1/activities?per_page=50", "/api/v1/openapi.json", "/readyz",
}
local i = 0
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
init = function(args)
  segment = args[1] or "0"
end
request = function()
  i = i + 1
  local k = i % (#paths + 1)
  if k == #paths then
    -- A unique slug per segment, thread and request.
    local slug = string.format("soak-%s-%d-%d", segment, tid, i)
    return wrk.format("POST", "/api/v1/organisations",
      { ["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json" },
      string.format('{"slug":"%s","name":"Soak %s","kind":"partner"}', slug, slug))
  end
  return wrk.format("GET", paths[k + 1], { ["Authorization"] = "Bearer $TOKEN" })
end
done = function(summary, latency, requests)
  io.write(string.format("SEGMENT requests=%d rate=%.0f non2xx=%d errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.requests / (summary.duration / 1e6), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

echo "rss_kib_start=$(rss)"
done_requests=0; segment=0; bad=0
printf '%-8s %-10s %-8s %-9s %-9s %-9s %-10s %-8s\n' segment requests req_s p50_ms p99_ms max_ms rss_kib wal_kib
while [ "$done_requests" -lt "$TOTAL" ]; do
    segment=$((segment + 1))
    line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$SEGMENT" -s "$WORK/mix.lua" "http://127.0.0.1:$PORT" -- "$segment" | grep '^SEGMENT')
    n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
    non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
    errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
    p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
    p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
    max=$(sed -E 's/.*max_ms=([0-9.]+).*/\1/' <<<"$line")
    done_requests=$((done_requests + n)); bad=$((bad + non2xx + errors))
    rate=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$line")
    printf '%-8s %-10s %-8s %-9s %-9s %-9s %-10s %-8s\n' "$segment" "$done_requests" "$rate" "$p50" "$p99" "$max" "$(rss)" "$(wal)"
done
echo "total_requests=$done_requests errors_and_non_2xx=$bad rss_kib_end=$(rss)"
echo "RESULT soak_requests=$done_requests errors=$bad rss_kib_end=$(rss)"
