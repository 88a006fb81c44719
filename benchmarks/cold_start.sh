#!/usr/bin/env bash
# Cold start to the first written image (issue 17): `cyclegan-run translate` on one 64x64 PNG against onnxruntime-node
# (ort_node_cold.js: same model, same size, same threads, raw output, no image codec), wall time from process start to
# exit, ROUNDS interleaved rounds (a changing load hits every variant alike), medians. Also the publish size of each
# cyclegan-run variant. Not part of the test suite.
#   benchmarks/cold_start.sh [ROUNDS] [MODEL.onnx] [IMAGE.png]
# Variants: the publish as committed (r2r: ReadyToRun), the same without ReadyToRun (jit, -p:PublishReadyToRun=false:
# main's configuration before issue 17, less the Windows DLL), and each with TieredPGO off (DOTNET_TieredPGO=0).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
MODEL=${2:-models/emoji-noto2twemoji/noto2twemoji.onnx}
IMAGE=${3:-models/emoji-noto2twemoji/test/testA/0037-fe0f-20e3.png}
WORK=${COLD_WORK:-${TMPDIR:-/tmp}/cyclegan-cold}
CACHE=${E2E_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cyclegan-e2e-npm}
ORT_NODE_VERSION=${ORT_NODE_VERSION:-1.30.0}
THREADS=${THREADS:-1}
mkdir -p "$WORK" "$CACHE"

if [ ! -d "$CACHE/node_modules/onnxruntime-node" ]; then
  echo "installing onnxruntime-node@$ORT_NODE_VERSION into $CACHE" >&2
  npm install --no-audit --no-fund --prefix "$CACHE" "onnxruntime-node@$ORT_NODE_VERSION" >/dev/null
fi
publish() { # name, extra msbuild options...
  local name=$1; shift
  rm -rf "$WORK/$name"
  nice -n 10 dotnet publish runtime/CycleGanEdge.Run -c Release -o "$WORK/$name" -v q -nologo "$@" >/dev/null
  echo "$name: publish $(du -sb "$WORK/$name" | cut -f1) bytes ($(du -sh "$WORK/$name" | cut -f1))"
}
publish r2r
publish jit -p:PublishReadyToRun=false

ms() { # command... -> wall milliseconds from start to exit
  local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000))
}
translate() { # publish dir, env...
  local dir=$1; shift
  rm -rf "$WORK/out"
  ms env "$@" "$WORK/$dir/cyclegan-run" translate -m "$MODEL" "$IMAGE" -o "$WORK/out" --threads "$THREADS"
}
node_cold() { ms env NODE_PATH="$CACHE/node_modules" node benchmarks/ort_node_cold.js "$MODEL" 64 "$THREADS" "$WORK/node.out"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

variants=(node r2r r2r_nopgo jit jit_nopgo)
for v in "${variants[@]}"; do : >"$WORK/$v.ms"; done
translate r2r >/dev/null; translate jit >/dev/null; node_cold >/dev/null # page cache warm for every variant alike
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, model $MODEL, image $IMAGE, --threads $THREADS, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for v in "${variants[@]}"; do
    case $v in
      node) t=$(node_cold) ;;
      r2r) t=$(translate r2r) ;;
      r2r_nopgo) t=$(translate r2r DOTNET_TieredPGO=0) ;;
      jit) t=$(translate jit) ;;
      jit_nopgo) t=$(translate jit DOTNET_TieredPGO=0) ;;
    esac
    echo "$t" >>"$WORK/$v.ms"; line="$line $v $t ms,"
  done
  echo "${line%,}"
done
printf 'medians (ms):'; for v in "${variants[@]}"; do printf ' %s %s' "$v" "$(median <"$WORK/$v.ms")"; done; echo
