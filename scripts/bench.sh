#!/usr/bin/env bash
# Benchmarks vpcnet against the kernel in the same run and writes BENCHMARKS.md.
# Needs root and bin/vpcnet (`sudo make bench` builds it first). Flags go to
# scripts/bench: -runs N, -seconds S, -idle-seconds S,
# -only figures|kernel|vpcnet|nat|idle|ops|api|observe|bringup|gobench|multi
# (or that name alone: `scripts/bench.sh api`), -out FILE.
# The environment gives the defaults: BENCH_RUNS (5), BENCH_SECONDS (5),
# BENCH_IDLE_SECONDS (60). Forwarder knobs such as VPCNET_IO and
# VPCNET_BUSYPOLL pass through to the vpcnet daemon and are named in the
# report: `sudo make bench VPCNET_IO=… BENCH_RUNS=…` (make exports them;
# a plain `VAR=… sudo make bench` loses them to sudo's env_reset).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
exec go run ./scripts/bench "$@"
