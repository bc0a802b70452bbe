#!/usr/bin/env bash
# The test command (README, .ci/run): the whole workspace test suite on
# SQLite and PostgreSQL (the store suite runs each test on both; the server
# suite runs once on SQLite and once more on PostgreSQL), then the
# Prometheus end-to-end run.
#
# PostgreSQL: COC_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# Outside CI, parts whose outside program is missing are skipped with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
# The server suite again, each harness on a PostgreSQL database of its own.
pg="${COC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if psql "$pg" -qc 'SELECT 1' >/dev/null 2>&1; then
  COC_TEST_SERVER_DB=postgres COC_TEST_DATABASE_URL="$pg" cargo test -p coc-server --test integration
  for db in $(psql "$pg" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'coc_srv_%'"); do
    psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  done
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is required in CI ($pg)"; exit 1
else
  echo "server suite on PostgreSQL: SKIPPED (no PostgreSQL at $pg)"
fi
cargo build --bin coc
bash scripts/e2e-prometheus.sh
