#:project ../runtime/CycleGanEdge.Runtime/CycleGanEdge.Runtime.csproj
// Measurements for benchmarks/TILES.md (issue 15): tiled vs whole-image output, big images, video flicker.
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- tiles   MODEL.onnx            # 1024x1024 and 2048x1536
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- mosaic  MODEL_DIR_testA W H OUT.png
//   nice -n 10 dotnet run -c Release benchmarks/tiles.cs -- flicker MODEL.onnx            # generated clips, 320x192
using System.Diagnostics;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Imaging;
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
if (mode == "tiles")
{
    foreach (var (w, h) in new[] { (1024, 1024), (2048, 1536) })
    {
        var img = Mosaic(Emoji, w, h);
        using var whole = Translator.Open(args[1], cpu);
        var (expected, wholeMs) = Timed(whole, img);
        Console.WriteLine($"## {w}x{h}: whole image {wholeMs:0} ms");
        Console.WriteLine("| tile | overlap | statistics | passes | mean abs diff | max abs diff | seam score (untiled at same lines) | time vs whole |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int tile in new[] { 256, 512 })
            foreach (int overlap in new[] { 32, 64 })
                foreach (var norm in new[] { TileNorm.Tile, TileNorm.Thumbnail, TileNorm.Image })
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
        var inputs = Clip(w, h, frames, dx);
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
            if (Environment.GetEnvironmentVariable("SHIFTS") is not null) Console.Write($"{filter.LastShift} ");
        }
        var (before, coverage) = FlickerMeasure.Measure(inputs, perFrame, w, h, dx);
        var (after, _) = FlickerMeasure.Measure(inputs, filtered, w, h, dx);
        double fidelity = FlickerMeasure.ChangedRegionDifference(inputs, perFrame, filtered, w, h, dx);
        Console.WriteLine($"{name} ({w}x{h}, {frames} frames): flicker per frame {before:0.000}, --temporal {after:0.000} ({after / before:P0}); " +
                          $"unchanged pixels {coverage:P0}; changed-region difference from per-frame {fidelity:0.000}; " +
                          $"translate {translateMs / frames:0.0} ms/frame, filter {filterMs / frames:0.00} ms/frame ({filterMs / translateMs:P1}); shift found {filter.LastShift}");
    }
}

static (RgbaImage, double) Timed(Translator t, RgbaImage img)
{
    t.Translate(img); // warm-up
    double best = double.MaxValue;
    RgbaImage result = img;
    for (int i = 0; i < 2; i++)
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

// A static textured scene (or one panning by dx px/frame) with a square whose colour changes every frame: the
// changing square moves every instance norm's statistics, so per-frame translation flickers everywhere.
static List<byte[]> Clip(int w, int h, int frames, int dx)
{
    var rng = new Random(5);
    int sceneW = w + dx * frames;
    var scene = new byte[sceneW * h * 3];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < sceneW; x++)
        {
            int i = (y * sceneW + x) * 3;
            scene[i] = (byte)(128 + 100 * Math.Sin(x * 0.05) * Math.Cos(y * 0.03));
            scene[i + 1] = (byte)((x * 7 + y * 3) % 256);
            scene[i + 2] = (byte)rng.Next(100, 156);
        }
    var clip = new List<byte[]>();
    for (int t = 0; t < frames; t++)
    {
        var f = new byte[w * h * 3];
        int offset = sceneW - w - t * dx; // the camera pans left, so content moves right by dx per frame
        for (int y = 0; y < h; y++)
            Array.Copy(scene, (y * sceneW + offset) * 3, f, y * w * 3, w * 3);
        byte r = (byte)rng.Next(256), g = (byte)rng.Next(256), b = (byte)rng.Next(256);
        for (int y = h / 3; y < h / 3 + h / 4; y++)
            for (int x = w / 3; x < w / 3 + h / 4; x++)
            {
                int i = (y * w + x) * 3;
                (f[i], f[i + 1], f[i + 2]) = (r, g, b);
            }
        clip.Add(f);
    }
    return clip;
}
