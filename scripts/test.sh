#!/usr/bin/env bash
# The README's test command: build everything warning-free, then run every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dotnet build CycleGanEdge.sln -c Release -nologo -clp:NoSummary
dotnet test CycleGanEdge.sln -c Release --no-build -nologo -- RunConfiguration.DisableParallelization=false
