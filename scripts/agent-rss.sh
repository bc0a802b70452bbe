#!/usr/bin/env bash
# Measures the idle resident memory of release agents connected to a
# release `coc server`: the slim `coc-agent` binary and `coc agent` (the
# one binary), each with discovery on (a look every second) and off;
# waits 10 s, prints VmRSS/VmHWM and the anonymous part (RssAnon).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/coc
slim=target/release/coc-agent
[ -x "$bin" ] && [ -x "$slim" ] || cargo build --release --bin coc --bin coc-agent
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" server --data-dir "$work" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
spid=$!
sleep 1
enroll() {
  "$bin" --server "http://127.0.0.1:$port" --token "$(cat "$work/admin.token")" -o json \
    enrollment create "agent-rss-$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}
run() { # label, discovery seconds, command…
  local label=$1 every=$2; shift 2
  "$@" --server "http://127.0.0.1:$port" --token "$(enroll "$label")" \
    --state-dir "$work/$label" --discovery-interval "$every" >"$work/$label.log" 2>&1 &
  local pid=$!
  sleep 10
  printf '%-34s %s\n' "$label" "$(grep -E 'VmRSS|VmHWM|RssAnon' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd' ')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
run "coc-agent, discovery off" 0 "$slim"
run "coc-agent, discovery every 1 s" 1 "$slim"
run "coc agent, discovery off" 0 "$bin" agent
run "coc agent, discovery every 1 s" 1 "$bin" agent
kill "$spid"; wait 2>/dev/null || true
rm -rf "$work"
