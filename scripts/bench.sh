#!/usr/bin/env bash
# Benchmarks vpcnet against the kernel in the same run and writes BENCHMARKS.md.
# Needs root and bin/vpcnet (`sudo make bench` builds it first). Flags go to
# scripts/bench: -runs N, -seconds S, -only kernel|vpcnet|nat|ops|api|observe|bringup|gobench
# (or that name alone: `scripts/bench.sh api`), -out FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
exec go run ./scripts/bench "$@"
