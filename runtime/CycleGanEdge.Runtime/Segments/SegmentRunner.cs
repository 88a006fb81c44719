using System.Numerics;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Segments;

/// <summary>Where a segmented image is: segment s of n, tile t of the segment's tiles (for a progress bar over segments x tiles).</summary>
public readonly record struct SegmentProgress(int Segment, int Segments, int TilesDone, int TilesTotal, int TileOfSegment, int TilesInSegment);

/// <summary>
/// Runs a <see cref="SegmentPlan"/> over an image (TileNorm.Exact): segment by segment over the whole image, tile by tile
/// with each segment's halo. Each cut's per-channel sum and sum of squares are accumulated in float64 over the valid
/// (non-halo) pixels of its tiles, its tensor is kept in a <see cref="ScratchStore"/>, and the next segment normalises it
/// with those exact statistics. Every layer runs about once (plus halos), and the output equals the untiled run up to float
/// rounding.
/// </summary>
public sealed class SegmentRunner : IDisposable
{
    private const float ToUnit = 1f / 127.5f;

    private readonly SegmentPlan _plan;
    private readonly InferenceSession[] _sessions;
    private readonly RunOptions _runOptions = new();
    private readonly float[][] _gain, _shift;
    // The last segment that reads each stored tensor, and the segment that writes it.
    private readonly Dictionary<string, int> _lastUse = [];
    private readonly Dictionary<string, (int Segment, SegmentPlan.SegmentOutput Output)> _storedBy = [];
    private float[][] _inputs = [];
    private float[][] _outputs = [];

    public SegmentRunner(SegmentPlan plan, Func<byte[], InferenceSession> openSession)
    {
        _plan = plan;
        _sessions = new InferenceSession[plan.Segments.Count];
        try
        {
            for (int s = 0; s < _sessions.Length; s++) _sessions[s] = openSession(plan.Segments[s].Model);
        }
        catch
        {
            Dispose();
            throw;
        }
        _gain = [.. plan.Cuts.Select(c => new float[c.Channels])];
        _shift = [.. plan.Cuts.Select(c => new float[c.Channels])];
        for (int s = 0; s < plan.Segments.Count; s++)
        {
            foreach (var input in plan.Segments[s].Inputs)
                if (!input.IsImage) _lastUse[input.Tensor] = s;
            foreach (var output in plan.Segments[s].Outputs)
                _storedBy[output.Tensor] = (s, output);
        }
    }

    public SegmentPlan Plan => _plan;

    /// <summary>Bytes of stored activations an image needs at once (the peak over segments), padded to the model's multiple.</summary>
    public long ScratchBytes(int paddedWidth, int paddedHeight)
    {
        long peak = 0;
        for (int s = 0; s < _plan.Segments.Count; s++)
        {
            long live = 0;
            foreach (var (tensor, last) in _lastUse)
            {
                var (writer, output) = _storedBy[tensor];
                if (writer <= s && last >= s) live += 4L * output.Channels * output.Resolution.Of(paddedWidth) * output.Resolution.Of(paddedHeight);
            }
            peak = Math.Max(peak, live);
        }
        return peak;
    }

    /// <summary>Tiles an image runs in: for each segment, rows x columns.</summary>
    public int TileCount(int paddedWidth, int paddedHeight, int tileSide) =>
        _plan.Segments.Sum(s => (Bounds(paddedWidth, s, SideFor(s, tileSide)).Length - 1) * (Bounds(paddedHeight, s, SideFor(s, tileSide)).Length - 1));

    /// <summary>
    /// The tile side of one segment, in pixels of its finest tensor: <paramref name="tileSide"/> for a segment that reads and
    /// writes ngf channels at one resolution (the first cut's width), smaller for wider segments and larger for narrower
    /// ones, so that every segment's tiles hold about as many values and the memory of a tile's run is the same everywhere.
    /// </summary>
    private int SideFor(SegmentPlan.Segment segment, int tileSide)
    {
        double finest = segment.MaxResolution.Value;
        double values = segment.Inputs.Sum(i => i.Channels * Math.Pow(i.Resolution.Value / finest, 2)) +
                        segment.Outputs.Sum(o => o.Channels * Math.Pow(o.Resolution.Value / finest, 2));
        double reference = 2.0 * (_plan.Cuts.Count > 0 ? _plan.Cuts[0].Channels : values / 2);
        return (int)Math.Max(1, tileSide * Math.Sqrt(reference / values));
    }

