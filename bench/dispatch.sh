#!/usr/bin/env bash
# Dispatch throughput and memory: `pregon dispatch` delivering a personalised
# ~10 KB newsletter to 10,000 and 100,000 recipients into Postfix's smtp-sink
# on loopback, against Postfix's smtp-source sending the same number of
# messages of the same size with the same concurrency to the same sink, in the
# same run. Peak RSS of the pregon process comes from /usr/bin/time -v.
#
#   bench/dispatch.sh           10,000 and 100,000 recipients
#   bench/dispatch.sh --quick   2,000 recipients (under a minute)
#
# Then the largest size again on PostgreSQL (127.0.0.1:5432, user postgres,
# trust; a temporary database created and dropped): one `pregon dispatch`,
# then two at once on the same issue (wall time from the start of the first
# to the end of the last; every recipient still sent exactly once).
#
# Ends with two lines:
#   RESULT dispatch_vs_smtp_source=<ratio> peak_rss_mib_100k=<n> peak_rss_mib_10k=<n>
#   RESULT postgres_dispatch_vs_smtp_source=<ratio> postgres_two_dispatchers_vs_one=<ratio>
# (--quick reports its single 2,000-recipient run in both peak fields;
# BENCH_POSTGRES=0 skips PostgreSQL and its line.)
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
CONCURRENCY=8
if [[ $QUICK == 1 ]]; then SIZES=(2000); else SIZES=(10000 100000); fi
# For experiments: BENCH_SIZES="20000" runs just that size (its RESULT line is then not comparable).
if [[ -n "${BENCH_SIZES:-}" ]]; then read -r -a SIZES <<<"$BENCH_SIZES"; QUICK=1; fi

if [[ ! -x /usr/sbin/smtp-sink || ! -x /usr/sbin/smtp-source ]]; then
    echo "installing postfix (for smtp-sink and smtp-source)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
    # The package may start the mail system; this benchmark only wants the tools.
    postfix stop >/dev/null 2>&1 || true
