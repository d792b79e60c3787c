#!/usr/bin/env bash
# What the web interface stands on, under load (issue 9; see docs/benchmarks.md).
#
# API part: `GET /api/v1/activities?from=…&to=…&per_page=100` under wrk -c16 for
# plans of 1,000, 10,000 and 100,000 activities (the plan bench/feed_data.rs
# builds: a year of exact, whole-day, month and TBC items, one in 20 a monthly
# series), for the current checkout and for a baseline commit built in a
# temporary worktree and measured in the same run. Prints req/s, p50 and p95.
#
# Web part: the month, week and agenda pages of the 10,000-activity plan,
# signed in with a session cookie (a `pregon user create` link redeemed), each
# checked for a 200 first; ratios of their req/s to the API's for that month.
#
# To add a measurement, add a line to CASES below:
#   NAME SERVER PATH   — SERVER is one of the servers started in SERVERS.
# Every case prints `RESULT NAME rps=… p50_ms=… p95_ms=…`; ratios come after.
#
# Usage: [PREGON_BIN=path [FEED_DATA_BIN=path]] [BASELINE_DIR=dir] bench/ui.sh [--quick] [BASELINE_COMMIT]
#   default baseline: 6778da5, the last commit before range queries used stored spans.
#   PREGON_BIN: a binary already built (e.g. a release build made elsewhere) instead of
#   building the checkout; FEED_DATA_BIN is the matching `feed_data` example (default:
#   examples/feed_data beside PREGON_BIN, else target/debug/examples/feed_data; it only
#   fills the databases, so a debug build of it does not change what is measured).
#   With PREGON_BIN the baseline is not built: it is measured only if its binaries
#   are in BASELINE_DIR (default: the per-commit cache below); otherwise its cases and
#   the ratios that need them are skipped and say so.
#   UI_DATA_DIR: keep each server's freshly filled database there (NAME.db) and reuse it
#   on the next run instead of filling it again (delete the directory after a schema change).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=10s
if [ "${1:-}" = "--quick" ]; then DURATION=3s; shift; fi
BASE="${1:-6778da5}"
CONNECTIONS=16; THREADS=2

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
    echo "installing wrk from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq wrk >/dev/null
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    git worktree remove --force "$WORK/base" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== after = $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes'), before = $BASE"

# Binaries: the checkout, and the baseline (kept per commit, so a re-run does not rebuild it).
mkdir -p "$WORK/after"
if [ -n "${PREGON_BIN:-}" ]; then
    FEED_DATA_BIN=${FEED_DATA_BIN:-$(dirname "$PREGON_BIN")/examples/feed_data}
    [ -x "$FEED_DATA_BIN" ] || FEED_DATA_BIN=target/debug/examples/feed_data
    [ -x "$FEED_DATA_BIN" ] || { echo "no feed_data binary: set FEED_DATA_BIN" >&2; exit 1; }
    echo "== after binary: $PREGON_BIN (feed_data: $FEED_DATA_BIN)"
    cp "$PREGON_BIN" "$WORK/after/pregon"; cp "$FEED_DATA_BIN" "$WORK/after/feed_data"
else
    cargo build --release --quiet --bin pregon --example feed_data
    cp "$CARGO_TARGET_DIR/release/pregon" "$CARGO_TARGET_DIR/release/examples/feed_data" "$WORK/after/"
