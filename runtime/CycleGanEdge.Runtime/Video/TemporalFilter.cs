namespace CycleGanEdge.Runtime.Video;

/// <summary>
/// Model-blind flicker reduction for <c>video --temporal</c>. Each RGB24 output frame is blended with the previous
/// (already blended) output where the input did not change since the previous frame: after following the frame's
/// global motion (an integer shift found by matching sampled pixels, for pans), a pixel whose input differs by at most
/// <see cref="Threshold"/> levels keeps <see cref="Strength"/> of the previous output; the weight falls to 0 at twice
/// the threshold, so moving and changing parts keep the per-frame output exactly.
/// </summary>
public sealed class TemporalFilter
{
    /// <summary>Largest per-channel input difference still taken as "unchanged" (room for compression noise).</summary>
    public int Threshold { get; init; } = 6;
    /// <summary>Weight of the previous output where the input is unchanged (an exponential moving average).</summary>
    public float Strength { get; init; } = 0.8f;
    /// <summary>Largest global motion followed, in pixels per frame.</summary>
    public int MaxShift { get; init; } = 16;

    private byte[] _previousInput = [], _previousOutput = [];
    private int _width, _height;

    /// <summary>Motion found between the last two frames: the content moved by (Dx, Dy) pixels.</summary>
    public (int Dx, int Dy) LastShift { get; private set; }

    /// <summary>Replaces <paramref name="output"/> (this frame's translation of <paramref name="input"/>) with the blended frame.</summary>
    public void Apply(ReadOnlySpan<byte> input, Span<byte> output, int width, int height)
    {
        int bytes = width * height * 3;
        bool first = width != _width || height != _height;
        if (first)
        {
            _width = width;
            _height = height;
            _previousInput = new byte[bytes];
            _previousOutput = new byte[bytes];
        }
        if (!first)
        {
            LastShift = FindShift(input, width, height);
            Blend(input, output, width, height, LastShift.Dx, LastShift.Dy);
        }
        input[..bytes].CopyTo(_previousInput);
        output[..bytes].CopyTo(_previousOutput);
    }

    private void Blend(ReadOnlySpan<byte> input, Span<byte> output, int width, int height, int dx, int dy)
    {
        float perLevel = Strength / Math.Max(1, Threshold);
        for (int y = 0; y < height; y++)
        {
            int py = y - dy;
            if (py < 0 || py >= height) continue;
            for (int x = Math.Max(0, dx); x < Math.Min(width, width + dx); x++)
            {
                int i = (y * width + x) * 3, p = (py * width + x - dx) * 3;
                int d = Math.Max(Math.Abs(input[i] - _previousInput[p]),
                        Math.Max(Math.Abs(input[i + 1] - _previousInput[p + 1]), Math.Abs(input[i + 2] - _previousInput[p + 2])));
                if (d >= 2 * Threshold) continue;
                float a = d <= Threshold ? Strength : (2 * Threshold - d) * perLevel;
                output[i] = (byte)(output[i] + a * (_previousOutput[p] - output[i]) + 0.5f);
                output[i + 1] = (byte)(output[i + 1] + a * (_previousOutput[p + 1] - output[i + 1]) + 0.5f);
                output[i + 2] = (byte)(output[i + 2] + a * (_previousOutput[p + 2] - output[i + 2]) + 0.5f);
            }
        }
    }

    /// <summary>
    /// Global shift that best maps the previous input onto this one: every shift up to <see cref="MaxShift"/> is
    /// scored on the same ~1,000 pixels of a sparse grid (so the cost does not grow with the frame size). No motion
    /// wins ties (static cameras), then the smaller shift.
    /// </summary>
    private (int Dx, int Dy) FindShift(ReadOnlySpan<byte> input, int width, int height)
    {
        int step = Math.Max(1, (int)Math.Sqrt((double)width * height / 1024));
        int bx = 0, by = 0;
        double best = Cost(input, width, height, step, 0, 0);
        for (int sy = -MaxShift; sy <= MaxShift; sy++)
            for (int sx = -MaxShift; sx <= MaxShift; sx++)
            {
                double cost = Cost(input, width, height, step, sx, sy);
                if (cost < best || (cost == best && Math.Abs(sx) + Math.Abs(sy) < Math.Abs(bx) + Math.Abs(by))) (best, bx, by) = (cost, sx, sy);
            }
        return (bx, by);
    }

    /// <summary>Mean absolute grey (R + 2G + B) difference on the sampled grid inside the frame's central part, for content moved by (sx, sy).</summary>
    private double Cost(ReadOnlySpan<byte> input, int width, int height, int step, int sx, int sy)
    {
        long sum = 0;
        int n = 0;
        for (int y = MaxShift; y < height - MaxShift; y += step)
            for (int x = MaxShift, i = (y * width + x) * 3; x < width - MaxShift; x += step, i += 3 * step, n++)
            {
                int p = i - (sy * width + sx) * 3;
                sum += Math.Abs(input[i] + 2 * input[i + 1] + input[i + 2] - _previousInput[p] - 2 * _previousInput[p + 1] - _previousInput[p + 2]);
            }
        return n == 0 ? 0 : (double)sum / n;
    }
}

