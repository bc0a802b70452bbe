#!/usr/bin/env bash
# Measures the idle resident memory of a release agent connected to a
# release `coc dev` server: starts both, waits 10 s, prints VmRSS/VmHWM.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/coc
[ -x "$bin" ] || cargo build --release --bin coc
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" server --data-dir "$work" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
spid=$!
sleep 1
token=$("$bin" --server "http://127.0.0.1:$port" --token "$(cat "$work/admin.token")" -o json \
  enrollment create agent-rss | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
"$bin" agent --server "http://127.0.0.1:$port" --token "$token" --state-dir "$work/agent" >"$work/agent.log" 2>&1 &
apid=$!
sleep 10
grep -E 'VmRSS|VmHWM' "/proc/$apid/status" | sed 's/^/agent idle /'
kill "$apid" "$spid"; wait 2>/dev/null || true
rm -rf "$work"
