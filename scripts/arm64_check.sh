#!/usr/bin/env bash
# Builds the linux-arm64 cyclegan-run on this x86-64 machine and runs it under user-mode emulation (QEMU): --version,
# info, translate and a short bench; then compares its pixels with the linux-x64 build's on the same images, fp32 and
# int8. Run by hand, as root (not part of the test suite: emulation is slow). Ends with one PASS or FAIL line.
# Exit codes: 0 pass, 1 a check failed, 2 this machine cannot run the check. Speed under emulation means nothing.
#   ARM64_CHECK_IMAGES=N (default 4): images translated per shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
images=${ARM64_CHECK_IMAGES:-4}
work=out/arm64-check
arm_dir=out/publish/cyclegan-run-linux-arm64
x64_dir=out/publish/cyclegan-run-linux-x64
# fp32: the same float kernels give the same bytes up to rounding. int8: the int8 file is identical, but ONNX Runtime's
# x86 (VNNI) and ARM int8 kernels round differently, and the difference grows through the layers; the bound is about
# the int8 file's own distance from fp32 (docs/building.md has the measured figures).
fp32_max=1
int8_max=32 int8_mean=1.0

# Every way out prints one verdict line: a failing command (set -e) ends here with the step it was in.
step=start
verdict() { step=reported; echo "arm64-check: $1"; }
on_exit() {
  local rc=$?
  [ "$step" = reported ] || { echo "arm64-check: FAIL at \"$step\" (exit $rc; see the output above)"; exit 1; }
}
trap on_exit EXIT
cannot() { verdict "FAIL: $*"; exit 2; }
timed() { # label command...: runs the command, then prints how long it took
  local start=$SECONDS
  "$@"
  echo "    ($1 ${*:2:1}: $((SECONDS - start)) s)"
}

[ "$(uname -m)" = x86_64 ] || cannot "this check emulates ARM64 on an x86-64 machine; on an ARM64 machine run the linux-arm64 cyclegan-run directly"
[ "$(id -u)" -eq 0 ] || cannot "run as root: the emulated run bind-mounts a file over /proc/cpuinfo in a private mount namespace (unshare -m)"
command -v dotnet >/dev/null 2>&1 || cannot "the .NET 10 SDK is required (dotnet not on PATH)"

step="install Debian packages"
need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || need+=(binutils-aarch64-linux-gnu)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]} from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
unshare -m --propagation private true 2>/dev/null \
  || cannot "unshare -m failed: no private mount namespace here (a container without CAP_SYS_ADMIN?)"

step="publish"
publish() { # rid folder
  dotnet publish runtime/CycleGanEdge.Run -c Release -r "$1" --self-contained -o "$2" -nologo -v:q -clp:ErrorsOnly
}
echo "==> dotnet publish -r linux-arm64 and -r linux-x64 (self-contained)"
timed publish linux-arm64 "$arm_dir"
timed publish linux-x64 "$x64_dir"
# The ELF e_machine field (2 bytes at offset 18): 183 is AArch64, 62 is x86-64.
for lib in cyclegan-run libonnxruntime.so libSkiaSharp.so libcoreclr.so; do
  machine=$(od -An -tu2 -j18 -N2 "$arm_dir/$lib" | tr -d ' ')
  [ "$machine" = 183 ] || { echo "$arm_dir/$lib: ELF machine $machine, not AArch64 (183)" >&2; false; }
done
echo "    natives in $arm_dir are AArch64 ELF files"

