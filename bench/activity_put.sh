#!/usr/bin/env bash
# Latency of `PUT /api/v1/activities/{id}` before and after the use-case layer
# and history (issue 8), measured in one run (see docs/benchmarks.md).
#
# Builds the current checkout and a baseline commit (default: the last commit
# before the history, e907259) in release mode, seeds each with the 2020 plan,
# and times N sequential PUTs of the Málaga event from one keep-alive client,
# alternating its title so that every PUT is a real change (and, after, a
# history entry). Prints p50/p95 in ms for each, and their ratio.
#
# Usage: bench/activity_put.sh [--quick] [BASELINE_COMMIT]
set -euo pipefail
cd "$(dirname "$0")/.."

N=3000
if [ "${1:-}" = "--quick" ]; then N=500; shift; fi
BASE="${1:-e907259}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pregon-target}"
WORK=$(mktemp -d)
cleanup() {
    git worktree remove --force "$WORK/base" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(uname -srm); after = $(git rev-parse --short HEAD), before = $BASE"
cargo build --release --quiet --bin pregon
cp "$CARGO_TARGET_DIR/release/pregon" "$WORK/pregon-after"
git worktree add --quiet --detach "$WORK/base" "$BASE"
(cd "$WORK/base" && cargo build --release --quiet --bin pregon)
cp "$CARGO_TARGET_DIR/release/pregon" "$WORK/pregon-before"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() {
    local name=$1 bin=$2 port db token
    port=$(free_port)
    db="sqlite://$WORK/$name.db"
    token=$(PREGON__DATABASE__URL="$db" RUST_LOG=error "$bin" token create --role admin --name bench |
        grep -o 'pgn_[A-Za-z0-9_-]*' | head -1)
    PREGON__DATABASE__URL="$db" PREGON__SERVER__BIND="127.0.0.1:$port" RUST_LOG=error \
        "$bin" serve --no-dispatcher >"$WORK/$name.log" 2>&1 &
    # measure runs in a subshell ($(…)): it stops its own server.
    local server=$!
    python3 - "$port" "$token" "$N" "$name" <<'PY'
import http.client, json, sys, time
port, token, n, name = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/readyz"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.1)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
c.request("GET", "/api/v1/activities?per_page=100", headers=h)
items = json.loads(c.getresponse().read())["items"]
a = next(i for i in items if i["timing"]["precision"] == "tbc" and "laga" in ((i.get("place") or {}).get("name") or ""))
c.request("GET", f"/api/v1/activities/{a['id']}", headers=h)
cur = json.loads(c.getresponse().read())
keep = ["plan_id","period_id","campaign_id","kind","status","visibility","owner_person_id",
        "owner_organisation_id","channel_ids","translations","post_variants"]
body = {k: cur[k] for k in keep}
body["timing"] = {"precision": "tbc"}
body["partners"] = [{"organisation_id": p["organisation_id"], "role": p["role"]} for p in cur["partners"]]
body["translations"] = {l: {k: v for k, v in t.items() if k in ("title", "description")} for l, t in cur["translations"].items()}
version, times = cur["version"], []
for i in range(n):
    body["version"] = version
    body["translations"]["en"]["title"] = f"URAIA annual event, Málaga ({i % 2})"
    data = json.dumps(body)
    t = time.perf_counter()
    c.request("PUT", f"/api/v1/activities/{a['id']}", body=data, headers=h)
    r = c.getresponse(); out = r.read()
    times.append(time.perf_counter() - t)
    if r.status != 200:
        sys.exit(f"{name}: PUT answered {r.status}: {out[:300]}")
    version = json.loads(out)["version"]
times.sort()
p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
print(f"{name}: n={n} p50_ms={p(0.5):.2f} p95_ms={p(0.95):.2f}")
PY
    kill "$server" 2>/dev/null || true
}

before=$(measure before "$WORK/pregon-before")
after=$(measure after "$WORK/pregon-after")
echo "$before"
echo "$after"
val() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
awk -v b50="$(val p50_ms "$before")" -v a50="$(val p50_ms "$after")" \
    -v b95="$(val p95_ms "$before")" -v a95="$(val p95_ms "$after")" \
    'BEGIN { printf "RESULT put_p50_ms_before=%s put_p50_ms_after=%s put_p95_ms_before=%s put_p95_ms_after=%s p50_ratio=%.2f\n", b50, a50, b95, a95, a50 / b50 }'