/// <summary>Flicker measures of a translated clip (RGB24 frames), for tests and benchmarks/TILES.md.</summary>
public static class FlickerMeasure
{
    /// <summary>
    /// Mean absolute difference (levels) between consecutive outputs where the input, shifted by the clip's known
    /// motion (dx, dy) per frame, is exactly equal; with no motion that is the flicker in static regions, with a pan
    /// the warping error. Also returns the share of pixels that counted.
    /// </summary>
    public static (double Flicker, double Coverage) Measure(IReadOnlyList<byte[]> inputs, IReadOnlyList<byte[]> outputs, int width, int height, int dx = 0, int dy = 0)
    {
        double sum = 0;
        long n = 0, all = 0;
        for (int t = 1; t < inputs.Count; t++)
            for (int y = Math.Max(0, dy); y < Math.Min(height, height + dy); y++)
                for (int x = Math.Max(0, dx); x < Math.Min(width, width + dx); x++)
                {
                    all++;
                    int i = (y * width + x) * 3, p = ((y - dy) * width + x - dx) * 3;
                    if (inputs[t][i] != inputs[t - 1][p] || inputs[t][i + 1] != inputs[t - 1][p + 1] || inputs[t][i + 2] != inputs[t - 1][p + 2]) continue;
                    sum += Math.Abs(outputs[t][i] - outputs[t - 1][p]) + Math.Abs(outputs[t][i + 1] - outputs[t - 1][p + 1]) + Math.Abs(outputs[t][i + 2] - outputs[t - 1][p + 2]);
                    n += 3;
                }
        return (n == 0 ? 0 : sum / n, all == 0 ? 0 : n / 3.0 / all);
    }

    /// <summary>Mean absolute difference (levels) between filtered and per-frame outputs where the input changed (same motion convention).</summary>
    public static double ChangedRegionDifference(IReadOnlyList<byte[]> inputs, IReadOnlyList<byte[]> perFrame, IReadOnlyList<byte[]> filtered, int width, int height, int dx = 0, int dy = 0)
    {
        double sum = 0;
        long n = 0;
        for (int t = 1; t < inputs.Count; t++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int i = (y * width + x) * 3, px = x - dx, py = y - dy;
                    if (px >= 0 && px < width && py >= 0 && py < height)
                    {
                        int p = (py * width + px) * 3;
                        if (inputs[t][i] == inputs[t - 1][p] && inputs[t][i + 1] == inputs[t - 1][p + 1] && inputs[t][i + 2] == inputs[t - 1][p + 2]) continue;
                    }
                    for (int c = 0; c < 3; c++) sum += Math.Abs(perFrame[t][i + c] - filtered[t][i + c]);
                    n += 3;
                }
        return n == 0 ? 0 : sum / n;
    }

    /// <summary>
    /// A generated RGB24 clip: a static textured scene (or one panning right by <paramref name="dx"/> px per frame) with a
    /// square, fixed on screen, whose colour changes every frame. The square moves every instance norm's statistics, so
    /// per-frame translation flickers everywhere; elsewhere consecutive inputs are exactly equal (after the pan).
    /// </summary>
    public static List<byte[]> GeneratedClip(int width, int height, int frames, int dx, int seed = 5)
    {
        var rng = new Random(seed);
        int sceneW = width + dx * frames;
        var scene = new byte[sceneW * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < sceneW; x++)
            {
                int i = (y * sceneW + x) * 3;
                scene[i] = (byte)(128 + 100 * Math.Sin(x * 0.05) * Math.Cos(y * 0.03));
                scene[i + 1] = (byte)((x * 7 + y * 3) % 256);
                scene[i + 2] = (byte)rng.Next(100, 156);
            }
        var clip = new List<byte[]>();
        int side = height / 4;
        for (int t = 0; t < frames; t++)
        {
            var f = new byte[width * height * 3];
            int offset = sceneW - width - t * dx; // the view moves left over the scene: content moves right
            for (int y = 0; y < height; y++)
                Array.Copy(scene, (y * sceneW + offset) * 3, f, y * width * 3, width * 3);
            byte r = (byte)rng.Next(256), g = (byte)rng.Next(256), b = (byte)rng.Next(256);
            for (int y = height / 3; y < height / 3 + side; y++)
                for (int x = width / 3; x < width / 3 + side; x++)
                {
                    int i = (y * width + x) * 3;
                    (f[i], f[i + 1], f[i + 2]) = (r, g, b);
                }
            clip.Add(f);
        }
        return clip;
    }
}
