#!/usr/bin/env bash
# CI smoke check of the asv suite (about a minute): the benchmarks import, their setup
# checks (results against a float64 reference) pass, and every benchmark runs once.
# Not a measurement: one thread, the two smallest configurations, nothing saved.
# asv run exits with 2 when a benchmark fails, and `set -e` passes that on; benchmarks
# skipped on purpose (torch not installed) report n/a and do not fail.
#
# Usage: asv_benchmarks/smoke.sh   (needs asv: pip install 'fastlstm[bench]'; uses the
# current Python and the fastlstm installed in it, offline)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python}"

# machine info, non-interactively (asv run refuses to start without it)
"$PYTHON" -m asv machine --yes >/dev/null
"$PYTHON" -m asv check --python=same
# The cold-start benchmark compiles every kernel (tens of seconds): left to full runs;
# `asv check` above has already imported and validated it.
FASTLSTM_BENCH_CONFIGS="${FASTLSTM_BENCH_CONFIGS:-step,tiny}" FASTLSTM_BENCH_THREADS=1 \
    "$PYTHON" -m asv run --python=same --quick --dry-run --show-stderr --bench '^lstm\.'
