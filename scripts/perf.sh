#!/usr/bin/env bash
# Side-by-side speed figures for docs/perf.md: the engine's step benchmarks
# and the PyTorch 1.13 reference, in one run on one quiet machine.
#   bash scripts/perf.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
grep -m1 'model name' /proc/cpuinfo || true
go test ./engine -run '^$' -bench 'Step' -benchmem -cpu 1 -count "$count" | tee /tmp/paramshare-bench.txt
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 scripts/torch_step_bench.py --reps 200
else
  echo "no PyTorch in /usr/bin/python3 (apt-get install python3-torch libopenblas0-openmp)"
fi
