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
    // Per cut, the mean and variance behind _gain and _shift (the offset of the next frame's sums), and the padded size they were measured at.
    private readonly double[][] _mean, _variance;
    private (int Width, int Height) _statisticsSize;
    // RunCarried: tile buffers of the segments' outputs, reused from tile to tile and frame to frame.
    private readonly List<float[]> _free = [];
    // The last segment that reads each stored tensor, and the segment that writes it.
    private readonly Dictionary<string, int> _lastUse = [];
    private readonly Dictionary<string, (int Segment, SegmentPlan.SegmentOutput Output)> _storedBy = [];
    private readonly List<string>[] _inputNames, _outputNames;
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
        _mean = [.. plan.Cuts.Select(c => new double[c.Channels])];
        _variance = [.. plan.Cuts.Select(c => new double[c.Channels])];
        _inputNames = [.. plan.Segments.Select(s => s.Inputs.Select(i => i.Tensor).Concat(s.NormalisedCuts.SelectMany(c => new[] { SegmentPlan.GainInput(c), SegmentPlan.ShiftInput(c) })).ToList())];
        _outputNames = [.. plan.Segments.Select(s => s.Outputs.Select(o => o.Tensor).ToList())];
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
    public long ScratchBytes(int paddedWidth, int paddedHeight, int bytesPerValue)
    {
        long peak = 0;
        for (int s = 0; s < _plan.Segments.Count; s++)
        {
            long live = 0;
            foreach (var (tensor, last) in _lastUse)
            {
                var (writer, output) = _storedBy[tensor];
                if (writer <= s && last >= s) live += (long)bytesPerValue * output.Channels * output.Resolution.Of(paddedWidth) * output.Resolution.Of(paddedHeight);
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
        _statisticsSize = default; // set again once every cut's statistics are measured
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
                            AddInputs(s, values, src, width, height, bpp, runTop, runLeft, runBottom, runRight,
                                (input, buffer, y0, x0, h, w) => stored[input.Tensor].Read(buffer, y0, x0, h, w));
                            for (int o = 0; o < outputs.Count; o++)
                            {
                                var (_, _, oh, ow) = Region(outputs[o].Resolution, runTop, runLeft, runBottom, runRight);
                                int c = outputs[o].Channels;
                                var buffer = Buffer(ref _outputs[o], c * oh * ow);
                                outValues.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, c * oh * ow), [1, c, oh, ow]));
                            }
                            RunSegment(s, values, outValues, runRight - runLeft, runBottom - runTop);
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

                if (!last) SetStatistics(s, sum, sumSquares, offset, (double)cutRes.Of(paddedHeight) * cutRes.Of(paddedWidth));
                // Tensors no later segment reads are freed now.
                foreach (var (tensor, lastReader) in _lastUse)
                    if (lastReader <= s && stored.Remove(tensor, out var t)) t.Dispose();
            }
            _statisticsSize = (paddedWidth, paddedHeight);
        }
        finally
        {
            foreach (var t in stored.Values) t.Dispose();
        }
    }

    /// <summary>Whether <see cref="RunCarried"/> has statistics for this padded size: those of the last complete run.</summary>
    public bool HasStatistics(int paddedWidth, int paddedHeight) => _statisticsSize == (paddedWidth, paddedHeight);

    /// <summary>Image pixels a tile of <see cref="RunCarried"/> reaches beyond its core: the halos of all segments, chained.</summary>
    public int CarriedReach
    {
        get
        {
            var (margin, halo, _) = CarriedMargins();
            return margin[0] + halo[0];
        }
    }

    /// <summary>
    /// Video with carried statistics (video --temporal): every instance norm uses the statistics of the previous run (frame
    /// t-1's), so the whole generator is a known per-pixel map after each convolution and a tile can flow through all
    /// segments in turn, with the halo that the later segments need, storing no whole-image activation: one pass per frame.
    /// On the way each cut's statistics are summed over the tiles' cores (as computed under the carried ones); they replace
    /// the carried ones at the end, for the next frame. Tiles are at most <paramref name="tileSide"/> with their halo while at
    /// least half of the tile is core. Returns the drift: the largest change, over cuts and channels, of a norm's mean (in
    /// carried standard deviations) plus its relative change of standard deviation. Carrying is a feedback loop (each norm's
    /// statistics are measured under the previous frame's upstream ones), so drift is also how far this frame may be off.
    /// </summary>
    public double RunCarried(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp, int paddedWidth, int paddedHeight, int tileSide,
        CancellationToken cancel = default)
    {
        if (!HasStatistics(paddedWidth, paddedHeight))
            throw new InvalidOperationException($"no statistics of a {paddedWidth}x{paddedHeight} image to carry: run one exactly first");
        var (margin, halo, grid) = CarriedMargins();
        foreach (int g in new[] { paddedWidth, paddedHeight })
            if (g % grid != 0)
                throw new SegmentationUnsupportedException($"the padded image side {g} is not a multiple of {grid}, the resolution step of the segments");
        int core = Math.Max(grid, Math.Max(tileSide - 2 * (margin[0] + halo[0]), tileSide / 2) / grid * grid);
        int[] ys = EqualParts(paddedHeight, core, grid), xs = EqualParts(paddedWidth, core, grid);
        int cuts = _plan.Cuts.Count;
        var sum = _plan.Cuts.Select(c => new double[c.Channels]).ToArray();
        var sumSquares = _plan.Cuts.Select(c => new double[c.Channels]).ToArray();
        // This tile's stored tensors: each over the run region of the segment that wrote it, at its own resolution.
        var tensors = new Dictionary<string, TileTensor>();
        int maxInputs = _plan.Segments.Max(s => s.Inputs.Count);
        if (_inputs.Length < maxInputs) Array.Resize(ref _inputs, maxInputs);
        try
        {
            for (int ty = 0; ty + 1 < ys.Length; ty++)
                for (int tx = 0; tx + 1 < xs.Length; tx++)
                {
                    cancel.ThrowIfCancellationRequested();
                    int a = ys[ty], b = ys[ty + 1], l = xs[tx], r = xs[tx + 1];
                    for (int s = 0; s < _plan.Segments.Count; s++)
                    {
                        var segment = _plan.Segments[s];
                        bool last = s == _plan.Segments.Count - 1;
                        int reach = margin[s] + halo[s];
                        int runTop = Math.Max(0, a - reach), runBottom = Math.Min(paddedHeight, b + reach);
                        int runLeft = Math.Max(0, l - reach), runRight = Math.Min(paddedWidth, r + reach);
                        var values = new List<OrtValue>();
                        var outValues = new List<OrtValue>();
                        var results = new TileTensor[segment.Outputs.Count];
                        try
                        {
                            AddInputs(s, values, src, width, height, bpp, runTop, runLeft, runBottom, runRight,
                                (input, buffer, y0, x0, h, w) => tensors[input.Tensor].CopyTo(buffer, input.Channels, y0, x0, h, w));
                            for (int o = 0; o < segment.Outputs.Count; o++)
                            {
                                var output = segment.Outputs[o];
                                var (y0, x0, h, w) = Region(output.Resolution, runTop, runLeft, runBottom, runRight);
                                results[o] = new TileTensor(Rent(output.Channels * h * w), y0, x0, h, w);
                                outValues.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, results[o].Buffer.AsMemory(0, output.Channels * h * w), [1, output.Channels, h, w]));
                            }
                            RunSegment(s, values, outValues, runRight - runLeft, runBottom - runTop);
                        }
                        finally
                        {
                            foreach (var v in values) v.Dispose();
                            foreach (var v in outValues) v.Dispose();
                        }
                        for (int o = 0; o < results.Length; o++)
                        {
                            var res = segment.Outputs[o].Resolution;
                            var t = results[o];
                            // The tile's core, in this output's pixels.
                            int vy = (int)res.Of(a) - t.Y0, vx = (int)res.Of(l) - t.X0;
                            int vh = (int)(res.Of(b) - res.Of(a)), vw = (int)(res.Of(r) - res.Of(l));
                            if (last && o == 0) WriteImage(t.Buffer, t.H, t.W, vy, vx, vh, vw, t.Y0 + vy, t.X0 + vx, src, dst, width, height, bpp);
                            if (!last && o == 0) Accumulate(t.Buffer, t.H, t.W, vy, vx, vh, vw, _mean[s], sum[s], sumSquares[s]);
                            if (_lastUse.ContainsKey(segment.Outputs[o].Tensor)) tensors[segment.Outputs[o].Tensor] = t;
                            else _free.Add(t.Buffer);
                        }
                        foreach (var input in segment.Inputs)
                            if (!input.IsImage && _lastUse[input.Tensor] == s && tensors.Remove(input.Tensor, out var done)) _free.Add(done.Buffer);
                    }
                }
        }
        finally
        {
            foreach (var t in tensors.Values) _free.Add(t.Buffer);
        }
        double drift = 0;
        for (int k = 0; k < cuts; k++)
        {
            var res = _plan.Cuts[k].Resolution;
            var (mean, variance) = (_mean[k].ToArray(), _variance[k].ToArray());
            SetStatistics(k, sum[k], sumSquares[k], _mean[k], (double)res.Of(paddedHeight) * res.Of(paddedWidth));
            for (int c = 0; c < mean.Length; c++)
            {
                double sd = Math.Sqrt(variance[c] + _plan.Cuts[k].Epsilon);
                drift = Math.Max(drift, Math.Abs(_mean[k][c] - mean[c]) / sd + Math.Abs(Math.Sqrt(_variance[k][c] + _plan.Cuts[k].Epsilon) / sd - 1));
            }
        }
        return drift;
    }

    /// <summary>
    /// Per segment, how far beyond a tile's core (image pixels) its outputs must be valid so that every later segment's halo
    /// is covered (0 for the last), and its own halo; both on the grid every segment's resolutions divide.
    /// </summary>
    private (int[] Margin, int[] Halo, int Grid) CarriedMargins()
    {
        int n = _plan.Segments.Count;
        int grid = (int)_plan.Segments.Aggregate(1L, (g, s) => g / Gcd(g, s.Granularity) * s.Granularity);
        var halo = _plan.Segments.Select(s => Translator.RoundUp(s.Inputs.Max(i => (int)Math.Ceiling(i.Halo / i.Resolution.Value)), grid)).ToArray();
        var margin = new int[n];
        for (int s = n - 1; s >= 0; s--)
            foreach (var input in _plan.Segments[s].Inputs)
                if (!input.IsImage)
                {
                    int writer = _storedBy[input.Tensor].Segment;
                    margin[writer] = Math.Max(margin[writer], margin[s] + halo[s]);
                }
        return (margin, halo, grid);
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>Borders of equal parts of at most <paramref name="side"/> along <paramref name="length"/>, on the grid.</summary>
    private static int[] EqualParts(int length, int side, int grid)
    {
        int n = (length + side - 1) / side;
        var bounds = new int[n + 1];
        for (int i = 0; i <= n; i++) bounds[i] = (int)((long)length * i / n / grid * grid);
        bounds[n] = length;
        return [.. bounds.Distinct()];
    }

    /// <summary>A free tile buffer of at least <paramref name="length"/> floats (the smallest that fits), or a new one.</summary>
    private float[] Rent(int length)
    {
        int best = -1;
        for (int i = 0; i < _free.Count; i++)
            if (_free[i].Length >= length && (best < 0 || _free[i].Length < _free[best].Length)) best = i;
        if (best < 0) return GC.AllocateUninitializedArray<float>(length);
        var buffer = _free[best];
        _free.RemoveAt(best);
        return buffer;
    }

    /// <summary>A segment's output over one tile's run region: rows Y0.., columns X0.. (H x W) at its resolution, [C][H][W].</summary>
    private readonly record struct TileTensor(float[] Buffer, int Y0, int X0, int H, int W)
    {
        /// <summary>Copies the h x w region at (y0, x0) (the tensor's own coordinates, inside this one) into <paramref name="tile"/> ([C][h][w]).</summary>
        public void CopyTo(float[] tile, int channels, int y0, int x0, int h, int w)
        {
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < h; y++)
                    Buffer.AsSpan((c * H + y0 - Y0 + y) * W + x0 - X0, w).CopyTo(tile.AsSpan((c * h + y) * w, w));
        }
    }

    /// <summary>Cut <paramref name="cut"/>'s gain and shift (and mean) from sums about <paramref name="offset"/> over <paramref name="count"/> pixels.</summary>
    private void SetStatistics(int cut, double[] sum, double[] sumSquares, double[] offset, double count)
    {
        var c = _plan.Cuts[cut];
        for (int k = 0; k < c.Channels; k++)
        {
            double mean = sum[k] / count;
            double variance = Math.Max(0, sumSquares[k] / count - mean * mean);
            mean += offset[k];
            double gain = c.Scale[k] / Math.Sqrt(variance + c.Epsilon);
            _mean[cut][k] = mean;
            _variance[cut][k] = variance;
            _gain[cut][k] = (float)gain;
            _shift[cut][k] = (float)(c.Bias[k] - mean * gain);
        }
    }

    private delegate void ReadStored(SegmentPlan.SegmentInput input, float[] buffer, int y0, int x0, int h, int w);

    /// <summary>
    /// Segment <paramref name="s"/>'s inputs over one tile's run region: the image or a stored tensor (read by
    /// <paramref name="readStored"/>: the scratch store, or the tile's own tensors), then each normalised cut's gain and shift.
    /// </summary>
    private void AddInputs(int s, List<OrtValue> values, ReadOnlySpan<byte> src, int width, int height, int bpp,
        int runTop, int runLeft, int runBottom, int runRight, ReadStored readStored)
    {
        var segment = _plan.Segments[s];
        for (int i = 0; i < segment.Inputs.Count; i++)
        {
            var input = segment.Inputs[i];
            var (y0, x0, h, w) = Region(input.Resolution, runTop, runLeft, runBottom, runRight);
            var buffer = Buffer(ref _inputs[i], input.Channels * h * w);
            if (input.IsImage) FillImage(buffer, src, width, height, bpp, x0, y0, w, h);
            else readStored(input, buffer, y0, x0, h, w);
            values.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, input.Channels * h * w), [1, input.Channels, h, w]));
        }
        foreach (int cut in segment.NormalisedCuts)
        {
            long[] shape = [1, _gain[cut].Length, 1, 1];
            values.Add(OrtValue.CreateTensorValueFromMemory(_gain[cut], shape));
            values.Add(OrtValue.CreateTensorValueFromMemory(_shift[cut], shape));
        }
    }

    private void RunSegment(int s, List<OrtValue> values, List<OrtValue> outValues, int tileWidth, int tileHeight)
    {
        try
        {
            _sessions[s].Run(_runOptions, _inputNames[s], values, _outputNames[s], outValues);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"segment {s + 1} of {_plan.Segments.Count} failed on a {tileWidth}x{tileHeight} tile: {e.Message}", e);
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