    /// <summary>
    /// Translates <paramref name="src"/> (width x height, <paramref name="bpp"/> 3 or 4, already composited) into
    /// <paramref name="dst"/>. The image runs as if reflect-padded to <paramref name="paddedWidth"/> x <paramref name="paddedHeight"/>
    /// (as the whole-image run does). Tiles are at most <paramref name="tileSide"/> pixels of the segment's finest tensor.
    /// </summary>
    public void Run(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp, int paddedWidth, int paddedHeight, int tileSide,
        ScratchStore scratch, IProgress<SegmentProgress>? progress = null, CancellationToken cancel = default)
    {
        var stored = new Dictionary<string, ScratchTensor>();
        int total = TileCount(paddedWidth, paddedHeight, tileSide), done = 0;
        try
        {
            for (int s = 0; s < _plan.Segments.Count; s++)
            {
                var segment = _plan.Segments[s];
                bool last = s == _plan.Segments.Count - 1;
                foreach (int g in new[] { paddedWidth, paddedHeight })
                    if (g % segment.Granularity != 0)
                        throw new SegmentationUnsupportedException($"the padded image side {g} is not a multiple of {segment.Granularity}, the resolution step of segment {s}");
                var outputs = segment.Outputs;
                // Outputs later segments read go to the scratch store; the cut's (output 0) statistics are summed.
                var toStore = new ScratchTensor?[outputs.Count];
                for (int o = 0; o < outputs.Count; o++)
                    if (_lastUse.ContainsKey(outputs[o].Tensor))
                        toStore[o] = stored[outputs[o].Tensor] = scratch.Allocate(outputs[o].Channels, (int)outputs[o].Resolution.Of(paddedHeight), (int)outputs[o].Resolution.Of(paddedWidth));
                var cutRes = outputs[0].Resolution;
                int cutChannels = outputs[0].Channels;
                var sum = new double[cutChannels];
                var sumSquares = new double[cutChannels];
                var offset = new double[cutChannels];
                bool haveOffset = false;

                int halo = segment.Inputs.Max(i => (int)Math.Ceiling(i.Halo / i.Resolution.Value));
                halo = Translator.RoundUp(halo, segment.Granularity);
                int side = SideFor(segment, tileSide);
                int[] xs = Bounds(paddedWidth, segment, side), ys = Bounds(paddedHeight, segment, side);
                int tilesInSegment = (xs.Length - 1) * (ys.Length - 1), tileOfSegment = 0;
                if (_inputs.Length < segment.Inputs.Count) Array.Resize(ref _inputs, segment.Inputs.Count);
                if (_outputs.Length < outputs.Count) Array.Resize(ref _outputs, outputs.Count);
                var inputNames = segment.Inputs.Select(i => i.Tensor).Concat(segment.NormalisedCuts.SelectMany(c => new[] { SegmentPlan.GainInput(c), SegmentPlan.ShiftInput(c) })).ToList();
                var outputNames = outputs.Select(o => o.Tensor).ToList();
                for (int ty = 0; ty + 1 < ys.Length; ty++)
                    for (int tx = 0; tx + 1 < xs.Length; tx++)
                    {
                        cancel.ThrowIfCancellationRequested();
                        int a = ys[ty], b = ys[ty + 1], l = xs[tx], r = xs[tx + 1];
                        int runTop = Math.Max(0, a - halo), runBottom = Math.Min(paddedHeight, b + halo);
                        int runLeft = Math.Max(0, l - halo), runRight = Math.Min(paddedWidth, r + halo);
                        var values = new List<OrtValue>();
                        var outValues = new List<OrtValue>();
                        try
                        {
                            for (int i = 0; i < segment.Inputs.Count; i++)
                            {
                                var input = segment.Inputs[i];
                                var (y0, x0, h, w) = Region(input.Resolution, runTop, runLeft, runBottom, runRight);
                                var buffer = Buffer(ref _inputs[i], input.Channels * h * w);
                                if (input.IsImage) FillImage(buffer, src, width, height, bpp, x0, y0, w, h);
                                else stored[input.Tensor].Read(buffer, y0, x0, h, w);
                                values.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, input.Channels * h * w), [1, input.Channels, h, w]));
                            }
                            foreach (int cut in segment.NormalisedCuts)
                            {
                                long[] shape = [1, _gain[cut].Length, 1, 1];
                                values.Add(OrtValue.CreateTensorValueFromMemory(_gain[cut], shape));
                                values.Add(OrtValue.CreateTensorValueFromMemory(_shift[cut], shape));
                            }
                            for (int o = 0; o < outputs.Count; o++)
                            {
                                var (_, _, oh, ow) = Region(outputs[o].Resolution, runTop, runLeft, runBottom, runRight);
                                int c = outputs[o].Channels;
                                var buffer = Buffer(ref _outputs[o], c * oh * ow);
                                outValues.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, c * oh * ow), [1, c, oh, ow]));
                            }
                            try
                            {
                                _sessions[s].Run(_runOptions, inputNames, values, outputNames, outValues);
                            }
                            catch (OnnxRuntimeException e)
                            {
                                throw new InvalidOperationException($"segment {s + 1} of {_plan.Segments.Count} failed on a {runRight - runLeft}x{runBottom - runTop} tile: {e.Message}", e);
                            }
                            for (int o = 0; o < outputs.Count; o++)
                            {
                                var res = outputs[o].Resolution;
                                var (oy0, ox0, oh, ow) = Region(res, runTop, runLeft, runBottom, runRight);
                                // The valid part of the tile, in this output's pixels.
                                int vy = (int)res.Of(a) - oy0, vx = (int)res.Of(l) - ox0;
                                int vh = (int)(res.Of(b) - res.Of(a)), vw = (int)(res.Of(r) - res.Of(l));
                                var result = _outputs[o];
                                if (last && o == 0) WriteImage(result, oh, ow, vy, vx, vh, vw, oy0 + vy, ox0 + vx, src, dst, width, height, bpp);
                                if (!last && o == 0)
                                {
                                    if (!haveOffset)
                                    {
                                        // Sums about a rough mean (the first tile's) keep the variance free of cancellation.
                                        Accumulate(result, oh, ow, vy, vx, vh, vw, offset, sum, sumSquares);
                                        long n = (long)vh * vw;
                                        for (int k = 0; k < cutChannels; k++) offset[k] = sum[k] / n;
                                        Array.Clear(sum);
                                        Array.Clear(sumSquares);
                                        haveOffset = true;
                                    }
                                    Accumulate(result, oh, ow, vy, vx, vh, vw, offset, sum, sumSquares);
                                }
                                toStore[o]?.Write(result, oh, ow, vy, vx, oy0 + vy, ox0 + vx, vh, vw);
                            }
                        }
                        finally
                        {
                            foreach (var v in values) v.Dispose();
                            foreach (var v in outValues) v.Dispose();
                        }
                        ++tileOfSegment;
                        NativeHeap.Trim(); // about 0.1 ms, against a tile's run of tens of milliseconds
                        progress?.Report(new SegmentProgress(s + 1, _plan.Segments.Count, ++done, total, tileOfSegment, tilesInSegment));
                    }

                if (!last)
                {
                    var cut = _plan.Cuts[s];
                    double count = (double)cutRes.Of(paddedHeight) * cutRes.Of(paddedWidth);
                    for (int k = 0; k < cut.Channels; k++)
                    {
                        double mean = sum[k] / count;
                        double variance = Math.Max(0, sumSquares[k] / count - mean * mean);
                        mean += offset[k];
                        double gain = cut.Scale[k] / Math.Sqrt(variance + cut.Epsilon);
                        _gain[s][k] = (float)gain;
                        _shift[s][k] = (float)(cut.Bias[k] - mean * gain);
                    }
                }
                // Tensors no later segment reads are freed now.
                foreach (var (tensor, lastReader) in _lastUse)
                    if (lastReader <= s && stored.Remove(tensor, out var t)) t.Dispose();
            }
        }
        finally
        {
            foreach (var t in stored.Values) t.Dispose();
        }
    }

    /// <summary>Top, left, height and width at resolution <paramref name="res"/> of an image-pixel region.</summary>
    private static (int Y0, int X0, int H, int W) Region(Rational res, int top, int left, int bottom, int right)
    {
        int y0 = (int)res.Of(top), x0 = (int)res.Of(left);
        return (y0, x0, (int)res.Of(bottom) - y0, (int)res.Of(right) - x0);
    }

    /// <summary>Tile borders along one side of the padded image: equal parts of at most the tile side in the segment's finest tensor, on its resolution grid.</summary>
    private static int[] Bounds(int padded, SegmentPlan.Segment segment, int tileSide)
    {
        int g = segment.Granularity;
        long side = Math.Max(g, (long)(tileSide / segment.MaxResolution.Value) / g * g);
        int n = (int)Math.Max(1, (padded + side - 1) / side);
        var bounds = new int[n + 1];
        for (int i = 0; i <= n; i++) bounds[i] = (int)((long)padded * i / n / g * g);
        bounds[n] = padded;
        return [.. bounds.Distinct()];
    }

    private static float[] Buffer(ref float[] buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(length);
        return buffer;
    }

    /// <summary>The image as the model sees it: [3][h][w] in [-1, 1], past the right and bottom edges reflected back (reflect padding).</summary>
    private static void FillImage(float[] buffer, ReadOnlySpan<byte> src, int width, int height, int bpp, int x0, int y0, int w, int h)
    {
        int plane = w * h;
        for (int y = 0; y < h; y++)
        {
            var row = src.Slice(ModelFrame.Reflect(y0 + y, height) * width * bpp, width * bpp);
            int o = y * w;
            for (int x = 0; x < w; x++, o++)
            {
                int s = ModelFrame.Reflect(x0 + x, width) * bpp;
                buffer[o] = row[s] * ToUnit - 1f;
                buffer[plane + o] = row[s + 1] * ToUnit - 1f;
                buffer[2 * plane + o] = row[s + 2] * ToUnit - 1f;
            }
        }
    }

    private static void WriteImage(float[] result, int oh, int ow, int vy, int vx, int vh, int vw, int y0, int x0,
        ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp)
    {
        int plane = oh * ow;
        for (int y = 0; y < vh && y0 + y < height; y++)
        {
            int columns = Math.Min(vw, width - x0);
            int o = (vy + y) * ow + vx, d = ((y0 + y) * width + x0) * bpp;
            for (int x = 0; x < columns; x++, o++, d += bpp)
            {
                dst[d] = Translator.ClampToByte((result[o] + 1f) * 127.5f);
                dst[d + 1] = Translator.ClampToByte((result[plane + o] + 1f) * 127.5f);
                dst[d + 2] = Translator.ClampToByte((result[2 * plane + o] + 1f) * 127.5f);
                if (bpp == 4) dst[d + 3] = src[d + 3];
            }
        }
    }

    private static void Accumulate(float[] result, int oh, int ow, int vy, int vx, int vh, int vw, double[] offset, double[] sum, double[] sumSquares)
    {
        int plane = oh * ow;
        for (int c = 0; c < sum.Length; c++)
        {
            double m = offset[c];
            var mean = new Vector<double>(m);
            Vector<double> s = Vector<double>.Zero, q = Vector<double>.Zero;
            double tailSum = 0, tailSquares = 0;
            for (int y = 0; y < vh; y++)
            {
                var row = result.AsSpan(c * plane + (vy + y) * ow + vx, vw);
                int x = 0;
                for (; x + Vector<float>.Count <= row.Length; x += Vector<float>.Count)
                {
                    Vector.Widen(new Vector<float>(row[x..]), out var low, out var high);
                    low -= mean;
                    high -= mean;
                    s += low + high;
                    q += low * low + high * high;
                }
                for (; x < row.Length; x++)
                {
                    double d = row[x] - m;
                    tailSum += d;
                    tailSquares += d * d;
                }
            }
            sum[c] += Vector.Sum(s) + tailSum;
            sumSquares[c] += Vector.Sum(q) + tailSquares;
        }
    }

    public void Dispose()
    {
        foreach (var s in _sessions) s?.Dispose();
        _runOptions.Dispose();
    }
}
