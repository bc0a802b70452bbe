#!/usr/bin/env bash
# Measures the idle resident memory of release agents connected to a
# release `coc server`: the slim `coc-agent` binary and `coc agent` (the
# one binary), each with discovery on (a look every second) and off, and
# with discovery and a drift watch (R5: 40 packages, 3 services, 20
# files); waits 10 s, prints VmRSS/VmHWM and the anonymous part (RssAnon).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/coc
slim=target/release/coc-agent
cargo build --release --bin coc --bin coc-agent
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" server --data-dir "$work" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
spid=$!
sleep 1
enroll() {
  "$bin" --server "http://127.0.0.1:$port" --token "$(cat "$work/admin.token")" -o json \
    enrollment create "agent-rss-$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}
coc() { "$bin" --server "http://127.0.0.1:$port" --token "$(cat "$work/admin.token")" "$@"; }
# A drift watch on the newest host: installed packages, services, files.
watch_newest() {
  local host args=()
  host=$(coc -o json resource list --type host --sort -created_at --limit 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  for p in $(dpkg-query -W -f='${Package}\n' 2>/dev/null | head -40); do args+=(--package "$p"); done
  for f in $(find /etc -maxdepth 1 -type f -readable 2>/dev/null | head -20); do args+=(--file "$f"); done
  coc drift set "$host" "${args[@]}" --service sshd --service cron --service postgres --interval 10 >/dev/null
}
run() { # label, discovery seconds, drift (yes/no), command…
  local label=$1 every=$2 drift=$3; shift 3
  "$@" --server "http://127.0.0.1:$port" --token "$(enroll "$label")" \
    --state-dir "$work/$label" --discovery-interval "$every" >"$work/$label.log" 2>&1 &
  local pid=$!
  if [ "$drift" = yes ]; then sleep 2; watch_newest; fi
  sleep 10
  printf '%-34s %s\n' "$label" "$(grep -E 'VmRSS|VmHWM|RssAnon' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd' ')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
run "coc-agent, discovery off" 0 no "$slim"
run "coc-agent, discovery every 1 s" 1 no "$slim"
run "coc-agent, discovery 1 s + drift" 1 yes "$slim"
run "coc agent, discovery off" 0 no "$bin" agent
run "coc agent, discovery every 1 s" 1 no "$bin" agent
run "coc agent, discovery 1 s + drift" 1 yes "$bin" agent
kill "$spid"; wait 2>/dev/null || true
rm -rf "$work"
