#!/usr/bin/env bash
# Calendar feed benchmark (see docs/benchmarks.md).
#
#  1. requests/s for the cached public feed of a 500-event plan under wrk on
#     loopback, against nginx serving the very same bytes as a static file, with
#     the same connections and duration, in the same run;
#  2. the same for 304 answers (If-None-Match);
#  3. uncached generation time for 1k and 10k events, and its growth;
#  4. peak RSS of the Pregón server during (1).
#
# Usage: bench/feeds.sh [--quick] [--profile DIR]
#   --quick: shorter runs, under a minute once built;
#   --profile DIR: also `perf record -g` the server during an extra 304 run and
#     an extra 200 run, and nginx's workers during an extra 200 run: writes
#     DIR/perf-{304,200,nginx-200}.txt (`perf report --no-children`) and
#     DIR/perf-*-dso.txt (the same samples by binary: kernel or user space).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0; PROFILE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --profile) PROFILE="$2"; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
DURATION=10s; CONNECTIONS=64; THREADS=2; RUNS=5
if [ "$QUICK" = 1 ]; then DURATION=3s; RUNS=3; fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
    echo "installing wrk and nginx from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq wrk nginx-light >/dev/null || apt-get install -y -qq wrk nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
cargo build --release --quiet --bin pregon --example feed_data
BIN="$CARGO_TARGET_DIR/release/pregon"
GEN="$CARGO_TARGET_DIR/release/examples/feed_data"

WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx's workers run as an unprivileged user
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A run with any answer other than 200/304 (a 429 from a budget the script
# forgot to raise) measures the wrong thing: refused.
rps() {
    local out; out=$(cat)
    if grep -q "Non-2xx or 3xx" <<<"$out"; then echo "wrk saw error answers:" >&2; echo "$out" >&2; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}

echo "== load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm)"

# (3) Uncached generation: 1k and 10k events.
GEN_1K=$("$GEN" --database "sqlite://$WORK/gen1k.db" --events 1000 --measure "$RUNS")
GEN_10K=$("$GEN" --database "sqlite://$WORK/gen10k.db" --events 10000 --measure "$RUNS")
echo "uncached generation: $GEN_1K"
echo "uncached generation: $GEN_10K"
ms_1k=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$GEN_1K")
ms_10k=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$GEN_10K")
growth=$(awk -v a="$ms_1k" -v b="$ms_10k" 'BEGIN {printf "%.2f", b / a}')
echo "growth 1k -> 10k events: x$growth (linear is x10)"

# (1, 2) The cached public feed of a 500-event plan.
"$GEN" --database "sqlite://$WORK/feed.db" --events 500
PORT=$(free_port)
PREGON__DATABASE__URL="sqlite://$WORK/feed.db" PREGON__DATABASE__SEED_WHEN_EMPTY=false \
PREGON__SERVER__BIND="127.0.0.1:$PORT" PREGON__FEEDS__RATE_LIMIT_PER_MINUTE=1000000000 \
PREGON__SERVER__PUBLIC_RATE_LIMIT_PER_MINUTE=1000000000 \
PREGON__RATE_LIMITS__FEED_PER_FEED_PER_MINUTE=1000000000 RUST_LOG=error \
    "$BIN" serve >"$WORK/pregon.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
FEED="http://127.0.0.1:$PORT/feeds/public.ics"
curl -sf -D "$WORK/headers" -o "$WORK/public.ics" "$FEED"
ETAG=$(awk 'tolower($1)=="etag:" {print $2}' "$WORK/headers" | tr -d '\r')
echo "feed: $(wc -c <"$WORK/public.ics") bytes, $(grep -c BEGIN:VEVENT "$WORK/public.ics") VEVENTs, ETag $ETAG"

NPORT=$(free_port)
mkdir -p "$WORK/www" "$WORK/nginx"
cp "$WORK/public.ics" "$WORK/www/public.ics"
chmod -R a+rX "$WORK/www"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on; tcp_nopush on; keepalive_requests 1000000;
    types { text/calendar ics; }
    client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
    server { listen 127.0.0.1:$NPORT; root $WORK/www; }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NGINX_MASTER=$!; PIDS+=("$NGINX_MASTER")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$NPORT/public.ics" -o /dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$NPORT/public.ics" -o "$WORK/nginx.ics"
cmp "$WORK/public.ics" "$WORK/nginx.ics"
echo "nginx serves the same bytes"
NGINX_ETAG=$(curl -sfI "http://127.0.0.1:$NPORT/public.ics" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')

WRK=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency)
# Warm both, then measure alternately so neither gets a quieter machine.
"${WRK[@]}" -d1s "$FEED" >/dev/null; "${WRK[@]}" -d1s "http://127.0.0.1:$NPORT/public.ics" >/dev/null
pregon_rps=$("${WRK[@]}" "$FEED" | rps)
nginx_rps=$("${WRK[@]}" "http://127.0.0.1:$NPORT/public.ics" | rps)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
pregon_304=$("${WRK[@]}" -H "If-None-Match: $ETAG" "$FEED" | rps)
nginx_304=$("${WRK[@]}" -H "If-None-Match: $NGINX_ETAG" "http://127.0.0.1:$NPORT/public.ics" | rps)
# Check the 304 runs really were 304s.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$FEED")" = 304 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $NGINX_ETAG" "http://127.0.0.1:$NPORT/public.ics")" = 304 ]

if [ -n "$PROFILE" ]; then
    mkdir -p "$PROFILE"
    # profile NAME PIDS HEADER... : perf of those processes during one more wrk run.
    profile() {
        local name=$1 pids=$2 url=$3; shift 3
        perf record -g -F 999 -p "$pids" -o "$PROFILE/perf-$name.data" -- sleep "${DURATION%s}" 2>/dev/null &
        local perf=$!
        "${WRK[@]}" "$@" "$url" >/dev/null
        wait "$perf" || true
        perf report -i "$PROFILE/perf-$name.data" --no-children --stdio --percent-limit 0.5 \
            >"$PROFILE/perf-$name.txt" 2>/dev/null || true
        # The same samples by kernel/user side and the top symbols, one line each.
        perf report -i "$PROFILE/perf-$name.data" --no-children --stdio --sort dso \
            >"$PROFILE/perf-$name-dso.txt" 2>/dev/null || true
        echo "profile of the $name run: $PROFILE/perf-$name.txt"
    }
    NGINX_WORKERS=$(pgrep -d, -P "$NGINX_MASTER" || true)
    profile 304 "$SERVER" "$FEED" -H "If-None-Match: $ETAG"
    profile 200 "$SERVER" "$FEED"
    [ -n "$NGINX_WORKERS" ] && profile nginx-200 "$NGINX_WORKERS" "http://127.0.0.1:$NPORT/public.ics"
fi

echo "200: pregon ${pregon_rps} req/s, nginx ${nginx_rps} req/s ($CONNECTIONS connections, $THREADS wrk threads, $DURATION)"
echo "304: pregon ${pregon_304} req/s, nginx ${nginx_304} req/s"
feed_ratio=$(awk -v a="$pregon_rps" -v b="$nginx_rps" 'BEGIN {printf "%.2f", a / b}')
nm_ratio=$(awk -v a="$pregon_304" -v b="$nginx_304" 'BEGIN {printf "%.2f", a / b}')
peak_mib=$(awk -v k="$peak_kib" 'BEGIN {printf "%.1f", k / 1024}')
gen_10k=$(awk -v m="$ms_10k" 'BEGIN {printf "%.0f", m}')
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT feed_vs_nginx=$feed_ratio not_modified_vs_nginx=$nm_ratio gen_10k_ms=$gen_10k peak_rss_mib=$peak_mib"
