#!/usr/bin/env bash
# The test command (README, .ci/run): the whole workspace test suite on
# SQLite and PostgreSQL, then the Prometheus end-to-end run.
#
# PostgreSQL: COC_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# Outside CI, parts whose outside program is missing are skipped with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
cargo build --bin coc
bash scripts/e2e-prometheus.sh