fi
[[ -x /usr/bin/time ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null

# PREGON_BIN=path runs that binary instead of building one (to compare two
# commits in the same conditions).
if [[ -n "${PREGON_BIN:-}" ]]; then
    PREGON="$PREGON_BIN"
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
    cargo build --release --quiet
    PREGON="$CARGO_TARGET_DIR/release/pregon"
fi

WORK=$(mktemp -d)
PIDS=()
PG_ADMIN="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export PGOPTIONS='-c client_min_messages=warning'
PG_DATABASES=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for db in "${PG_DATABASES[@]}"; do
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SINK_PORT=$(free_port)
/usr/sbin/smtp-sink -u nobody -m 512 "127.0.0.1:$SINK_PORT" 1024 &
PIDS+=($!)
sleep 0.5

# The issue: ~4 KB of Markdown, personalised with {{name}}; as sent (text and
# HTML alternatives, headers) it comes to about 10 KB.
PARAGRAPH="The third edition of the **Smart Cities Study** looks at smart governance in 24 cities: transparency, participation, open data, accountability and collaboration, and at the technology trends expected to matter in the next four to five years. "
BODY="# Hello {{name}}\n\n"
for i in $(seq 1 16); do BODY+="$PARAGRAPH\n\n"; done
BODY+="[Read the study](https://www.uclg.org/)\n"

seconds() { # "m:ss.ss" or "h:mm:ss" → seconds
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }' <<<"$1"
}

run_pregon() { # N [sqlite|postgres] [dispatchers]
    local n=$1 backend=${2:-sqlite} dispatchers=${3:-1}
    local dir="$WORK/pregon-$1-$backend-$dispatchers"
    mkdir -p "$dir"
    export PREGON_ENV=bench
    if [[ $backend == postgres ]]; then
        local name="pregon_bench_$$_${n}_$dispatchers"
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
        psql "$PG_ADMIN" -qc "CREATE DATABASE \"$name\"" >/dev/null
        PG_DATABASES+=("$name")
        export PREGON__DATABASE__URL="${PG_ADMIN%/*}/$name"
    else
        export PREGON__DATABASE__URL="sqlite://$dir/pregon.db"
    fi
    export PREGON__DATABASE__SEED_WHEN_EMPTY=false
    export PREGON__LOG__FILTER=warn
    export PREGON__SERVER__PUBLIC_URL="https://pregon.bench"
    export PREGON__EMAIL__FROM_ADDRESS="newsletter@pregon.bench"
    export PREGON__EMAIL__POSTAL_ADDRESS="Plaza Ernesto Erkoreka 1, 48007 Bilbao"
    export PREGON__EMAIL__OUTBOX_DIR="$dir/outbox"
    # One bench account authors and approves; four-eyes would need a second.
    export PREGON__APPROVAL__FOUR_EYES=false
    "$PREGON" migrate >/dev/null
    local token api_port
    token=$("$PREGON" token create --role admin --name bench 2>/dev/null)
    api_port=$(free_port)
    "$PREGON" serve --no-dispatcher --bind "127.0.0.1:$api_port" 2>"$dir/serve.log" &
    local serve=$!
    PIDS+=($serve)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$api_port/healthz" >/dev/null && break; sleep 0.1; done
    api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
    local list issue
    list=$(api -X POST "http://127.0.0.1:$api_port/api/v1/lists" \
        -d '{"slug":"bench","name":"Benchmark","default_language":"en"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    awk -v n="$n" 'BEGIN { print "email,name,language"; for (i = 1; i <= n; i++) printf "r%d@sink.bench,Recipient %d,en\n", i, i }' >"$dir/subscribers.csv"
    "$PREGON" subscribers import --list bench --confirmed --source benchmark "$dir/subscribers.csv" >/dev/null
    issue=$(api -X POST "http://127.0.0.1:$api_port/api/v1/issues" \
        -d "{\"name\":\"Benchmark\",\"list_ids\":[$list],\"translations\":{\"en\":{\"subject\":\"The study is out, {{name}}\",\"body\":\"$BODY\"}}}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    # One test send into the outbox gives the size of a message as sent.
    api -X POST "http://127.0.0.1:$api_port/api/v1/issues/$issue/test" -d '{"addresses":["size@sink.bench"]}' >/dev/null
    MESSAGE_BYTES=$(stat -c %s "$dir"/outbox/*.eml | head -1)
    # Sending needs a current approval (issue #8).
    for action in submit approve; do
        api -X POST "http://127.0.0.1:$api_port/api/v1/issues/$issue/review" -d "{\"action\":\"$action\"}" >/dev/null
    done
    api -X POST "http://127.0.0.1:$api_port/api/v1/issues/$issue/send" >/dev/null
    kill "$serve"; wait "$serve" 2>/dev/null || true

    export PREGON__EMAIL__TRANSPORT=smtp
    export PREGON__EMAIL__SMTP__HOST=127.0.0.1
    export PREGON__EMAIL__SMTP__PORT="$SINK_PORT"
    export PREGON__EMAIL__SMTP__TLS=none
    export PREGON__EMAIL__SMTP__POOL_SIZE=$CONCURRENCY
    export PREGON__EMAIL__CONCURRENCY=${BENCH_WORKERS:-$CONCURRENCY}
    export PREGON__EMAIL__BATCH_SIZE=400
    export PREGON__EMAIL__POLL_INTERVAL_MS=100
    local start end i pids=()
    start=$(date +%s.%N)
    for i in $(seq 1 "$dispatchers"); do
        /usr/bin/time -v ${BENCH_WRAP:-} "$PREGON" dispatch --exit-when-idle 2>"$dir/time-$i.log" >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    end=$(date +%s.%N)
    unset PREGON__EMAIL__TRANSPORT PREGON__EMAIL__SMTP__HOST PREGON__EMAIL__SMTP__PORT PREGON__EMAIL__SMTP__TLS \
        PREGON__EMAIL__SMTP__POOL_SIZE PREGON__EMAIL__CONCURRENCY PREGON__EMAIL__BATCH_SIZE PREGON__EMAIL__POLL_INTERVAL_MS
    cp "$dir/time-1.log" "/tmp/pregon-time-$n-$backend-$dispatchers.log" 2>/dev/null || true
    local sent
    sent=$(sent_count "$backend" "$dir")
    [[ "$sent" == "$n" ]] || { echo "pregon ($backend, $dispatchers dispatcher(s)) sent $sent of $n" >&2; exit 1; }
    if [[ $backend == postgres ]]; then
        # A dispatcher taken for dead by another would show here.
        echo "  unknown outcomes: $(psql "$PREGON__DATABASE__URL" -Atc "SELECT count(*) FROM deliveries WHERE unknown_outcomes > 0")," \
            "max attempts: $(psql "$PREGON__DATABASE__URL" -Atc "SELECT max(attempts) FROM deliveries")"
    fi
    if [[ $dispatchers == 1 ]]; then
        PREGON_SECONDS=$(seconds "$(grep 'Elapsed (wall clock)' "$dir/time-1.log" | awk '{print $NF}')")
    else
        PREGON_SECONDS=$(echo "$end - $start" | bc -l)
    fi
    PEAK_KIB=$(grep -h 'Maximum resident set size' "$dir"/time-*.log | awk '{print $NF}' | sort -n | tail -1)
    # CPU time (user + system) of the dispatcher(s) per message: unlike the
    # rate, it hardly moves when other work shares the machine.
    CPU_US=$(awk -v n="$n" '/User time|System time/ { s += $NF } END { printf "%.1f", s * 1000000 / n }' "$dir"/time-*.log)
}

sent_count() { # backend dir
    if [[ $1 == postgres ]]; then
        psql "$PREGON__DATABASE__URL" -Atc "SELECT count(*) FROM deliveries WHERE kind = 'newsletter' AND state = 'sent'"
    else
        sqlite3_count "$2/pregon.db"
    fi
}

sqlite3_count() {
    python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM deliveries WHERE kind = 'newsletter' AND state = 'sent'").fetchone()[0])
PY
}

run_source() {
    local n=$1 bytes=$2 start end
    start=$(date +%s.%N)
    /usr/sbin/smtp-source -d -s $CONCURRENCY -m "$n" -l "$bytes" -f newsletter@pregon.bench -t r@sink.bench "127.0.0.1:$SINK_PORT"
    end=$(date +%s.%N)
    SOURCE_SECONDS=$(echo "$end - $start" | bc -l)
}

declare -A RATE_PREGON RATE_SOURCE PEAK_MIB
for n in "${SIZES[@]}"; do
    run_pregon "$n"
    run_source "$n" "$MESSAGE_BYTES"
    RATE_PREGON[$n]=$(echo "$n / $PREGON_SECONDS" | bc -l)
    RATE_SOURCE[$n]=$(echo "$n / $SOURCE_SECONDS" | bc -l)
    PEAK_MIB[$n]=$(echo "$PEAK_KIB / 1024" | bc -l)
    printf '%7d recipients, %d-byte messages: pregon %.0f msg/s (%.1f s, %s µs CPU/msg, peak RSS %.1f MiB), smtp-source %.0f msg/s (%.1f s)\n' \
        "$n" "$MESSAGE_BYTES" "${RATE_PREGON[$n]}" "$PREGON_SECONDS" "$CPU_US" "${PEAK_MIB[$n]}" "${RATE_SOURCE[$n]}" "$SOURCE_SECONDS"
done

if [[ $QUICK == 1 ]]; then
    big=${SIZES[0]} small=${SIZES[0]}
else
    big=100000 small=10000
fi
ratio=$(echo "${RATE_PREGON[$big]} / ${RATE_SOURCE[$big]}" | bc -l)
printf 'RESULT dispatch_vs_smtp_source=%.2f peak_rss_mib_100k=%.1f peak_rss_mib_10k=%.1f\n' \
    "$ratio" "${PEAK_MIB[$big]}" "${PEAK_MIB[$small]}"

if [[ "${BENCH_POSTGRES:-1}" != 0 ]]; then
    declare -A RATE_PG
    for d in 1 2; do
        run_pregon "$big" postgres "$d"
        RATE_PG[$d]=$(echo "$big / $PREGON_SECONDS" | bc -l)
        printf '%7d recipients on PostgreSQL, %d dispatcher(s): pregon %.0f msg/s (%.1f s, %s µs CPU/msg, peak RSS %.1f MiB per process)\n' \
            "$big" "$d" "${RATE_PG[$d]}" "$PREGON_SECONDS" "$CPU_US" "$(echo "$PEAK_KIB / 1024" | bc -l)"
    done
    # The sink's limit measured again, next to these runs.
    run_source "$big" "$MESSAGE_BYTES"
    pg_source=$(echo "$big / $SOURCE_SECONDS" | bc -l)
    printf '%7d messages, smtp-source again: %.0f msg/s\n' "$big" "$pg_source"
    printf 'RESULT postgres_dispatch_vs_smtp_source=%.2f postgres_two_dispatchers_vs_one=%.2f\n' \
        "$(echo "${RATE_PG[1]} / $pg_source" | bc -l)" "$(echo "${RATE_PG[2]} / ${RATE_PG[1]}" | bc -l)"
fi
