#!/usr/bin/env bash
# The README's first command: translate the shipped sample images with the shipped models.
# Needs only the .NET SDK; builds cyclegan-run once (Release) and writes everything under out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dotnet >/dev/null 2>&1 || { echo "demo: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }

echo "==> building cyclegan-run (Release; the first build restores packages and takes a minute)"
dotnet publish runtime/CycleGanEdge.Run -c Release -o out/bin/cyclegan-run -nologo -v:q -clp:ErrorsOnly
run=out/bin/cyclegan-run/cyclegan-run

# Each shipped model folder holds its generators and a test split (testA = inputs, testB = targets).
translate() { # model-folder generator.onnx input-subfolder output-name
  local dir=models/$1
  echo "==> $2: $dir/test/$3 -> out/demo/$4"
  "$run" translate -m "$dir/$2" "$dir/test/$3" -o "out/demo/$4" --skip-existing
}
translate emoji-noto2twemoji noto2twemoji.onnx testA noto2twemoji
translate emoji-noto2twemoji twemoji2noto.onnx testB twemoji2noto
translate fluent-flat2threed flat2threed.onnx testA flat2threed
translate fluent-flat2threed threed2flat.onnx testB threed2flat

echo "==> side-by-side pages (input | output | truth)"
"$run" eval --translated out/demo/noto2twemoji --input models/emoji-noto2twemoji/test/testA \
  --ground-truth models/emoji-noto2twemoji/test/testB -o out/demo/report-noto2twemoji --grid 12 >/dev/null
"$run" eval --translated out/demo/flat2threed --input models/fluent-flat2threed/test/testA \
  --ground-truth models/fluent-flat2threed/test/testB -o out/demo/report-flat2threed --grid 12 >/dev/null
echo
echo "Done. Translated images: out/demo/noto2twemoji, out/demo/twemoji2noto, out/demo/flat2threed, out/demo/threed2flat"
echo "Open out/demo/report-*/index.html for inputs, outputs and scores side by side."
