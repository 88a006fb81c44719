#!/usr/bin/env bash
# int8 against fp32 on this CPU and on an emulated AVX2-only x86-64 (issue 26). ONNX Runtime picks its int8 kernels from
# CPUID, so `qemu-x86_64-static -cpu Haswell` makes it take the AVX2 U8S8 kernels of a Zen 3 or an older Intel server
# (no AVX-512, no VNNI) on any x86-64 host. The models are made natively (default `cyclegan-export quantize` of each shipped
# model, calibrated on its test images; the tiny every-conv-int8 nets of the quantization tests with 8- and 7-bit weights)
# and measured in both places. Emulated runs are slow (minutes); their speed means nothing, their pixels are exact.
#   scripts/int8_cpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/int8-cpu-check}
mkdir -p "$out"
if ! command -v qemu-x86_64-static >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "int8-cpu-check: installing qemu-user-static from Debian's packages" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-user-static >/dev/null
fi
dotnet build exporter/CycleGanEdge.Export -c Release -nologo -clp:NoSummary -v q >/dev/null
dotnet build -c Release benchmarks/tools/int8_accuracy.cs -o "$out/tool" -nologo -v q >/dev/null
dotnet build runtime/CycleGanEdge.Run -c Release -nologo -clp:NoSummary -v q >/dev/null
export_cli=exporter/CycleGanEdge.Export/bin/Release/net10.0/linux-x64/cyclegan-export
run_cli=runtime/CycleGanEdge.Run/bin/Release/net10.0/linux-x64/cyclegan-run
tool=$out/tool/int8_accuracy
rm -f "$out/pairs.txt"

"$tool" tiny "$out/tiny" | tee "$out/native-tiny.txt"
for model in models/*/*.onnx; do
  case "$model" in */eval/*|*.int8.onnx) continue ;; esac
  # G_A reads domain A (testA), G_B domain B.
  if "$run_cli" info -m "$model" | grep -q "(BtoA,"; then folder=$(dirname "$model")/test/testB; else folder=$(dirname "$model")/test/testA; fi
  [ -d "$folder" ] || continue
  name=$(basename "$model" .onnx)
  "$export_cli" quantize "$model" --calibration "$folder" -o "$out/$name.int8.onnx" | grep PSNR | sed "s|^|$name (default quantize, here): |"
  echo "$model $folder" >> "$out/pairs.txt"
done

measure() { # label, then the command prefix (empty for native)
  local label=$1; shift
  while read -r model folder; do
    "$@" "$tool" psnr "$model" "$out/$(basename "$model" .onnx).int8.onnx" "$folder" 2>/dev/null || echo "$model: the run failed"
  done < "$out/pairs.txt" | tee "$out/$label-shipped.txt"
  for f in "$out"/tiny/*.fp32.onnx; do
    for bits in 8 7; do
      "$@" "$tool" psnr "$f" "${f%.fp32.onnx}.w$bits.onnx" "$out/tiny/calibration" 2>/dev/null || echo "$f w$bits: the run failed"
    done
  done | tee "$out/$label-tiny.txt"
}
measure native
measure haswell qemu-x86_64-static -cpu Haswell
echo "int8-cpu-check: results in $out/{native,haswell}-{shipped,tiny}.txt"
