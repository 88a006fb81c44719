#!/usr/bin/env bash
# The README's test command: build everything warning-free, then run every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dotnet build CycleGanEdge.sln -c Release -nologo -clp:NoSummary
# The CUDA deployable must restore and compile too (its packages are pinned apart from the CPU ones; no GPU runs it here).
dotnet build runtime/CycleGanEdge.Run -c Release -p:Accelerator=cuda -nologo -clp:NoSummary
dotnet test CycleGanEdge.sln -c Release --no-build -nologo -- RunConfiguration.DisableParallelization=false
