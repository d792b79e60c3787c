#!/usr/bin/env bash
# The job runner under load (issue 10; see docs/benchmarks.md): N webhook
# jobs due at once against a receiver on loopback, run by one runner and by
# two on PostgreSQL; the baseline, in the same run, is the same N signed
# POSTs sent straight from a loop at the same concurrency. Prints jobs/s and
# the delay from due time to the request's arrival (p50/p95).
#
# Usage: bench/jobs.sh [--quick] [POSTGRES_ADMIN_URL]
#   default URL postgres://postgres@127.0.0.1:5432/test; a fresh database is
#   created and dropped. Set PROFILE=release for optimised numbers (slower to build).
set -euo pipefail
cd "$(dirname "$0")/.."

N=10000
if [ "${1:-}" = "--quick" ]; then N=1000; shift; fi
ADMIN="${1:-postgres://postgres@127.0.0.1:5432/test}"
PROFILE="${PROFILE:-dev}"
NAME="pregon_bench_jobs_$$"
BASE="${ADMIN%/*}"

echo "== machine: $(nproc) cores, $(uname -srm); commit $(git rev-parse --short HEAD); profile $PROFILE; $(date -u +%FT%TZ)"
psql "$ADMIN" -qc "CREATE DATABASE $NAME" >/dev/null
trap 'psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null' EXIT
FLAGS=()
[ "$PROFILE" = "release" ] && FLAGS=(--release)
cargo run --quiet "${FLAGS[@]}" --example jobs_bench -- "$BASE/$NAME" "$N"
echo "== SQLite (one runner)"
DIR=$(mktemp -d)
cargo run --quiet "${FLAGS[@]}" --example jobs_bench -- "sqlite://$DIR/bench.db" "$N"
rm -rf "$DIR"
