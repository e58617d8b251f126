#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the sample apps' tests need (a Python venv
# under target/, npm packages are installed by the tests themselves), then runs every cargo test.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh python_cases`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ -f tests/fixtures/requirements.txt ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/fixtures/requirements.txt
fi
export PATH="$PWD/$venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
# A one-off build (CI, a fresh clone) gains nothing from incremental state: it only costs time and
# disk under target/. Set CARGO_INCREMENTAL=1 to keep it while iterating on the crate.
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

cargo test --all-targets "$@"
