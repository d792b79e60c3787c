#!/usr/bin/env bash
# Subscriber CSV import: `pregon subscribers import --confirmed` of N new
# addresses into an empty list, on SQLite and on PostgreSQL (127.0.0.1:5432,
# user postgres, trust; a temporary database created and dropped), against a
# bulk load of the same file in the same run: `\copy` into a table with a
# unique email column on PostgreSQL, one transaction of INSERTs into such a
# table through Python's sqlite3 on SQLite. The import does more than the bulk
# load (it checks every row, writes subscribers, subscriptions and one history
# entry per change, chained by hash); the ratio says how far it is from
# writing the rows alone.
#
#   bench/import.sh             5,000 and 100,000 rows
#   bench/import.sh --quick     5,000 rows
#   BENCH_SIZES="20000" bench/import.sh
#   PREGON_BIN=path bench/import.sh   that binary (e.g. an older commit's)
#
# Ends with one line per backend and size:
#   RESULT import_<backend>_<n>_rows_per_s=<r> import_<backend>_<n>_vs_bulk_load=<ratio>
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=(5000 100000)
[[ "${1:-}" == "--quick" ]] && SIZES=(5000)
if [[ -n "${BENCH_SIZES:-}" ]]; then read -r -a SIZES <<<"$BENCH_SIZES"; fi

if [[ -n "${PREGON_BIN:-}" ]]; then
    PREGON="$PREGON_BIN"
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
    cargo build --release --quiet
    PREGON="$CARGO_TARGET_DIR/release/pregon"
fi

WORK=$(mktemp -d)
PG_ADMIN="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export PGOPTIONS='-c client_min_messages=warning'
PG_DATABASES=()
cleanup() {
    for db in "${PG_DATABASES[@]}"; do
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }

fresh_database() { # backend n → sets PREGON__DATABASE__URL
    local backend=$1 n=$2
    if [[ $backend == postgres ]]; then
        local name="pregon_import_$$_$n"
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
        psql "$PG_ADMIN" -qc "CREATE DATABASE \"$name\"" >/dev/null
        PG_DATABASES+=("$name")
        export PREGON__DATABASE__URL="${PG_ADMIN%/*}/$name"
    else
        rm -f "$WORK/pregon-$n.db"*
        export PREGON__DATABASE__URL="sqlite://$WORK/pregon-$n.db"
    fi
}

run_import() { # backend n → IMPORT_SECONDS
    local backend=$1 n=$2
    fresh_database "$backend" "$n"
    export PREGON_ENV=bench PREGON__DATABASE__SEED_WHEN_EMPTY=false PREGON__LOG__FILTER=warn
    export PREGON__SERVER__PUBLIC_URL="https://pregon.bench"
    "$PREGON" migrate >/dev/null
    # A list to import into, made the way a user makes one.
    local token port serve
    token=$("$PREGON" token create --role admin --name bench 2>/dev/null)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$PREGON" serve --no-dispatcher --bind "127.0.0.1:$port" 2>"$WORK/serve.log" &
    serve=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -X POST \
        "http://127.0.0.1:$port/api/v1/lists" -d '{"slug":"bench","name":"Benchmark","default_language":"en"}' >/dev/null
    kill "$serve"; wait "$serve" 2>/dev/null || true
    local start end
    start=$(now)
    "$PREGON" subscribers import --list bench --confirmed --source benchmark "$WORK/rows-$n.csv" >"$WORK/report.txt"
    end=$(now)
    IMPORT_SECONDS=$(echo "$end - $start" | bc -l)
    local subscribed
    if [[ $backend == postgres ]]; then
        subscribed=$(psql "$PREGON__DATABASE__URL" -Atc "SELECT count(*) FROM subscriptions")
    else
        subscribed=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM subscriptions").fetchone()[0])' "$WORK/pregon-$n.db")
    fi
    [[ "$subscribed" == "$n" ]] || { echo "import on $backend wrote $subscribed of $n subscriptions" >&2; cat "$WORK/report.txt" >&2; exit 1; }
    "$PREGON" history verify >/dev/null || { echo "history chain broken after the import on $backend" >&2; exit 1; }
}

run_bulk() { # backend n → BULK_SECONDS
    local backend=$1 n=$2 start end
    fresh_database "$backend" "bulk_$n"
    if [[ $backend == postgres ]]; then
        psql "$PREGON__DATABASE__URL" -qc "CREATE TABLE rows (email text NOT NULL UNIQUE, name text, language text)"
        start=$(now)
        psql "$PREGON__DATABASE__URL" -qc "\\copy rows FROM '$WORK/rows-$n.csv' WITH (FORMAT csv, HEADER true)"
        end=$(now)
    else
        start=$(now)
        python3 - "$WORK/bulk-$n.db" "$WORK/rows-$n.csv" <<'PY'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE rows (email TEXT NOT NULL UNIQUE, name TEXT, language TEXT)")
with open(sys.argv[2], newline="") as f:
    reader = csv.reader(f)
    next(reader)
    with db:
        db.executemany("INSERT INTO rows VALUES (?, ?, ?)", reader)
PY
        end=$(now)
    fi
    BULK_SECONDS=$(echo "$end - $start" | bc -l)
}

RESULTS=()
for n in "${SIZES[@]}"; do
    awk -v n="$n" 'BEGIN { print "email,name,language"; for (i = 1; i <= n; i++) printf "r%d@list.bench,Recipient %d,en\n", i, i }' >"$WORK/rows-$n.csv"
    for backend in sqlite postgres; do
        run_import "$backend" "$n"
        run_bulk "$backend" "$n"
        rate=$(echo "$n / $IMPORT_SECONDS" | bc -l)
        ratio=$(echo "$BULK_SECONDS / $IMPORT_SECONDS" | bc -l)
        printf '%7d rows, %s: pregon import %.2f s (%.0f rows/s), bulk load %.2f s\n' \
            "$n" "$backend" "$IMPORT_SECONDS" "$rate" "$BULK_SECONDS"
        RESULTS+=("$(printf 'import_%s_%d_rows_per_s=%.0f import_%s_%d_vs_bulk_load=%.3f' "$backend" "$n" "$rate" "$backend" "$n" "$ratio")")
    done
done
for r in "${RESULTS[@]}"; do echo "RESULT $r"; done
