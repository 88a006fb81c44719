#!/usr/bin/env bash
# The README's test command: build everything warning-free, then run every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dotnet build CycleGanEdge.sln -c Release -nologo -clp:NoSummary
# The CUDA deployable must restore and compile too (its packages are pinned apart from the CPU ones; no GPU runs it here).
dotnet build runtime/CycleGanEdge.Run -c Release -p:Accelerator=cuda -nologo -clp:NoSummary
# A test that hangs is stopped after 15 minutes with a dump and the name of the test, instead of blocking CI forever.
# SKIP_SLOW=1 leaves out the [Trait("Category", "Slow")] tests (load, kill, fuzz, shard) for a quick local run.
filter=()
if [ "${SKIP_SLOW:-0}" = 1 ]; then filter=(--filter "Category!=Slow"); fi
dotnet test CycleGanEdge.sln -c Release --no-build -nologo --blame-hang-timeout 15m "${filter[@]}" -- RunConfiguration.DisableParallelization=false
