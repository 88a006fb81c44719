using CycleGanEdge.Runtime.Imaging;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace CycleGanEdge.Runtime;

public enum PixelLayout { Rgb24, Rgba32 }

/// <summary>
/// Runs an exported generator on images of any size: pads (reflect) to the model's spatial multiple and
/// crops back, optionally in overlapping tiles. Alpha passes through unchanged. Not thread-safe: one
/// translator per thread. After the first call at a given size, <see cref="Translate(ReadOnlySpan{byte}, Span{byte}, int, int, PixelLayout)"/>
/// allocates nothing on the managed heap (buffers and bound OrtValues are kept and reused).
/// </summary>
public sealed class Translator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly TranslatorOptions _options;
    private ModelFrame? _frame;
    private float[] _tileSum = [];
    private float[] _tileWeight = [];

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
        if (options.Tile < 0 || options.TileOverlap < 0 || options.MaxSide < 0)
            throw new ArgumentException("--tile, --tile-overlap and --max-side cannot be negative.");
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
        var result = new RgbaImage(image.Width, image.Height, new byte[image.Pixels.Length], image.HasAlpha);
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
        var results = scaled.Select(i => new RgbaImage(w, h, new byte[i.Pixels.Length], i.HasAlpha)).ToArray();
        if (scaled.Length == 1 || NeedsTiles(w, h))
        {
            for (int i = 0; i < scaled.Length; i++)
                Translate(scaled[i].Pixels, results[i].Pixels, w, h, PixelLayout.Rgba32);
            return results;
        }
        var frame = FrameFor(scaled.Length, w, h);
        for (int b = 0; b < scaled.Length; b++)
            frame.Fill(b, scaled[b].Pixels, w, h, 4, 0, 0);
        Run(frame);
        for (int b = 0; b < scaled.Length; b++)
            frame.Write(b, scaled[b].Pixels, results[b].Pixels, w, 4, 0, 0);
        return results;
    }

    /// <summary>The frame API: <paramref name="src"/> and <paramref name="dst"/> hold width*height pixels in <paramref name="layout"/>.</summary>
    public void Translate(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, PixelLayout layout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int bpp = layout == PixelLayout.Rgba32 ? 4 : 3;
        int size = checked(width * height * bpp);
        if (src.Length < size || dst.Length < size)
            throw new ArgumentException($"{width}x{height} {layout} needs {size} bytes (src has {src.Length}, dst {dst.Length}).");

        if (!NeedsTiles(width, height))
        {
            var frame = FrameFor(1, width, height);
            frame.Fill(0, src, width, height, bpp, 0, 0);
            Run(frame);
            frame.Write(0, src, dst, width, bpp, 0, 0);
            return;
        }
        TranslateTiled(src, dst, width, height, bpp);
    }

    private bool NeedsTiles(int width, int height) =>
        _options.Tile > 0 && (width > _options.Tile || height > _options.Tile);

    /// <summary>
    /// Overlapping tiles of one size, blended with weights that ramp linearly across each overlap so no
    /// seam shows where tiles meet. Exact for models whose receptive field fits in the overlap and that
    /// have no per-image statistics; instance-norm models normalise each tile on its own (runtime/README.md).
    /// </summary>
    private void TranslateTiled(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int bpp)
    {
        // Tiles cover the image padded to the spatial multiple, so every tile sees the same context
        // (including the reflect padding) as the untiled run would.
        int multiple = Model.SpatialMultiple;
        int tiledW = PaddedSize(width, multiple), tiledH = PaddedSize(height, multiple);
        int tile = PaddedSize(_options.Tile, multiple);
        int tileW = Math.Min(tiledW, tile), tileH = Math.Min(tiledH, tile);
        int overlap = _options.TileOverlap;
        var frame = FrameFor(1, tileW, tileH);
        int pixels = width * height;
        if (_tileWeight.Length != pixels)
        {
            _tileSum = new float[pixels * 3];
            _tileWeight = new float[pixels];
        }
        else
        {
            Array.Clear(_tileSum);
            Array.Clear(_tileWeight);
        }

        for (int y0 = 0; ; y0 += tileH - overlap)
        {
            y0 = Math.Min(y0, tiledH - tileH);
            for (int x0 = 0; ; x0 += tileW - overlap)
            {
                x0 = Math.Min(x0, tiledW - tileW);
                frame.Fill(0, src, width, height, bpp, x0, y0);
                Run(frame);
                frame.Accumulate(_tileSum, _tileWeight, width, height, tiledW, tiledH, x0, y0, overlap);
                if (x0 + tileW >= tiledW) break;
            }
            if (y0 + tileH >= tiledH) break;
        }

        for (int i = 0; i < pixels; i++)
        {
            float inv = 1f / _tileWeight[i];
            int d = i * bpp;
            dst[d] = ClampToByte(_tileSum[i * 3] * inv);
            dst[d + 1] = ClampToByte(_tileSum[i * 3 + 1] * inv);
            dst[d + 2] = ClampToByte(_tileSum[i * 3 + 2] * inv);
            if (bpp == 4) dst[d + 3] = src[d + 3];
        }
    }

    private void Run(ModelFrame frame)
    {
        try
        {
            _session.RunWithBinding(_runOptions, frame.Binding);
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
        _runOptions.Dispose();
        _session.Dispose();
    }
}
