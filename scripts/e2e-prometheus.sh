#!/usr/bin/env bash
# End-to-end: a real Prometheus (Debian package `prometheus`) fires an alert
# at `coc dev`; COC stores the alarm, a forwarding rule opens one incident,
# the contingency script runs on the local agent and succeeds, and the
# incident's history shows it. A second alert, muted by a silence made
# with `coc silence add` before Prometheus starts, is stored and marked
# silenced and opens no incident although a rule matches it. The same Prometheus scrapes COC's /metrics:
# the ingest counter and the connected agent show there, and every query
# of the Grafana dashboard (deploy/grafana) runs without error.
#
# Needs: target/debug/coc (built by scripts/test.sh), prometheus, python3.
# Skips when prometheus is missing, except with CI=true where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v prometheus >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "e2e: prometheus is required in CI"; exit 1; fi
  echo "e2e: SKIPPED (install Debian's 'prometheus' to run it)"
  exit 0
fi

COC="${CARGO_TARGET_DIR:-$PWD/target}/debug/coc"
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
pport=$((port + 1))
server="http://127.0.0.1:$port"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-}" != "1" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
  echo "e2e: FAILED: $*"
  echo "--- coc log"; tail -n 40 "$work/coc.log" || true
  echo "--- prometheus log"; tail -n 20 "$work/prometheus.log" || true
  echo "0 passed, 1 failed"
  exit 1
}

"$COC" dev --data-dir "$work/data" --listen "127.0.0.1:$port" --heartbeat-ms 1000 >"$work/coc.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "$server/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$server/readyz" >/dev/null || fail "coc dev did not become ready"

export COC_SERVER="$server"
COC_TOKEN="$(cat "$work/data/admin.token")"
export COC_TOKEN
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# Wait for the local agent to register its host.
for _ in $(seq 1 100); do
  n=$("$COC" resource list --type host -o json | json 'len(d["items"])')
  [ "$n" -ge 1 ] && break
  sleep 0.2
done
hostname=$("$COC" resource list --type host -o json | json 'd["items"][0]["hostname"]')

key=$("$COC" integration create prometheus --type alertmanager -o json | json 'd["key"]')
printf '#!/bin/sh\necho "e2e repair of $SERVICE on $(hostname)"\n' >"$work/repair.sh"
script=$("$COC" script create --name e2e-repair --file "$work/repair.sh" --param SERVICE:default=nginx -o json | json 'd["id"]')
cat >"$work/rule.json" <<JSON
{"name": "e2e", "conditions": [{"field": "alarmName", "op": "equals", "value": "CocE2E"},
 {"field": "alarmSource", "op": "equals", "value": "Prometheus"}],
 "incident_level": "P2", "assignee": "admin",
 "contingency_script": {"script_id": "$script", "params": {"SERVICE": "web"}}}
JSON
"$COC" rule create -f "$work/rule.json" >/dev/null
cat >"$work/rule2.json" <<JSON
{"name": "e2e-maintenance", "conditions": [{"field": "alarmName", "op": "equals", "value": "E2EMaintenance"}],
 "incident_level": "P2", "assignee": "admin"}
JSON
"$COC" rule create -f "$work/rule2.json" >/dev/null
silence=$("$COC" silence add alertname=E2EMaintenance 'instance=~".*:9100"' --duration 1h --comment "e2e maintenance" -o json | json 'd["id"]')

cat >"$work/rules.yml" <<YAML
groups:
  - name: coc-e2e
    interval: 1s
    rules:
      - alert: CocE2E
        expr: vector(1)
        labels:
          severity: critical
          instance: "$hostname:9100"
        annotations:
          summary: "end-to-end test alert"
      - alert: E2EMaintenance
        expr: vector(1)
        labels:
          severity: critical
          instance: "$hostname:9100"
YAML
cat >"$work/prometheus.yml" <<YAML
global:
  evaluation_interval: 1s
  scrape_interval: 1s
scrape_configs:
  - job_name: coc
    static_configs:
      - targets: ["127.0.0.1:$port"]
