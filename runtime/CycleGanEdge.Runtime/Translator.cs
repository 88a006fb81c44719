using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Runtime.Segments;
using CycleGanEdge.Runtime.Tiling;
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
    private readonly TileGrid _grid = new();
    private readonly TileRunner _tiles = new();
    // Opened at the first tiled image that needs whole-image statistics; null until then, or when the model has no instance norm.
    private TileStatistics? _statistics;
    private bool _statisticsOpened;
    // Made once: a method group passed as a delegate allocates on every call.
    private readonly Action<InferenceSession, ModelFrame> _run;
    // The input composited onto the model's background, reused from image to image.
    private byte[] _composited = [];
    // TileNorm.Exact: the segments, opened at the first image that needs tiles (null after a fallback).
    private SegmentRunner? _segments;
    private bool _segmentsTried;
    private ScratchStore? _scratch;

    private Translator(InferenceSession session, ModelInfo model, string provider, TranslatorOptions options)
    {
        _session = session;
        Model = model;
        Provider = provider;
        _options = options;
        _run = Run;
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
        // An opaque image composites to itself: skip the copy (for a 6000x4000 photo it is 96 MB).
        if (bpp == 4 && Model.Preprocessing.Composites && !ImagePreprocessing.IsOpaque(src[..size]))
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
        int m = Model.Descriptor.SpatialMultiple;
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
    public long EstimatedBytes(int paddedWidth, int paddedHeight) => EstimatedBytes(Model.Descriptor, paddedWidth, paddedHeight);

    /// <summary>The same estimate from the model's descriptor alone, before a session is open.</summary>
    public static long EstimatedBytes(ModelDescriptor model, int paddedWidth, int paddedHeight)
    {
        long pixels = (long)paddedWidth * paddedHeight;
        return pixels * (model.Ngf * ActivationBytesPerNgfPixel + 4L * (model.ChannelsIn + model.ChannelsOut));
    }

    internal const long ActivationBytesPerNgfPixel = 24;

    /// <summary>
    /// Overlapping tiles of one size (<see cref="TileRunner"/>). Instance norms use statistics of the whole image
    /// (<see cref="TileNorm"/>, <see cref="TileStatistics"/>): measured on a thumbnail, then (<see cref="TileNorm.Image"/>)
    /// refined pass after pass from every tile's share of the image until they settle.
    /// </summary>
    private void TranslateTiled(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp, int tileSide)
    {
        int m = Model.Descriptor.SpatialMultiple, paddedTile = PaddedSize(tileSide, m);
        _grid.Place(width, height, tileSide, _options.TileOverlap, m);
        if (_options.TileNorm == TileNorm.Exact && Segments() is { } segments)
        {
            LastUsedCarriedStatistics = _options.CarryStatistics && segments.HasStatistics(_grid.TiledWidth, _grid.TiledHeight);
            LastTilePasses = 1;
            if (LastUsedCarriedStatistics)
            {
                Note?.Invoke($"{width}x{height}: norm statistics carried from the previous frame: tiles of {paddedTile} px through all {segments.Plan.Segments.Count} segments, " +
                    $"reaching {segments.CarriedReach} px beyond their core; a frame whose statistics drift more than {MaxCarriedDrift} runs again exactly");
                LastStatisticsDrift = segments.RunCarried(src, dst, width, height, bpp, _grid.TiledWidth, _grid.TiledHeight, paddedTile);
                if (LastStatisticsDrift <= MaxCarriedDrift) return;
                // The content changed too much (a cut, fast motion) or carrying started to swing: this frame runs exactly.
                LastUsedCarriedStatistics = false;
                LastTilePasses = 2;
            }
            RunSegments(segments, src, dst, width, height, bpp, _grid.TiledWidth, _grid.TiledHeight, paddedTile);
            return;
        }
        var statistics = _options.TileNorm == TileNorm.Tile ? null : Statistics();
        if (statistics is null)
        {
            _tiles.Pass(_run, _session, FrameFor(1, _grid.TileWidth, _grid.TileHeight), _grid, src, dst, bpp, useGiven: false, collect: null);
            LastTilePasses = 1;
            return;
        }

        var frame = statistics.TileFrame(_grid.TileWidth, _grid.TileHeight);
        statistics.FromThumbnail(_run, src, width, height, bpp, paddedTile, frame);
        if (_options.TileNorm == TileNorm.Thumbnail)
        {
            _tiles.Pass(_run, statistics.Session, frame, _grid, src, dst, bpp, useGiven: true, collect: null);
            LastTilePasses = 1;
            return;
        }
        // Pass p measures every layer's statistics under the previous pass's: the first layer's are exact after one
        // pass, the k-th after k (a layer's statistics depend only on the layers before it), so this ends after at
        // most one pass per layer plus one, earlier when nothing changes any more. Deep layers can be far off on the
        // way (the iteration is not a contraction: measured on the emoji model it settled only after 13-16 of 18 passes).
        for (int pass = 1; ; pass++)
        {
            statistics.Clear();
            _tiles.Pass(_run, statistics.Session, frame, _grid, src, dst, bpp, useGiven: true, collect: statistics.Collect);
            double change = statistics.TakeImageStatistics(frame.GivenMean, frame.GivenVariance, (double)_grid.TiledWidth * _grid.TiledHeight);
            LastTilePasses = pass;
            if (change <= TileStatistics.Tolerance || pass > frame.GivenMean.Length) break;
        }
    }

    /// <summary>Whether the last tiled image ran with the previous image's statistics (<see cref="TranslatorOptions.CarryStatistics"/>).</summary>
    public bool LastUsedCarriedStatistics { get; private set; }

    /// <summary>Drift of the last carried frame (<see cref="SegmentRunner.RunCarried"/>); above <see cref="MaxCarriedDrift"/> the frame ran again exactly.</summary>
    public double LastStatisticsDrift { get; private set; }

    /// <summary>Largest drift a carried frame may have and be kept (benchmarks/TILES.md, Video: on the test clips a drift of 0.03 was 1.5 levels off exact).</summary>
    public const double MaxCarriedDrift = 0.02;

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
        // Stored activations go to memory-mapped files even when RAM is plentiful: the system keeps them in its file
        // cache while memory is free and writes them out when it is not, so the process stays at a tile's working set
        // (benchmarks/TILES.md: a 6000x4000 image peaks at about 1 GB).
        string folder = _options.ScratchFolder ?? System.IO.Path.GetTempPath();
        // One store for the translator's life (a video's frames), made again only when the folder changes.
        if (_scratch is null || _scratch.Folder != folder)
        {
            _scratch?.Dispose();
            _scratch = new ScratchStore(folder, _options.ScratchHalf);
        }
        long scratchBytes = segments.ScratchBytes(paddedWidth, paddedHeight, _scratch.BytesPerValue);
        Note?.Invoke($"{width}x{height}: {segments.Plan.Segments.Count} segments, {segments.TileCount(paddedWidth, paddedHeight, tile)} tiles, " +
            $"scratch {scratchBytes / 1048576.0:0} MB{(_scratch.Half ? " (fp16)" : "")} in {folder}");
        segments.Run(src, dst, width, height, bpp, paddedWidth, paddedHeight, tile, _scratch, SegmentProgress);
    }

    private TileStatistics? Statistics()
    {
        if (!_statisticsOpened)
        {
            _statistics = TileStatistics.Open(Model, _options with { Provider = Provider });
            _statisticsOpened = true;
        }
        return _statistics;
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
        _statistics?.Dispose();
        _segments?.Dispose();
        _scratch?.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