# ONNX Runtime's cpuinfo library reads /proc/cpuinfo at start-up to learn the cores (vendor, part, features). User-mode
# QEMU shows the emulated program the host's file, an x86 one, which the ARM parser does not expect: it segfaults inside
# libonnxruntime.so. A private mount namespace gets an ARM file (a 2-core Neoverse-N1, the CPU QEMU is told to emulate)
# over /proc/cpuinfo for the emulated process only; the rest of the machine keeps its own.
mkdir -p "$work"
cpuinfo=$work/cpuinfo-neoverse-n1
for ((i = 0; i < $(nproc); i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$i"
done >"$cpuinfo"
arm() { # runs the linux-arm64 cyclegan-run under QEMU with these arguments
  unshare -m --propagation private -- sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$cpuinfo" \
    qemu-aarch64-static -cpu neoverse-n1 -L /usr/aarch64-linux-gnu "$arm_dir/cyclegan-run" "$@"
}
x64() { "$x64_dir/cyclegan-run" "$@"; }

step="--version"
echo "==> emulated: cyclegan-run --version"
version=$(arm --version)
[ "$version" = "$(x64 --version)" ] || { echo "arm64 --version '$version' differs from x64 '$(x64 --version)'" >&2; false; }
echo "    $version"

step="info"
echo "==> emulated: cyclegan-run info"
timed arm info -m models/emoji-noto2twemoji/noto2twemoji.onnx | grep -E '^(translates|providers):|\(arm info'

step="make the int8 model"
echo "==> cyclegan-export quantize (x64) of noto2twemoji.onnx, calibrated on its test split"
# Its build prints a summary even when quiet: the log is shown only when it fails.
dotnet build exporter/CycleGanEdge.Export -c Release -nologo -v:q >"$work/exporter-build.log" 2>&1 || { cat "$work/exporter-build.log"; false; }
int8=$work/noto2twemoji.int8.onnx
exporter/CycleGanEdge.Export/bin/Release/net10.0/linux-x64/cyclegan-export quantize models/emoji-noto2twemoji/noto2twemoji.onnx \
  --calibration models/emoji-noto2twemoji/test/testA -o "$int8" | grep -E '^int8 vs fp32'
dotnet build benchmarks/tools/image_diff.cs -c Release -o "$work/image_diff" -nologo -v:q -clp:ErrorsOnly

step="translate"
rm -rf "$work/in" "$work/arm64" "$work/x64"
mkdir -p "$work/in"
translate_both() { # name model.onnx input-folder: the first $images inputs, by both builds, 1 thread each (repeatable rounding)
  mkdir -p "$work/in/$1"
  local inputs=("$3"/*.png)
  cp "${inputs[@]:0:$images}" "$work/in/$1"
  echo "==> translate $1: $images images of $3"
  timed arm translate -m "$2" "$work/in/$1" -o "$work/arm64/$1" --threads 1 2>&1 | grep -E '^done|\(arm '
  x64 translate -m "$2" "$work/in/$1" -o "$work/x64/$1" --threads 1 2>/dev/null >/dev/null
}
translate_both noto2twemoji models/emoji-noto2twemoji/noto2twemoji.onnx models/emoji-noto2twemoji/test/testA
translate_both flat2threed models/fluent-flat2threed/flat2threed.onnx models/fluent-flat2threed/test/testA
translate_both noto2twemoji-int8 "$int8" models/emoji-noto2twemoji/test/testA

step="bench"
echo "==> emulated: cyclegan-run bench at 64 px, fp32 and int8 (emulated speed; says nothing about a real board)"
timed arm bench -m models/emoji-noto2twemoji/noto2twemoji.onnx -m "$int8" --sizes 64 --threads 1 --iters 2 --warmup 0 --no-peak

step="compare pixels"
echo "==> pixels, arm64 against x64"
failed=()
compare() { # name max-levels [max-mean]
  printf '    %-18s ' "$1:"
  local rc=0
  "$work/image_diff/image_diff" "$work/x64/$1" "$work/arm64/$1" "${@:2}" || rc=$?
  [ $rc -eq 0 ] || { [ $rc -eq 1 ] && failed+=("$1"); } || false
}
compare noto2twemoji $fp32_max
compare flat2threed $fp32_max
compare noto2twemoji-int8 $int8_max $int8_mean

if [ ${#failed[@]} -gt 0 ]; then
  verdict "FAIL: arm64 pixels outside the bound for ${failed[*]}"
  exit 1
fi
verdict "PASS: linux-arm64 cyclegan-run ran --version, info, translate and bench under QEMU (neoverse-n1); pixels match x64 (fp32 within $fp32_max level, int8 within max $int8_max / mean $int8_mean)"