fi
BASE_SHA=$(git rev-parse "$BASE")
BASE_BIN="${BASELINE_DIR:-$CARGO_TARGET_DIR/ui-baseline/$BASE_SHA}"
HAVE_BASE=yes
if [ ! -x "$BASE_BIN/pregon" ] || [ ! -x "$BASE_BIN/feed_data" ]; then
  if [ -n "${PREGON_BIN:-}" ]; then
    HAVE_BASE=no
    echo "== baseline $BASE: no binaries in $BASE_BIN, not built with PREGON_BIN: its cases are skipped"
  else
    git worktree add --quiet --detach "$WORK/base" "$BASE_SHA"
    (cd "$WORK/base" && cargo build --release --quiet --bin pregon --example feed_data)
    mkdir -p "$BASE_BIN"
    cp "$CARGO_TARGET_DIR/release/pregon" "$CARGO_TARGET_DIR/release/examples/feed_data" "$BASE_BIN/"
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME BIN_DIR EVENTS: a database of EVENTS activities (built by that binary's
# own feed_data, so each has its own schema) and a server on it; sets PORT_NAME, TOKEN_NAME.
start() {
    local name=$1 dir=$2 events=$3 port db token started
    db="sqlite://$WORK/$name.db"
    started=$(date +%s)
    if [ -n "${UI_DATA_DIR:-}" ] && [ -f "$UI_DATA_DIR/$name.db" ]; then
        cp "$UI_DATA_DIR/$name.db" "$WORK/$name.db"
    else
        "$dir/feed_data" --database "$db" --events "$events"
        if [ -n "${UI_DATA_DIR:-}" ]; then mkdir -p "$UI_DATA_DIR"; cp "$WORK/$name.db" "$UI_DATA_DIR/$name.db"; fi
    fi
    token=$(PREGON__DATABASE__URL="$db" RUST_LOG=error "$dir/pregon" token create --role viewer --name bench |
        grep -o 'pgn_[A-Za-z0-9_-]*' | head -1)
    # A person's one-time sign-in link, for the web pages' session (a binary
    # without `pregon user` has no pages to measure: left empty).
    link=$(PREGON__DATABASE__URL="$db" RUST_LOG=error "$dir/pregon" user create --email bench@example.org \
        --name Bench --role viewer 2>/dev/null | grep -o '/sign-in/[A-Za-z0-9_-]*' | head -1 || true)
    port=$(free_port)
    PREGON__DATABASE__URL="$db" PREGON__DATABASE__SEED_WHEN_EMPTY=false \
    PREGON__SERVER__BIND="127.0.0.1:$port" PREGON__SERVER__PUBLIC_RATE_LIMIT_PER_MINUTE=1000000000 \
    RUST_LOG=error "$dir/pregon" serve --no-dispatcher >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    session=""
    if [ -n "$link" ]; then
        session=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/sign-in/link/${link#/sign-in/}" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
    fi
    printf -v "PORT_$name" '%s' "$port"
    printf -v "TOKEN_$name" '%s' "$token"
    printf -v "SESSION_$name" '%s' "$session"
    echo "server $name: $events activities ($(($(date +%s) - started)) s to build), port $port"
}

SERVERS=(
    "before_10k $BASE_BIN 10000"
    "before_100k $BASE_BIN 100000"
    "after_1k $WORK/after 1000"
    "after_10k $WORK/after 10000"
    "after_100k $WORK/after 100000"
)
for s in "${SERVERS[@]}"; do
    [ "$HAVE_BASE" = no ] && [[ $s == before_* ]] && continue
    # shellcheck disable=SC2086
    start $s
done

MONTH="/api/v1/activities?from=2020-03-01&to=2020-03-31&per_page=100"
DAY="/api/v1/activities?from=2020-03-10&to=2020-03-10&per_page=100"
CASES=(
    "month_before_10k before_10k $MONTH"
    "month_after_1k after_1k $MONTH"
    "month_after_10k after_10k $MONTH"
    "month_after_100k after_100k $MONTH"
    "month_before_100k before_100k $MONTH"
    "day_after_10k after_10k $DAY"
    "day_after_100k after_100k $DAY"
    "unfiltered_before_10k before_10k /api/v1/activities?per_page=100"
    "unfiltered_after_10k after_10k /api/v1/activities?per_page=100"
    # The web pages of that month, signed in (a session cookie): HTML, checked for a 200.
    "month_page_after_10k after_10k /app/calendar?month=2020-03"
    "week_page_after_10k after_10k /app/calendar/week?week=2020-03-09"
    "agenda_page_after_10k after_10k /app/agenda"
    "month_page_before_10k before_10k /app/calendar?month=2020-03"
    "agenda_page_before_10k before_10k /app/agenda"
)

# wrk reports 50/75/90/99 %; p95 comes from its Lua summary.
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("STATS rps=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.timeout + summary.errors.connect + summary.errors.read))
end
LUA

declare -A RESULT WEIGHT
for c in "${CASES[@]}"; do
    read -r name server path <<<"$c"
    if [ "$HAVE_BASE" = no ] && [[ $server == before_* ]]; then echo "SKIPPED $name (no baseline binary)"; continue; fi
    port_var="PORT_$server"; token_var="TOKEN_$server"
    url="http://127.0.0.1:${!port_var}$path"
    auth="Authorization: Bearer ${!token_var}"
    if [[ $path == /app/* ]]; then
        # A page: the session cookie, and a 200 with its size (not a redirect to sign-in).
        session_var="SESSION_$server"
        auth="Cookie: pregon_session=${!session_var}"
        read -r code bytes < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' -H "$auth" "$url")
        if [ "$code" != 200 ]; then echo "$name: $path answered $code" >&2; exit 1; fi
        # What a browser downloads: the same page asked for gzip (bytes on the wire).
        gzip_bytes=$(curl -s -o /dev/null -w '%{size_download}' -H "$auth" -H 'Accept-Encoding: gzip' "$url")
        summary="status=$code bytes=$bytes gzip_bytes=$gzip_bytes"
        WEIGHT[$name]=$gzip_bytes
    else
    # The answer is checked once (status, size, total), then loaded.
    summary=$(curl -sf -H "$auth" "$url" | python3 -c 'import json,sys; p=json.load(sys.stdin); print("items=%d total=%d" % (len(p["items"]), p["total"]))')
    fi
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -H "$auth" "$url" >/dev/null
    stats=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$auth" -s "$WORK/report.lua" "$url" | grep '^STATS' | cut -d' ' -f2-)
    RESULT[$name]="$stats"
    echo "RESULT $name $summary $stats"
done

val() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"${RESULT[$2]}"; }
ratio() {
    if [ -z "${RESULT[$2]:-}" ] || [ -z "${RESULT[$3]:-}" ]; then printf 'n/a'; return; fi
    awk -v a="$(val "$1" "$2")" -v b="$(val "$1" "$3")" 'BEGIN {printf "%.2f", a / b}'
}
echo "RATIOS month_10k_rps_after_vs_before=$(ratio rps month_after_10k month_before_10k)" \
    "month_100k_rps_after_vs_before=$(ratio rps month_after_100k month_before_100k)" \
    "month_p95_100k_vs_10k=$(ratio p95_ms month_after_100k month_after_10k)" \
    "day_p95_100k_vs_10k=$(ratio p95_ms day_after_100k day_after_10k)" \
    "month_p95_10k_vs_1k=$(ratio p95_ms month_after_10k month_after_1k)" \
    "month_page_rps_vs_api=$(ratio rps month_page_after_10k month_after_10k)" \
    "week_page_rps_vs_api=$(ratio rps week_page_after_10k month_after_10k)"

# Issue 9's targets, each on its own line.
target() { awk -v v="$2" -v lim="$3" -v op="$4" -v name="$1" 'BEGIN {
    if (v == "" || v == "n/a") { printf "TARGET %s n/a\n", name; exit }
    ok = (op == "<=") ? (v + 0 <= lim + 0) : (v + 0 >= lim + 0)
    printf "TARGET %s=%s (%s %s) %s\n", name, v, op, lim, ok ? "met" : "NOT MET" }'; }
p95() { [ -n "${RESULT[$1]:-}" ] && val p95_ms "$1"; }
target month_10k_p95_ms "$(p95 month_after_10k)" 25 "<="
target month_p95_100k_vs_10k "$(ratio p95_ms month_after_100k month_after_10k)" 1.5 "<="
target month_page_10k_p95_ms "$(p95 month_page_after_10k)" 50 "<="
target agenda_page_10k_p95_ms "$(p95 agenda_page_after_10k)" 50 "<="
target month_page_rps_vs_api "$(ratio rps month_page_after_10k month_after_10k)" 0.5 ">="
target agenda_page_rps_vs_api "$(ratio rps agenda_page_after_10k month_after_10k)" 0.5 ">="
for page in month_page_after_10k week_page_after_10k agenda_page_after_10k; do
    target "${page}_gzip_kb" "$(awk -v b="${WEIGHT[$page]:-}" 'BEGIN { if (b != "") printf "%.1f", b / 1024 }')" 100 "<="
done