rule_files: ["$work/rules.yml"]
alerting:
  alertmanagers:
    - api_version: v2
      path_prefix: /ingest/$key
      static_configs:
        - targets: ["127.0.0.1:$port"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --rules.alert.resend-delay=2s >"$work/prometheus.log" 2>&1 &
pids+=($!)

incident=""
for _ in $(seq 1 120); do
  incident=$("$COC" incident list -o json | json '(d["items"] or [{}])[0].get("id","")')
  if [ -n "$incident" ]; then
    done_=$("$COC" incident show "$incident" -o json | json 'any(h["action"]=="ticket_result" for h in d["history"])')
    [ "$done_" = "True" ] && break
  fi
  sleep 0.5
done
[ -n "$incident" ] || fail "no incident was created from Prometheus' alert"

alarms=$("$COC" alarm list --name CocE2E -o json)
# (No `| grep -q` under pipefail: grep exits at the first match and the
# writer's broken pipe would fail the pipeline.)
source_=$(echo "$alarms" | json 'd["items"][0]["source"]')
[ "$source_" = "Prometheus" ] || fail "alarm not stored with source Prometheus"
occ=$(echo "$alarms" | json 'd["items"][0]["occurrences"]')
nalarms=$(echo "$alarms" | json 'len(d["items"])')
[ "$nalarms" = "1" ] || fail "expected one deduplicated alarm, got $nalarms"
sleep 3
ninc=$("$COC" incident list -o json | json 'len(d["items"])')
[ "$ninc" = "1" ] || fail "expected exactly one incident, got $ninc"
occ2=$("$COC" alarm list --name CocE2E -o json | json 'd["items"][0]["occurrences"]')
[ "$occ2" -gt "$occ" ] || fail "Prometheus' resends were not deduplicated into occurrences ($occ -> $occ2)"

muted=$("$COC" alarm list --name E2EMaintenance -o json)
[ "$(echo "$muted" | json 'len(d["items"])')" = "1" ] || fail "the silenced alert was not stored"
[ "$(echo "$muted" | json 'd["items"][0]["silenced_by"]')" = "$silence" ] \
  || fail "the silenced alert is not marked with its silence: $muted"
[ "$(echo "$muted" | json 'd["items"][0]["incident"]')" = "None" ] || fail "the silenced alert opened an incident"

detail=$("$COC" incident show "$incident" -o json)
result_=$(echo "$detail" | json '[h["summary"] for h in d["history"] if h["action"]=="ticket_result"][0]')
[[ "$result_" == *successful* ]] \
  || fail "the repair ticket did not succeed: $(echo "$detail" | json 'd["history"]')"
ticket=$(echo "$detail" | json '[h["ticket_id"] for h in d["history"] if h["action"]=="auto_repair"][0]')
output_=$("$COC" ticket show "$ticket" -o json | json 'd["tasks"][0]["output"]')
[[ "$output_" == *"e2e repair of web"* ]] \
  || fail "the script output is missing"

# Prometheus scraped COC's /metrics.
prom="http://127.0.0.1:$pport"
query() { curl -fsS --get "$prom/api/v1/query" --data-urlencode "query=$1"; }
ingested=0
for _ in $(seq 1 30); do
  ingested=$(query 'sum(coc_alarms_ingested_total)' | json '(d["data"]["result"] or [{"value":[0,"0"]}])[0]["value"][1]')
  [ "${ingested%.*}" -ge 1 ] 2>/dev/null && break
  sleep 1
done
[ "${ingested%.*}" -ge 1 ] || fail "Prometheus did not scrape coc_alarms_ingested_total from /metrics"
agents=$(query 'sum(coc_agents_connected)' | json 'd["data"]["result"][0]["value"][1]')
[ "$agents" = "1" ] || fail "coc_agents_connected is $agents, expected 1"
# Every dashboard query is valid PromQL over these metrics.
nq=0
while IFS= read -r expr; do
  status=$(query "$expr" | json 'd["status"]') || fail "dashboard query failed: $expr"
  [ "$status" = "success" ] || fail "dashboard query failed: $expr"
  nq=$((nq + 1))
done < <(python3 -c 'import json; [print(t["expr"]) for p in json.load(open("deploy/grafana/coc-dashboard.json"))["panels"] for t in p["targets"]]')
[ "$nq" -ge 10 ] || fail "only $nq dashboard queries found"
for m in coc_queue_depth coc_round_seconds_bucket coc_ingest_batch_seconds_bucket coc_tickets; do
  n=$(query "count($m)" | json 'len(d["data"]["result"])')
  [ "$n" -ge 1 ] || fail "$m was not scraped"
done

echo "e2e: alarm stored ($occ2 occurrences), 1 incident, repair ticket successful on $hostname; the silenced alert stored, marked, no incident"
echo "e2e: Prometheus scraped /metrics ($ingested alarms ingested, $agents agent); $nq dashboard queries valid"
echo "1 passed, 0 failed"
