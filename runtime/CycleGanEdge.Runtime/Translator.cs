using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Runtime.Segments;
using SkiaSharp;

namespace CycleGanEdge.Runtime;

public enum PixelLayout { Rgb24, Rgba32 }

/// <summary>
/// Runs an exported generator on images of any size: pads (reflect) to the model's spatial multiple and
/// crops back, optionally in overlapping tiles. RGBA input is first composited as the model's metadata says
/// (<see cref="ModelInfo.Preprocessing"/>); the output's alpha is <see cref="TranslatorOptions.Alpha"/>
/// (<see cref="ImagePreprocessing.ApplyOutputAlpha"/>). Not thread-safe: one
/// translator per thread. After the first call at a given size, <see cref="Translate(ReadOnlySpan{byte}, Span{byte}, int, int, PixelLayout)"/>
/// allocates nothing on the managed heap (buffers and bound OrtValues are kept and reused), except in
/// <see cref="TileNorm.Exact"/> tiles, which allocate small per-tile objects.
/// </summary>
public sealed class Translator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly TranslatorOptions _options;
    private ModelFrame? _frame;
    // Tiles with given statistics run a second session on the instance-norm rewrite, opened at the first such image.
    private InferenceSession? _normSession;
    private int[]? _normChannels;
    private ModelFrame? _normTileFrame, _thumbFrame;
    private byte[] _thumb = [];
    private double[][] _sumMean = [], _sumSquare = [];
    // Output of one row of tiles at a time, so memory grows with the tile and the image width, not the image.
    private float[] _bandSum = [];
    private float[] _bandWeight = [];
    private int[] _xs = [], _ys = [];
    // The input composited onto the model's background, reused from image to image.
    private byte[] _composited = [];
    // TileNorm.Exact: the segments, opened at the first image that needs tiles (null after a fallback).
    private SegmentRunner? _segments;
    private bool _segmentsTried;

    private Translator(InferenceSession session, ModelInfo model, string provider, TranslatorOptions options)
    {
        _session = session;
        Model = model;
        Provider = provider;
        _options = options;
    }

    public ModelInfo Model { get; }
    /// <summary>The provider the session runs on (cpu, cuda, directml).</summary>
    public string Provider { get; }

    public static Translator Open(string modelPath, TranslatorOptions? options = null)
    {
        options ??= new TranslatorOptions();
        if (options.Tile < 0 || options.TileOverlap < 0 || options.MaxSide < 0 || options.MaxMemory <= 0)
            throw new ArgumentException("--tile, --tile-overlap and --max-side cannot be negative, --max-memory must be positive.");
        if (options.Tile > 0 && options.TileOverlap * 2 >= options.Tile)
            throw new ArgumentException($"--tile-overlap ({options.TileOverlap}) must be less than half of --tile ({options.Tile}).");
        var session = SessionFactory.Create(modelPath, options, out string provider);
        try
        {
            return new Translator(session, ModelInfo.FromSession(session, modelPath), provider, options);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Translates one image (scaled down first if larger than <see cref="TranslatorOptions.MaxSide"/>).</summary>
    public RgbaImage Translate(RgbaImage image)
    {
        image = ScaleToMaxSide(image);
        var result = new RgbaImage(image.Width, image.Height, new byte[image.Pixels.Length], OutputHasAlpha(image));
        Translate(image.Pixels, result.Pixels, image.Width, image.Height, PixelLayout.Rgba32);
        return result;
    }

    /// <summary>Translates same-size images in one model run (images larger than the tile size run one by one).</summary>
    public RgbaImage[] TranslateBatch(IReadOnlyList<RgbaImage> images)
    {
        if (images.Count == 0) return [];
        var scaled = images.Select(ScaleToMaxSide).ToArray();
        int w = scaled[0].Width, h = scaled[0].Height;
        if (scaled.Any(i => i.Width != w || i.Height != h))
            throw new ArgumentException("A batch must hold images of one size.");
        var results = scaled.Select(i => new RgbaImage(w, h, new byte[i.Pixels.Length], OutputHasAlpha(i))).ToArray();
        if (scaled.Length == 1 || TileSideFor(w, h) > 0)
        {
            for (int i = 0; i < scaled.Length; i++)
                Translate(scaled[i].Pixels, results[i].Pixels, w, h, PixelLayout.Rgba32);
            return results;
        }
        var inputs = scaled.Select(Model.Preprocessing.Composite).ToArray();
        var frame = FrameFor(inputs.Length, w, h);
        for (int b = 0; b < inputs.Length; b++)
            frame.Fill(b, inputs[b].Pixels, w, h, 4, 0, 0);
        Run(_session, frame);
        for (int b = 0; b < inputs.Length; b++)
        {
            frame.Write(b, inputs[b].Pixels, results[b].Pixels, w, 4, 0, 0);
            Model.Preprocessing.ApplyOutputAlpha(results[b].Pixels, _options.Alpha);
        }
        return results;
    }

    private bool OutputHasAlpha(RgbaImage input) => input.HasAlpha && _options.Alpha != OutputAlpha.Opaque;

    /// <summary>
    /// The frame API: <paramref name="src"/> and <paramref name="dst"/> hold width*height pixels in <paramref name="layout"/>.
    /// Rgba32 input (straight alpha) is composited as <see cref="ModelInfo.Preprocessing"/> says before anything sees it.
    /// </summary>
    public void Translate(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, PixelLayout layout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int bpp = layout == PixelLayout.Rgba32 ? 4 : 3;
        int size = checked(width * height * bpp);
        if (src.Length < size || dst.Length < size)
            throw new ArgumentException($"{width}x{height} {layout} needs {size} bytes (src has {src.Length}, dst {dst.Length}).");
        if (bpp == 4 && Model.Preprocessing.Composites)
        {
            if (_composited.Length < size) _composited = new byte[size]; // grows to the largest image seen
            Model.Preprocessing.Composite(src[..size], _composited);
            src = _composited.AsSpan(0, size);
        }

        int tile = TileSideFor(width, height);
        if (tile == 0)
        {
            var frame = FrameFor(1, width, height);
            frame.Fill(0, src, width, height, bpp, 0, 0);
            Run(_session, frame);
            frame.Write(0, src, dst, width, bpp, 0, 0);
            LastTilePasses = 0;
        }
        else TranslateTiled(src, dst, width, height, bpp, tile);
        if (bpp == 4) Model.Preprocessing.ApplyOutputAlpha(dst[..size], _options.Alpha);
    }

    /// <summary>How many passes over the tiles the last tiled image took (0: it ran whole).</summary>
    public int LastTilePasses { get; private set; }

    /// <summary>
    /// The tile side an image of this size runs with, 0 for the whole image. Automatic (<see cref="TranslatorOptions.Tile"/>
    /// null): the whole image while its estimated memory fits <see cref="TranslatorOptions.MaxMemory"/>, else the largest
    /// square tile that fits (but at least four overlaps wide).
    /// </summary>
    public int TileSideFor(int width, int height)
    {
        if (_options.Tile is int fixedTile)
            return fixedTile > 0 && (width > fixedTile || height > fixedTile) ? fixedTile : 0;
        int m = Model.SpatialMultiple;
        int paddedW = PaddedSize(width, m), paddedH = PaddedSize(height, m);
        if (EstimatedBytes(paddedW, paddedH) <= _options.MaxMemory) return 0;
        int smallest = RoundUp(Math.Max(4 * _options.TileOverlap, 64), m);
        int side = RoundUp(Math.Max(paddedW, paddedH), m);
        while (side > smallest && EstimatedBytes(side, side) > _options.MaxMemory) side -= m;
        return side;
    }

    /// <summary>
    /// Estimated memory of one model run at this padded size: ONNX Runtime's activations (measured on resnet
    /// generators: about <see cref="ActivationBytesPerNgfPixel"/> bytes per pixel and unit of ngf, runtime/README.md)
    /// plus the frame's float input and output.
    /// </summary>
    public long EstimatedBytes(int paddedWidth, int paddedHeight) =>
        EstimatedBytes(Model.Ngf, Model.ChannelsIn, Model.ChannelsOut, paddedWidth, paddedHeight);

    /// <summary>The same estimate from the model's metadata alone, before a session is open.</summary>
    public static long EstimatedBytes(int ngf, int channelsIn, int channelsOut, int paddedWidth, int paddedHeight)
    {
        long pixels = (long)paddedWidth * paddedHeight;
        return pixels * (ngf * ActivationBytesPerNgfPixel + 4L * (channelsIn + channelsOut));
    }

    internal const long ActivationBytesPerNgfPixel = 24;

    /// <summary>
    /// Overlapping tiles of one size, blended with weights that ramp linearly across each overlap so no seam shows
    /// where tiles meet. Instance norms use statistics of the whole image (<see cref="TileNorm"/>): measured on a
    /// thumbnail, then (<see cref="TileNorm.Image"/>) refined pass after pass from every tile's share of the image
    /// until they settle.
    /// </summary>
    private void TranslateTiled(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp, int tileSide)
    {
        // Tiles cover the image padded to the spatial multiple and start on multiples of it, so every tile sees the
        // same context (including the reflect padding) as the untiled run, and its features line up with the whole image's.
        int m = Model.SpatialMultiple;
        var layout = new TileLayout { ImageWidth = width, ImageHeight = height, TiledWidth = PaddedSize(width, m), TiledHeight = PaddedSize(height, m) };
        int tile = PaddedSize(tileSide, m);
        layout.TileWidth = Math.Min(layout.TiledWidth, tile);
        layout.TileHeight = Math.Min(layout.TiledHeight, tile);
        layout.Overlap = Math.Min(RoundUp(_options.TileOverlap, m), (tile / 2 - 1) / m * m);
        layout.Columns = Starts(layout.TiledWidth, layout.TileWidth, layout.Overlap, ref _xs);
        layout.Rows = Starts(layout.TiledHeight, layout.TileHeight, layout.Overlap, ref _ys);

        if (_options.TileNorm == TileNorm.Exact && Segments() is { } segments)
        {
            RunSegments(segments, src, dst, width, height, bpp, layout.TiledWidth, layout.TiledHeight, tile);
            LastTilePasses = 1;
            return;
        }
        if (_options.TileNorm == TileNorm.Tile || NormChannels().Length == 0)
        {
            TilePass(_session, FrameFor(1, layout.TileWidth, layout.TileHeight), layout, src, dst, bpp, useGiven: false, collect: false);
            LastTilePasses = 1;
            return;
        }

        var frame = NormFrame(ref _normTileFrame, layout.TileWidth, layout.TileHeight);
        ThumbnailStatistics(src, width, height, bpp, tile, frame);
        if (_options.TileNorm == TileNorm.Thumbnail)
        {
            TilePass(_normSession!, frame, layout, src, dst, bpp, useGiven: true, collect: false);
            LastTilePasses = 1;
            return;
        }
        // Pass p measures every layer's statistics under the previous pass's: the first layer's are exact after one
        // pass, the k-th after k (a layer's statistics depend only on the layers before it), so this ends after at
        // most one pass per layer plus one, earlier when nothing changes any more. Deep layers can be far off on the
        // way (the iteration is not a contraction: measured on the emoji model it settled only after 13-16 of 18 passes).
        for (int pass = 1; ; pass++)
        {
            TilePass(_normSession!, frame, layout, src, dst, bpp, useGiven: true, collect: true);
            double change = TakeImageStatistics(frame, (double)layout.TiledWidth * layout.TiledHeight);
            LastTilePasses = pass;
            if (change <= StatisticsTolerance || pass > frame.GivenMean.Length) break;
        }
    }

    /// <summary>Tile side of --tile-norm exact under --tile auto, in pixels of a segment's finest tensor.</summary>
    internal const int ExactAutoTile = 512;

    /// <summary>Messages for the user: the scratch an exact tiled image needs, or why exact tiling falls back.</summary>
    public Action<string>? Note { get; set; }

    /// <summary>Progress of an exact tiled image over segments x tiles.</summary>
    public IProgress<SegmentProgress>? SegmentProgress { get; set; }

    private SegmentRunner? Segments()
    {
        if (_segmentsTried) return _segments;
        _segmentsTried = true;
        try
        {
            var plan = SegmentPlan.Build(File.ReadAllBytes(Model.Path));
            var options = _options with { Provider = Provider };
            _segments = new SegmentRunner(plan, bytes => SessionFactory.Create(Model.Path, options, out _, bytes));
        }
        catch (SegmentationUnsupportedException e)
        {
            Note?.Invoke($"note: {System.IO.Path.GetFileName(Model.Path)} cannot run segment by segment ({e.Message}); tiles use --tile-norm image instead.");
        }
        return _segments;
    }

    private void RunSegments(SegmentRunner segments, ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp, int paddedWidth, int paddedHeight, int tile)
    {
        // A segment is a layer or two, so large tiles buy nothing but memory: automatic tiles stay at ExactAutoTile.
        if (_options.Tile is null) tile = Math.Min(tile, ExactAutoTile);
        long scratchBytes = segments.ScratchBytes(paddedWidth, paddedHeight);
        bool inMemory = scratchBytes + EstimatedBytes(tile, tile) <= _options.MaxMemory;
        string? folder = inMemory ? null : _options.ScratchFolder ?? System.IO.Path.GetTempPath();
        Note?.Invoke($"{width}x{height}: {segments.Plan.Segments.Count} segments, {segments.TileCount(paddedWidth, paddedHeight, tile)} tiles, " +
            $"scratch {scratchBytes / 1048576.0:0} MB " + (inMemory ? "in memory" : $"in {folder}"));
        using var scratch = new ScratchStore(folder);
        segments.Run(src, dst, width, height, bpp, paddedWidth, paddedHeight, tile, scratch, SegmentProgress);
    }

    /// <summary>Largest change of a layer's mean or standard deviation between passes, relative to the standard deviation, that ends refinement.</summary>
    internal const double StatisticsTolerance = 0.01;

    private struct TileLayout
    {
        public int ImageWidth, ImageHeight, TiledWidth, TiledHeight, TileWidth, TileHeight, Overlap, Columns, Rows;
    }

    /// <summary>Runs every tile once, row by row, and writes the blended output; optionally sums each tile's share of the statistics.</summary>
    private void TilePass(InferenceSession session, ModelFrame frame, TileLayout t, ReadOnlySpan<byte> src, Span<byte> dst, int bpp, bool useGiven, bool collect)
    {
        int width = t.ImageWidth, band = t.TileHeight * width;
        if (_bandWeight.Length != band)
        {
            _bandSum = new float[band * 3];
            _bandWeight = new float[band];
        }
        else
        {
            Array.Clear(_bandSum);
            Array.Clear(_bandWeight);
        }
        if (collect)
            for (int k = 0; k < _sumMean.Length; k++)
            {
                Array.Clear(_sumMean[k]);
                Array.Clear(_sumSquare[k]);
            }

        for (int row = 0; row < t.Rows; row++)
        {
            int y0 = _ys[row];
            var (top, bottom) = Owned(_ys, t.Rows, row, t.TileHeight, t.TiledHeight, Model.SpatialMultiple);
            for (int column = 0; column < t.Columns; column++)
            {
                int x0 = _xs[column];
                var (left, right) = Owned(_xs, t.Columns, column, t.TileWidth, t.TiledWidth, Model.SpatialMultiple);
                frame.Fill(0, src, width, t.ImageHeight, bpp, x0, y0);
                // Each pixel of the padded image belongs to the statistics of exactly one tile: the one whose middle it is nearest.
                frame.SetNormRegion(useGiven, top, left, bottom, right);
                Run(session, frame);
                if (collect) AddRegionStatistics(frame, (double)(bottom - top) * (right - left));
                frame.Accumulate(_bandSum, _bandWeight, width, t.ImageHeight, t.TiledWidth, t.TiledHeight, x0, y0, t.Overlap, bandTop: y0);
            }
            // Rows above the next row of tiles are final: write them and move the rest of the band up.
            int next = row + 1 < t.Rows ? _ys[row + 1] : t.TiledHeight;
            int done = Math.Min(next, t.ImageHeight) - y0;
            for (int i = 0; i < done * width; i++)
            {
                float inv = 1f / _bandWeight[i];
                int d = (y0 * width + i) * bpp;
                dst[d] = ClampToByte(_bandSum[i * 3] * inv);
                dst[d + 1] = ClampToByte(_bandSum[i * 3 + 1] * inv);
                dst[d + 2] = ClampToByte(_bandSum[i * 3 + 2] * inv);
                if (bpp == 4) dst[d + 3] = src[d + 3];
            }
            int shift = (next - y0) * width, keep = band - shift;
            Array.Copy(_bandSum, shift * 3, _bandSum, 0, keep * 3);
            Array.Clear(_bandSum, keep * 3, shift * 3);
            Array.Copy(_bandWeight, shift, _bandWeight, 0, keep);
            Array.Clear(_bandWeight, keep, shift);
        }
    }

    /// <summary>Tile starts along one side: a step of length - overlap, the last one moved back to end at the edge.</summary>
    private static int Starts(int total, int length, int overlap, ref int[] starts)
    {
        int step = length - overlap;
        int count = total <= length ? 1 : 1 + (total - length + step - 1) / step;
        if (starts.Length < count) starts = new int[count];
        for (int i = 0; i < count; i++) starts[i] = Math.Min(i * step, total - length);
        return count;
    }

    /// <summary>The part of tile i (in its own coordinates) nearer its middle than its neighbours', on the model's grid.</summary>
    private static (int From, int To) Owned(int[] starts, int count, int i, int length, int total, int multiple)
    {
        static int Middle(int a, int b, int length, int m) => (a + length + b) / 2 / m * m;
        int from = i == 0 ? 0 : Middle(starts[i - 1], starts[i], length, multiple);
        int to = i == count - 1 ? total : Middle(starts[i], starts[i + 1], length, multiple);
        return (from - starts[i], to - starts[i]);
    }

    /// <summary>Sets the frame's given statistics to those of a thumbnail of the image no larger than one tile (Thumbnail Instance Normalization).</summary>
    private void ThumbnailStatistics(ReadOnlySpan<byte> src, int width, int height, int bpp, int tile, ModelFrame tileFrame)
    {
        double scale = Math.Min(1.0, (double)tile / Math.Max(width, height));
        int tw = Math.Max(1, (int)(width * scale)), th = Math.Max(1, (int)(height * scale));
        if (_thumb.Length != tw * th * bpp) _thumb = new byte[tw * th * bpp];
        BoxDownscale(src, width, height, bpp, _thumb, tw, th);
        var thumb = NormFrame(ref _thumbFrame, tw, th);
        thumb.Fill(0, _thumb, tw, th, bpp, 0, 0);
        thumb.SetNormRegion(false, 0, 0, thumb.PaddedHeight, thumb.PaddedWidth);
        Run(_normSession!, thumb);
        for (int k = 0; k < thumb.RegionMean.Length; k++)
        {
            thumb.RegionMean[k].CopyTo(tileFrame.GivenMean[k], 0);
            thumb.RegionVariance[k].CopyTo(tileFrame.GivenVariance[k], 0);
        }
    }

    /// <summary>Averages the source pixels under each thumbnail pixel (area averaging: no aliasing into the statistics).</summary>
    private static void BoxDownscale(ReadOnlySpan<byte> src, int width, int height, int bpp, Span<byte> dst, int tw, int th)
    {
        for (int ty = 0; ty < th; ty++)
        {
            int y0 = (int)((long)ty * height / th), y1 = Math.Max(y0 + 1, (int)((long)(ty + 1) * height / th));
            for (int tx = 0; tx < tw; tx++)
            {
                int x0 = (int)((long)tx * width / tw), x1 = Math.Max(x0 + 1, (int)((long)(tx + 1) * width / tw));
                int r = 0, g = 0, b = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0, s = (y * width + x0) * bpp; x < x1; x++, s += bpp)
                    {
                        r += src[s];
                        g += src[s + 1];
                        b += src[s + 2];
                    }
                int n = (y1 - y0) * (x1 - x0), d = (ty * tw + tx) * bpp;
                dst[d] = (byte)((r + n / 2) / n);
                dst[d + 1] = (byte)((g + n / 2) / n);
                dst[d + 2] = (byte)((b + n / 2) / n);
                if (bpp == 4) dst[d + 3] = 255;
            }
        }
    }

    private void AddRegionStatistics(ModelFrame frame, double area)
    {
        for (int k = 0; k < frame.RegionMean.Length; k++)
        {
            float[] mean = frame.RegionMean[k], variance = frame.RegionVariance[k];
            for (int c = 0; c < mean.Length; c++)
            {
                _sumMean[k][c] += area * mean[c];
                _sumSquare[k][c] += area * (variance[c] + (double)mean[c] * mean[c]);
            }
        }
    }

    /// <summary>Makes the summed statistics the frame's given ones; returns the largest change relative to the standard deviation.</summary>
    private double TakeImageStatistics(ModelFrame frame, double area)
    {
        double change = 0;
        for (int k = 0; k < _sumMean.Length; k++)
            for (int c = 0; c < _sumMean[k].Length; c++)
            {
                double mean = _sumMean[k][c] / area;
                double variance = Math.Max(0, _sumSquare[k][c] / area - mean * mean);
                double std = Math.Sqrt(variance + 1e-5), oldStd = Math.Sqrt(frame.GivenVariance[k][c] + 1e-5);
                change = Math.Max(change, Math.Max(Math.Abs(mean - frame.GivenMean[k][c]), Math.Abs(std - oldStd)) / std);
                frame.GivenMean[k][c] = (float)mean;
                frame.GivenVariance[k][c] = (float)variance;
            }
        return change;
    }

    /// <summary>Channels of each instance-norm layer (empty: none); opens the rewritten session the first time it has some.</summary>
    private int[] NormChannels()
    {
        if (_normChannels is not null) return _normChannels;
        byte[] original = File.ReadAllBytes(Model.Path);
        if (InstanceNormRewrite.CountLayers(original) == 0) return _normChannels = [];
        var (rewritten, channels) = InstanceNormRewrite.Rewrite(original, Model.Path);
        _normSession = SessionFactory.Create(Model.Path, _options with { Provider = Provider }, out _, rewritten);
        _sumMean = [.. channels.Select(c => new double[c])];
        _sumSquare = [.. channels.Select(c => new double[c])];
        return _normChannels = channels;
    }

    private ModelFrame NormFrame(ref ModelFrame? frame, int width, int height)
    {
        if (frame is { } f && f.ContentWidth == width && f.ContentHeight == height) return f;
        frame?.Dispose();
        frame = null;
        return frame = new ModelFrame(_normSession!, Model, 1, width, height, _normChannels);
    }

    private void Run(InferenceSession session, ModelFrame frame)
    {
        try
        {
            session.RunWithBinding(_runOptions, frame.Binding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"{Model.Path}: inference failed at {frame.PaddedWidth}x{frame.PaddedHeight}: {e.Message}", e);
        }
    }

    private ModelFrame FrameFor(int batch, int width, int height)
    {
        if (_frame is { } f && f.Batch == batch && f.ContentWidth == width && f.ContentHeight == height)
            return f;
        _frame?.Dispose();
        _frame = null;
        _frame = new ModelFrame(_session, Model, batch, width, height);
        return _frame;
    }

    private RgbaImage ScaleToMaxSide(RgbaImage image)
    {
        int max = _options.MaxSide;
        if (max <= 0 || Math.Max(image.Width, image.Height) <= max) return image;
        double scale = (double)max / Math.Max(image.Width, image.Height);
        int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
        return Resize(image, w, h);
    }

    /// <summary>High-quality resize with Skia (used for --max-side).</summary>
    public static unsafe RgbaImage Resize(RgbaImage image, int width, int height)
    {
        var result = new RgbaImage(width, height, new byte[width * height * 4], image.HasAlpha);
        var alpha = image.HasAlpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque;
        fixed (byte* s = image.Pixels)
        fixed (byte* d = result.Pixels)
        {
            using var from = new SKPixmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, alpha), (IntPtr)s);
            using var to = new SKPixmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alpha), (IntPtr)d);
            if (!from.ScalePixels(to, new SKSamplingOptions(SKCubicResampler.Mitchell)))
                throw new InvalidOperationException($"Skia could not scale {image.Width}x{image.Height} to {width}x{height}.");
        }
        return result;
    }

    internal static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Size the model runs at for an image side: the next multiple of the model's spatial multiple, and at
    /// least 8 pixels, because reflect padding inside resnet generators needs 2+ pixels at 1/4 resolution.
    /// </summary>
    internal static int PaddedSize(int side, int multiple) => Math.Max(RoundUp(side, multiple), RoundUp(MinimumSide, multiple));

    private const int MinimumSide = 8;

    internal static byte ClampToByte(float v) => v >= 255f ? (byte)255 : v > 0f ? (byte)(v + 0.5f) : (byte)0;

    public void Dispose()
    {
        _frame?.Dispose();
        _normTileFrame?.Dispose();
        _thumbFrame?.Dispose();
        _runOptions.Dispose();
        _normSession?.Dispose();
        _segments?.Dispose();
        _session.Dispose();
    }
}
