#:project ../runtime/CycleGanEdge.Runtime/CycleGanEdge.Runtime.csproj
// Measurements for benchmarks/TILES.md (issue 15): tiled vs whole-image output, big images, video flicker.
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- tiles   MODEL.onnx [WxH ...]  # default 1024x1024 and 2048x1536; TILES=256,512 OVERLAPS=32,64 NORMS=tile,exact
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- mosaic  MODEL_DIR_testA W H OUT.png
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- flicker MODEL.onnx            # generated clips, 320x192
//   PAN=2 nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- video MODEL.onnx WxH FRAMES TILE  # whole vs exact vs carried frames (video --temporal); PAN px/frame, 0 = still
using System.Diagnostics;
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime.Video;

string mode = args[0];
const string Emoji = "models/emoji-noto2twemoji/test/testA";
if (mode == "mosaic")
{
    var img = Mosaic(args[1], int.Parse(args[2]), int.Parse(args[3]));
    File.WriteAllBytes(args[4], ImageCodec.Encode(img, ImageFormat.Png));
    return;
}
var cpu = new TranslatorOptions { Provider = "cpu", Threads = 1, Tile = 0 };
if (mode == "video")
{
    var size = args[2].Split('x').Select(int.Parse).ToArray();
    var (w, h, frames, tile, pan) = (size[0], size[1], int.Parse(args[3]), int.Parse(args[4]), int.Parse(Environment.GetEnvironmentVariable("PAN") ?? "0"));
    var scene = Scene(Emoji, w + pan * frames, h);
    using var whole = Translator.Open(args[1], cpu);
    using var exact = Translator.Open(args[1], cpu with { Tile = tile });
    using var carried = Translator.Open(args[1], cpu with { Tile = tile, CarryStatistics = true });
    Console.WriteLine($"## {w}x{h}, {frames} frames, pan {pan} px/frame, tile {tile}");
    Console.WriteLine("| frame | whole s | exact s | carried s | carried? | drift | exact vs whole (mean/max) | carried vs whole (mean/max) |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|");
    for (int t = 0; t < frames; t++)
    {
        var frame = new byte[w * h * 4];
        for (int y = 0; y < h; y++) Array.Copy(scene.Pixels, (y * scene.Width + t * pan) * 4, frame, y * w * 4, w * 4);
        var img = new RgbaImage(w, h, frame, hasAlpha: false);
        var (a, wholeMs) = Timed(whole, img);
        var (b, exactMs) = Timed(exact, img);
        var (c, carriedMs) = Timed(carried, img);
        Console.WriteLine($"| {t + 1} | {wholeMs / 1000:0.0} | {exactMs / 1000:0.0} | {carriedMs / 1000:0.0} | {(carried.LastUsedCarriedStatistics ? "yes" : "no")} | {carried.LastStatisticsDrift:0.0000} | " +
            $"{Diff(a, b).Mean:0.000} / {Diff(a, b).Max} | {Diff(a, c).Mean:0.000} / {Diff(a, c).Max} |");
    }
    return;
}
if (mode == "tiles")
{
    var sizes = args.Length > 2 ? args[2..].Select(a => a.Split('x')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToArray() : [(1024, 1024), (2048, 1536)];
    int[] tiles = Environment.GetEnvironmentVariable("TILES")?.Split(',').Select(int.Parse).ToArray() ?? [256, 512];
    int[] overlaps = Environment.GetEnvironmentVariable("OVERLAPS")?.Split(',').Select(int.Parse).ToArray() ?? [64];
    var norms = Environment.GetEnvironmentVariable("NORMS")?.Split(',').Select(n => Enum.Parse<TileNorm>(n, ignoreCase: true)).ToArray()
        ?? [TileNorm.Tile, TileNorm.Thumbnail, TileNorm.Image, TileNorm.Exact];
    foreach (var (w, h) in sizes)
    {
        var img = Environment.GetEnvironmentVariable("IMAGE") == "scene" ? Scene(Emoji, w, h) : Mosaic(Emoji, w, h);
        using var whole = Translator.Open(args[1], cpu);
        var (expected, wholeMs) = Timed(whole, img, runs: 3); // the first run includes ONNX Runtime's set-up at this size; tiled runs report one run
        Console.WriteLine($"## {w}x{h}: whole image {wholeMs:0} ms");
        Console.WriteLine("| tile | overlap | statistics | passes | mean abs diff | max abs diff | seam score (untiled at same lines) | time vs whole |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int tile in tiles)
            foreach (int overlap in overlaps)
                foreach (var norm in norms)
                {
                    using var t = Translator.Open(args[1], cpu with { Tile = tile, TileOverlap = overlap, TileNorm = norm });
                    var (actual, ms) = Timed(t, img);
                    var (mean, max) = Diff(expected, actual);
                    var lines = SeamLines(w, h, tile, overlap);
                    Console.WriteLine($"| {tile} | {overlap} | {norm.ToString().ToLowerInvariant()} | {t.LastTilePasses} | {mean:0.000} | {max} | " +
                                      $"{SeamScore(actual, lines, overlap):0.000} ({SeamScore(expected, lines, overlap):0.000}) | {ms / wholeMs:0.00}x |");
                }
    }
    return;
}
if (mode == "flicker")
{
    using var t = Translator.Open(args[1], cpu);
    foreach (var (name, dx) in new[] { ("static camera, flashing object", 0), ("pan 3 px/frame, flashing object", 3) })
    {
        const int w = 320, h = 192, frames = 30;
        var inputs = FlickerMeasure.GeneratedClip(w, h, frames, dx);
        var perFrame = new List<byte[]>();
        var filtered = new List<byte[]>();
        var filter = new TemporalFilter();
        double translateMs = 0, filterMs = 0;
        foreach (var frame in inputs)
        {
            var output = new byte[frame.Length];
            var clock = Stopwatch.StartNew();
            t.Translate(frame, output, w, h, PixelLayout.Rgb24);
            translateMs += clock.Elapsed.TotalMilliseconds;
            perFrame.Add(output);
            var copy = (byte[])output.Clone();
            clock.Restart();
            filter.Apply(frame, copy, w, h);
            filterMs += clock.Elapsed.TotalMilliseconds;
            filtered.Add(copy);
        }
        var (before, coverage) = FlickerMeasure.Measure(inputs, perFrame, w, h, dx);
        var (after, _) = FlickerMeasure.Measure(inputs, filtered, w, h, dx);
        double fidelity = FlickerMeasure.ChangedRegionDifference(inputs, perFrame, filtered, w, h, dx);
        Console.WriteLine($"{name} ({w}x{h}, {frames} frames): flicker per frame {before:0.000}, --temporal {after:0.000} ({after / before:P0}); " +
                          $"unchanged pixels {coverage:P0}; changed-region difference from per-frame {fidelity:0.000}; " +
                          $"translate {translateMs / frames:0.0} ms/frame, filter {filterMs / frames:0.00} ms/frame ({filterMs / translateMs:P1}); shift found {filter.LastShift}");
    }
}

static (RgbaImage, double) Timed(Translator t, RgbaImage img, int runs = 1)
{
    double best = double.MaxValue;
    RgbaImage result = img;
    for (int i = 0; i < runs; i++)
    {
        var clock = Stopwatch.StartNew();
        result = t.Translate(img);
        best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
    }
    return (result, best);
}

static (double Mean, int Max) Diff(RgbaImage a, RgbaImage b)
{
    long sum = 0;
    int max = 0;
    for (int i = 0; i < a.Pixels.Length; i++)
    {
        if (i % 4 == 3) continue;
        int d = Math.Abs(a.Pixels[i] - b.Pixels[i]);
        sum += d;
        max = Math.Max(max, d);
    }
    return (sum / (a.Pixels.Length * 0.75), max);
}

// Tile borders as the translator lays them out (starts step tile - overlap; the seam is the middle of each overlap).
static (List<int> Xs, List<int> Ys) SeamLines(int w, int h, int tile, int overlap)
{
    static List<int> Lines(int total, int tile, int overlap)
    {
        var lines = new List<int>();
        int padded = (total + 3) / 4 * 4, step = tile - overlap;
        for (int s = step; s + overlap < padded; s += step)
        {
            int start = Math.Min(s, padded - tile), prevEnd = s - step + tile;
            lines.Add((start + prevEnd) / 2);
        }
        return lines;
    }
    return (Lines(w, tile, overlap), Lines(h, tile, overlap));
}

// Mean squared gradient (RGB) across the tile borders (within a third of the overlap of each line: the blend ramp)
// divided by the mean squared gradient everywhere else. Computed on the untiled output at the same lines, it says
// what the content alone gives.
static double SeamScore(RgbaImage img, (List<int> Xs, List<int> Ys) lines, int overlap)
{
    int w = img.Width, h = img.Height, half = Math.Max(1, overlap / 6);
    var nearX = new bool[w];
    var nearY = new bool[h];
    foreach (int x in lines.Xs) for (int i = Math.Max(1, x - half); i < Math.Min(w, x + half); i++) nearX[i] = true;
    foreach (int y in lines.Ys) for (int i = Math.Max(1, y - half); i < Math.Min(h, y + half); i++) nearY[i] = true;
    double border = 0, rest = 0;
    long nb = 0, nr = 0;
    for (int y = 1; y < h; y++)
        for (int x = 1; x < w; x++)
        {
            int i = (y * w + x) * 4;
            double gx = 0, gy = 0;
            for (int c = 0; c < 3; c++)
            {
                double dx = img.Pixels[i + c] - img.Pixels[i + c - 4], dy = img.Pixels[i + c] - img.Pixels[i + c - 4 * w];
                gx += dx * dx;
                gy += dy * dy;
            }
            if (nearX[x]) { border += gx; nb++; } else { rest += gx; nr++; }
            if (nearY[y]) { border += gy; nb++; } else { rest += gy; nr++; }
        }
    return border / nb / (rest / nr);
}

// Four emoji of the test split scaled up to about half the image height, on a sky-like vertical gradient: tiles see
// very different content (plain sky, parts of one emoji), so per-tile statistics differ strongly.
static RgbaImage Scene(string folder, int w, int h)
{
    var files = Directory.GetFiles(folder, "*.png").OrderBy(f => f, StringComparer.Ordinal).Take(4).ToArray();
    int side = h / 2;
    var px = new byte[w * h * 4];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int d = (y * w + x) * 4;
            px[d] = (byte)(90 + 150 * y / h);
            px[d + 1] = (byte)(150 + 90 * y / h);
            px[d + 2] = 235;
            px[d + 3] = 255;
        }
    for (int e = 0; e < files.Length; e++)
    {
        var big = Translator.Resize(ImageCodec.Decode(files[e]), side, side);
        int ox = e * (w - side) / Math.Max(1, files.Length - 1), oy = e % 2 == 0 ? h / 8 : h / 2 - h / 8;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                int s = (y * side + x) * 4, d = ((oy + y) * w + ox + x) * 4;
                int a = big.HasAlpha ? big.Pixels[s + 3] : 255;
                for (int c = 0; c < 3; c++) px[d + c] = (byte)((big.Pixels[s + c] * a + px[d + c] * (255 - a) + 127) / 255);
            }
    }
    return new RgbaImage(w, h, px, hasAlpha: false);
}

// Emoji of the test split composited on white, 64 px cells, row by row (repeating): what the model was trained on.
static RgbaImage Mosaic(string folder, int w, int h)
{
    var files = Directory.GetFiles(folder, "*.png").OrderBy(f => f, StringComparer.Ordinal).ToArray();
    var cells = files.Select(f => ImageCodec.Decode(f)).Select(e => e.Width == 64 && e.Height == 64 ? e : Translator.Resize(e, 64, 64)).ToArray();
    var px = new byte[w * h * 4];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            var cell = cells[((y / 64) * ((w + 63) / 64) + x / 64) % cells.Length];
            int s = ((y % 64) * 64 + x % 64) * 4, d = (y * w + x) * 4;
            int a = cell.HasAlpha ? cell.Pixels[s + 3] : 255;
            for (int c = 0; c < 3; c++) px[d + c] = (byte)((cell.Pixels[s + c] * a + 255 * (255 - a) + 127) / 255);
            px[d + 3] = 255;
        }
    return new RgbaImage(w, h, px, hasAlpha: false);
}

