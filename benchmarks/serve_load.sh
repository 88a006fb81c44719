#!/usr/bin/env bash
# cyclegan-serve under load with real clients on 127.0.0.1 only (wrk for throughput and overload, ab for counted runs),
# against cyclegan-run translate on the same images, model and threads in the same run. Bounded: every client run
# has a duration (wrk -d) or a count (ab -n), and the service is stopped with SIGTERM at the end.
# Results go to benchmarks/SERVE.md by hand. Needs: wrk, apache2-utils (ab), ffmpeg (for the 256 px inputs).
#   benchmarks/serve_load.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
port=18481
model=models/emoji-noto2twemoji/noto2twemoji.onnx
for tool in wrk ab ffmpeg; do command -v $tool >/dev/null || { echo "serve_load: $tool is missing (apt-get install wrk apache2-utils ffmpeg)" >&2; exit 1; }; done

dotnet build runtime/CycleGanEdge.Run -c Release -nologo -clp:NoSummary -v q
dotnet build runtime/CycleGanEdge.Serve -c Release -nologo -clp:NoSummary -v q
run="dotnet runtime/CycleGanEdge.Run/bin/Release/net10.0/linux-x64/cyclegan-run.dll"
serve="dotnet runtime/CycleGanEdge.Serve/bin/Release/net10.0/linux-x64/cyclegan-serve.dll"

work=$(mktemp -d /tmp/serve-load.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Inputs: the 360 raw RGBA emoji at 64 px, and 60 of them scaled to 256 px.
mkdir -p "$work/64" "$work/256"
cp models/emoji-noto2twemoji/test/rawA/*.png "$work/64/"
for f in $(ls "$work/64" | head -60); do ffmpeg -loglevel error -i "$work/64/$f" -vf scale=256:256:flags=bicubic "$work/256/$f"; done
one64="$work/64/$(ls "$work/64" | head -1)"
one256="$work/256/$(ls "$work/256" | head -1)"

cat > "$work/post.lua" <<'LUA'
-- POSTs the file named in the first script argument; counts answers by status; prints them and p99 at the end.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  local f = assert(io.open(args[1], "rb")); wrk.body = f:read("*a"); f:close()
  wrk.method = "POST"; wrk.headers["Content-Type"] = "image/png"
  statuses = {}
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do for k, v in pairs(t:get("statuses")) do totals[k] = (totals[k] or 0) + v end end
  for k, v in pairs(totals) do io.write(string.format("  status %d: %d\n", k, v)) end
  io.write(string.format("  images/s (200 only): %.1f\n", (totals[200] or 0) / (summary.duration / 1e6)))
  io.write(string.format("  latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

start_service() { # $@: extra options
  $serve -m "$model" --urls "http://127.0.0.1:$port" --sessions 2 --threads 1 "$@" 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && return; sleep 0.1; done
  echo "serve_load: the service did not get ready" >&2; cat "$work/serve.log" >&2; exit 1
}
stop_service() {
  kill -TERM "$pid"; local code=0; wait "$pid" || code=$?
  echo "  service stopped with SIGTERM: exit $code"; pid=
}
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, flags: $(grep -m1 -o 'avx512_vnni' /proc/cpuinfo || echo no-vnni)"
for size in 64 256; do
  echo "== ${size}x${size} PNG"
  # translate: 2 sessions x 1 thread (as the service), 1 loader, 2 savers, PNG out; its own images/s figure (model open excluded).
  for i in 1; do
    $run translate -m "$model" "$work/$size" -o "$work/out-$size-$i" --threads 1 --jobs 1:2:2 2>/dev/null | sed -n 's/^done: .*(\(.*\) s, \(.*\) images\/s.*/  translate run '$i': \2 images\/s (\1 s)/p'
  done
  start_service
  one=$one64; [ "$size" = 256 ] && one=$one256
  # One request first (the sessions are warm at ready; this warms the HTTP path). No warm-up burst: requests it would
  # leave running when it ends would take session time from the measured run.
  curl -sf -o /dev/null --data-binary @"$one" -H "Content-Type: image/png" "http://127.0.0.1:$port/v1/models/noto2twemoji/translate"
  echo "  serve, wrk -c8 ${secs} s:"
  wrk -t2 -c8 -d${secs}s --timeout 35s -s "$work/post.lua" "http://127.0.0.1:$port/v1/models/noto2twemoji/translate" -- "$one" | grep -E "^  (status|images|latency p50)"
  stop_service
  # translate again after the service, so both see the same background load.
  $run translate -m "$model" "$work/$size" -o "$work/out-$size-2" --threads 1 --jobs 1:2:2 2>/dev/null | sed -n 's/^done: .*(\(.*\) s, \(.*\) images\/s.*/  translate run 2: \2 images\/s (\1 s)/p'
done

echo "== 2x overload: 16 connections, --max-queue 8, --timeout 5 (64 px)"
start_service --max-queue 8 --timeout 5
wrk -t2 -c16 -d${secs}s --timeout 35s -s "$work/post.lua" "http://127.0.0.1:$port/v1/models/noto2twemoji/translate" -- "$one64" | grep -E "^  (status|images|latency p50)"
stop_service

echo "== RSS after 1,000 and 10,000 requests (ab -c 8, 64 px)"
start_service
ab -q -n 1000 -c 8 -p "$one64" -T image/png "http://127.0.0.1:$port/v1/models/noto2twemoji/translate" | grep -E "^(Complete|Failed|Non-2xx)" | sed 's/^/  /'
r1=$(rss_mb); echo "  RSS after 1,000: $r1 MB"
ab -q -n 9000 -c 8 -p "$one64" -T image/png "http://127.0.0.1:$port/v1/models/noto2twemoji/translate" | grep -E "^(Complete|Failed|Non-2xx)" | sed 's/^/  /'
r2=$(rss_mb); echo "  RSS after 10,000: $r2 MB ($(awk -v a="$r1" -v b="$r2" 'BEGIN { printf "%+.1f%%", (b - a) / a * 100 }'))"

echo "== SIGTERM during load: requests in flight complete"
ab -q -n 400 -c 8 -p "$one256" -T image/png "http://127.0.0.1:$port/v1/models/noto2twemoji/translate" > "$work/ab-term.txt" 2>&1 &
abpid=$!
sleep 1
stop_service
wait $abpid || true
grep -E "^(Complete|Failed|Non-2xx)" "$work/ab-term.txt" | sed 's/^/  /' || true
echo "  (requests after the stop are refused at connect: ab counts them as failed; none is answered with an error status)"
