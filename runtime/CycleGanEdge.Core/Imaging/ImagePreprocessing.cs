using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace CycleGanEdge.Core.Imaging;

/// <summary>The alpha of a translated RGBA image (translate --alpha). RGB input always gives opaque RGB output.</summary>
public enum OutputAlpha
{
    /// <summary>
    /// The shape the model drew: the input's alpha, extended wherever the model drew something other than the background
    /// it was trained on, with colours un-composited so the image laid on that background is exactly the model's output.
    /// Models that record no background (alpha drop) keep the input's alpha.
    /// </summary>
    Model,
    /// <summary>The input's alpha unchanged: the output is cut to the input's silhouette.</summary>
    Input,
    /// <summary>Opaque: the model's output everywhere, background included.</summary>
    Opaque,
}

/// <summary>
/// What the trainer did to an image before the network, as a model's metadata records it (docs/onnx-contract.md,
/// "Preprocessing"), and the one implementation of it at inference: every path that feeds a model an image
/// (translate, video, eval, the exporter's int8 calibration) composites through <see cref="Composite(ReadOnlySpan{byte}, Span{byte})"/>.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary><see cref="ModelContract.AlphaComposite"/> or <see cref="ModelContract.AlphaDrop"/>.</summary>
    public string Alpha { get; init; } = ModelContract.AlphaDrop;
    /// <summary>The colour transparent parts are composited onto (used with <see cref="ModelContract.AlphaComposite"/>).</summary>
    public byte BackgroundR { get; init; } = 255;
    public byte BackgroundG { get; init; } = 255;
    public byte BackgroundB { get; init; } = 255;
    public string ColorSpace { get; init; } = ModelContract.ColorSpaceSrgb;
    /// <summary>The trainer's --preprocess and --load-size (informative: inference runs at the image's own size).</summary>
    public string TrainPreprocess { get; init; } = "resize_and_crop";
    public int LoadSize { get; init; } = 286;
    /// <summary>False for models exported before the keys existed: <see cref="Alpha"/> is then today's behaviour, not a record.</summary>
    public bool Recorded { get; init; } = true;

    public bool Composites => Alpha == ModelContract.AlphaComposite;

    /// <summary>What <c>cyclegan-train data</c> datasets hold: transparency composited onto white.</summary>
    public static ImagePreprocessing CompositeOnWhite(string trainPreprocess, int loadSize) =>
        new() { Alpha = ModelContract.AlphaComposite, TrainPreprocess = trainPreprocess, LoadSize = loadSize };

    /// <summary>
    /// The reference trainer (pytorch-CycleGAN-and-pix2pix, data/unaligned_dataset.py): PIL <c>.convert('RGB')</c>
    /// drops alpha without compositing; its defaults --preprocess resize_and_crop, --load_size 286.
    /// </summary>
    public static ImagePreprocessing Reference { get; } = new() { Alpha = ModelContract.AlphaDrop };

    /// <summary>Models without the keys: the stored RGB as it is (the runtime's behaviour before the keys existed).</summary>
    public static ImagePreprocessing Unrecorded { get; } = new() { Alpha = ModelContract.AlphaDrop, Recorded = false };

    public string Background => Composites ? $"#{BackgroundR:x2}{BackgroundG:x2}{BackgroundB:x2}" : ModelContract.BackgroundNone;

    /// <summary>The metadata pairs, in the order of <see cref="ModelContract.PreprocessingKeys"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata() =>
    [
        new(ModelContract.AlphaKey, Alpha),
        new(ModelContract.BackgroundKey, Background),
        new(ModelContract.ColorSpaceKey, ColorSpace),
        new(ModelContract.TrainPreprocessKey, TrainPreprocess),
        new(ModelContract.LoadSizeKey, LoadSize.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>
    /// Reads the keys; <see cref="Unrecorded"/> when none is present. Returns null and a reason when they are
    /// incomplete or a value is not one the contract allows.
    /// </summary>
    public static ImagePreprocessing? FromMetadata(IReadOnlyDictionary<string, string> meta, out string? problem)
    {
        var present = ModelContract.PreprocessingKeys.Where(meta.ContainsKey).ToList();
        if (present.Count == 0)
        {
            problem = null;
            return Unrecorded;
        }
        problem = Problem(meta, present);
        if (problem is not null) return null;
        var rgb = ParseColour(meta[ModelContract.BackgroundKey]) ?? (255, 255, 255);
        return new ImagePreprocessing
        {
            Alpha = meta[ModelContract.AlphaKey],
            BackgroundR = rgb.R, BackgroundG = rgb.G, BackgroundB = rgb.B,
            TrainPreprocess = meta[ModelContract.TrainPreprocessKey],
            LoadSize = int.Parse(meta[ModelContract.LoadSizeKey], CultureInfo.InvariantCulture),
        };
    }

    private static string? Problem(IReadOnlyDictionary<string, string> meta, List<string> present)
    {
        if (present.Count < ModelContract.PreprocessingKeys.Count)
            return $"preprocessing key(s) missing: {string.Join(", ", ModelContract.PreprocessingKeys.Except(present))} (they go together)";
        string alpha = meta[ModelContract.AlphaKey], background = meta[ModelContract.BackgroundKey];
        string space = meta[ModelContract.ColorSpaceKey], loadSize = meta[ModelContract.LoadSizeKey];
        if (alpha is not (ModelContract.AlphaComposite or ModelContract.AlphaDrop))
            return $"metadata {ModelContract.AlphaKey}='{alpha}' is not one of: {ModelContract.AlphaComposite}, {ModelContract.AlphaDrop}";
        if (space != ModelContract.ColorSpaceSrgb)
            return $"metadata {ModelContract.ColorSpaceKey}='{space}' is not {ModelContract.ColorSpaceSrgb}";
        if (!int.TryParse(loadSize, NumberStyles.None, CultureInfo.InvariantCulture, out int size) || size < 1)
            return $"metadata {ModelContract.LoadSizeKey}='{loadSize}' is not a positive whole number";
        if (alpha == ModelContract.AlphaDrop && background != ModelContract.BackgroundNone)
            return $"metadata {ModelContract.BackgroundKey}='{background}' must be '{ModelContract.BackgroundNone}' with {ModelContract.AlphaKey}={alpha}";
        if (alpha == ModelContract.AlphaComposite && ParseColour(background) is null)
            return $"metadata {ModelContract.BackgroundKey}='{background}' is not a colour #rrggbb";
        return null;
    }

    /// <summary>Parses <c>#rrggbb</c> (hex, either case); null for anything else.</summary>
    public static (byte R, byte G, byte B)? ParseColour(string text)
    {
        if (text.Length != 7 || text[0] != '#' ||
            !uint.TryParse(text.AsSpan(1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v))
            return null;
        return ((byte)(v >> 16), (byte)(v >> 8), (byte)v);
    }

    /// <summary>
    /// RGBA8 (straight, not premultiplied alpha) to RGBA8 with each colour channel composited onto the background:
    /// <c>(c * a + bg * (255 - a) + 127) / 255</c> in integers, rounding to nearest (exactly the trainer's
    /// <c>cyclegan-train data</c> compositing). Alpha is copied unchanged. With <see cref="ModelContract.AlphaDrop"/>
    /// the pixels are copied as they are. <paramref name="dst"/> may be <paramref name="rgba"/> itself. Allocates nothing.
    /// </summary>
    public void Composite(ReadOnlySpan<byte> rgba, Span<byte> dst)
    {
        if (dst.Length < rgba.Length) throw new ArgumentException($"dst holds {dst.Length} bytes, the source {rgba.Length}.");
        if (!Composites)
        {
            rgba.CopyTo(dst);
            return;
        }
        int br = BackgroundR, bg = BackgroundG, bb = BackgroundB;
        for (int i = 0; i + 3 < rgba.Length; i += 4)
        {
            int a = rgba[i + 3], rest = 255 - a;
            dst[i] = (byte)((rgba[i] * a + br * rest + 127) / 255);
            dst[i + 1] = (byte)((rgba[i + 1] * a + bg * rest + 127) / 255);
            dst[i + 2] = (byte)((rgba[i + 2] * a + bb * rest + 127) / 255);
            dst[i + 3] = (byte)a;
        }
    }

    /// <summary>Whether every pixel of RGBA8 <paramref name="rgba"/> has alpha 255 (then compositing changes nothing).</summary>
    public static bool IsOpaque(ReadOnlySpan<byte> rgba)
    {
        var pixels = MemoryMarshal.Cast<byte, uint>(rgba[..(rgba.Length / 4 * 4)]);
        // Little-endian RGBA8: alpha is the top byte of each uint.
        var alpha = BitConverter.IsLittleEndian ? 0xFF000000u : 0xFFu;
        var mask = new Vector<uint>(alpha);
        int i = 0;
        for (; i + Vector<uint>.Count <= pixels.Length; i += Vector<uint>.Count)
            if (!Vector.EqualsAll(new Vector<uint>(pixels[i..]) & mask, mask)) return false;
        for (; i < pixels.Length; i++)
            if ((pixels[i] & alpha) != alpha) return false;
        return true;
    }

    /// <summary>A new image: <paramref name="image"/> composited (alpha kept), or the image itself when nothing changes.</summary>
    public RgbaImage Composite(RgbaImage image)
    {
        if (!Composites || !image.HasAlpha) return image;
        var pixels = new byte[image.Pixels.Length];
        Composite(image.Pixels, pixels);
        return new RgbaImage(image.Width, image.Height, pixels, hasAlpha: true);
    }

    /// <summary>
    /// Sets the alpha of a translated image in place. <paramref name="rgba"/> holds the model's RGB and the input's
    /// alpha. <see cref="OutputAlpha.Model"/> (for a model that composites): per pixel the smallest alpha at least the
    /// input's with which some colour in [0, 255] laid on the background gives the model's colour (the background's
    /// distance, as GIMP's colour-to-alpha measures it), and that colour; composited back with
    /// <see cref="Composite(ReadOnlySpan{byte}, Span{byte})"/> it is the model's output within 1 grey level.
    /// </summary>
    public void ApplyOutputAlpha(Span<byte> rgba, OutputAlpha mode)
    {
        if (mode == OutputAlpha.Opaque)
        {
            for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
            return;
        }
        if (mode == OutputAlpha.Input || !Composites) return;
        Span<int> bg = [BackgroundR, BackgroundG, BackgroundB];
        for (int i = 0; i + 3 < rgba.Length; i += 4)
        {
            int alpha = rgba[i + 3];
            if (alpha == 255) continue; // opaque input: the model's colour as it is (every opaque image takes this path)
            for (int c = 0; c < 3; c++) alpha = Math.Max(alpha, CoverageOf(rgba[i + c], bg[c]));
            for (int c = 0; c < 3; c++)
                rgba[i + c] = alpha == 0 ? (byte)bg[c] : (byte)Math.Clamp(bg[c] + (int)Math.Round((rgba[i + c] - bg[c]) * 255.0 / alpha), 0, 255);
            rgba[i + 3] = (byte)alpha;
        }
    }

    /// <summary>The least alpha (0-255, rounded up) that lets a colour in [0, 255] over <paramref name="background"/> give <paramref name="value"/>.</summary>
    private static int CoverageOf(int value, int background)
    {
        int d = value - background;
        if (d == 0) return 0;
        int room = d < 0 ? background : 255 - background;
        return (Math.Abs(d) * 255 + room - 1) / room;
    }
}
