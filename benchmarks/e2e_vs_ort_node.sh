#!/usr/bin/env bash
# End to end against bare inference elsewhere (issue 18): `cyclegan-run translate` on a folder of PNGs with its default
# settings, against onnxruntime-node's pure inference (no decode, encode or files) on the same graph with all cores,
# at 256 and 64 px, in interleaved rounds so a changing load hits all of them. Also runs translate with one session
# (-j 1:1:4, its threads chosen as the default did before it opened one session per free core) as the "before". Not part of the test suite.
#   benchmarks/e2e_vs_ort_node.sh [ROUNDS] [MODEL.onnx]
# Without MODEL, an untrained resnet_9blocks ngf 64 is exported (benchmarks/tools/untrained_generator.cs).
# Rates: translate's images over its own seconds (the pipeline: model load excluded); node's after one warm-up run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
WORK=${E2E_WORK:-${TMPDIR:-/tmp}/cyclegan-e2e}
CACHE=${E2E_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cyclegan-e2e-npm}
ORT_NODE_VERSION=${ORT_NODE_VERSION:-1.30.0}
CORES=$(nproc)
mkdir -p "$WORK" "$CACHE"

if [ ! -d "$CACHE/node_modules/onnxruntime-node" ]; then
  echo "installing onnxruntime-node@$ORT_NODE_VERSION into $CACHE" >&2
  npm install --no-audit --no-fund --prefix "$CACHE" "onnxruntime-node@$ORT_NODE_VERSION" >/dev/null
fi
nice -n 10 dotnet build -c Release runtime/CycleGanEdge.Run -v q -nologo >/dev/null
RUN=runtime/CycleGanEdge.Run/bin/Release/net10.0/linux-x64/cyclegan-run
MODEL=${2:-$WORK/r9_ngf64.onnx}
[ -f "$MODEL" ] || nice -n 10 dotnet run benchmarks/tools/untrained_generator.cs -- "$MODEL" resnet_9blocks 64 >&2
[ -d "$WORK/img256" ] || nice -n 10 dotnet run benchmarks/tools/scale_images.cs -- models/emoji-noto2twemoji/test/testA "$WORK/img256" 256 24 >&2
[ -d "$WORK/img64" ] || nice -n 10 dotnet run benchmarks/tools/scale_images.cs -- models/emoji-noto2twemoji/test/testA "$WORK/img64" 64 240 >&2

translate() { # folder, extra options... -> images/s from the summary line's count and seconds (its rate has one decimal)
  local dir=$1; shift
  rm -rf "$WORK/out"
  "$RUN" translate -m "$MODEL" "$WORK/$dir" -o "$WORK/out" "$@" 2>"$WORK/settings.txt" |
    sed -n 's/^done: \([0-9]*\),.*(\([0-9.]*\) s,.*/\1 \2/p' | awk '{printf "%.3f\n", $1 / $2}'
}
node_rate() { # size, images
  NODE_PATH="$CACHE/node_modules" node benchmarks/ort_node_infer.js "$MODEL" "$1" "$2" "$CORES" | awk '{print $2}'
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $CORES cores, model $MODEL, $ROUNDS rounds"
for size in 256 64; do
  images=$([ "$size" = 256 ] && echo 24 || echo 240)
  : >"$WORK/node.$size"; : >"$WORK/before.$size"; : >"$WORK/after.$size"
  for round in $(seq "$ROUNDS"); do
    n=$(node_rate "$size" "$images"); echo "$n" >>"$WORK/node.$size"
    b=$(translate "img$size" -j 1:1:4); echo "$b" >>"$WORK/before.$size"
    before_chose=$(grep -o 'threads [^,]*([^)]*)' "$WORK/settings.txt")
    a=$(translate "img$size"); echo "$a" >>"$WORK/after.$size"
    echo "$size px round $round: onnxruntime-node $n, translate before (-j 1:1:4) $b, translate default $a images/s"
    echo "  before chose: $before_chose"
    echo "  default chose: $(grep -o 'threads [^,]*([^)]*)' "$WORK/settings.txt"), $(grep -o 'jobs [0-9:]*' "$WORK/settings.txt")"
  done
  n=$(median <"$WORK/node.$size"); b=$(median <"$WORK/before.$size"); a=$(median <"$WORK/after.$size")
  awk -v s="$size" -v n="$n" -v b="$b" -v a="$a" 'BEGIN {
    printf "%s px medians: onnxruntime-node %.3f, before %.3f, default %.3f images/s; default/node %.2fx, before/node %.2fx, default/before %.2fx\n",
      s, n, b, a, a / n, b / n, a / b }'
done
