using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Serve;

// The one file of the service that calls the runtime library (CycleGanEdge.Runtime and CycleGanEdge.Core), and only
// its public API: when the library changes, this file changes and the rest of the service does not.

/// <summary>The command-line policy, limits and exit codes the service shares with cyclegan-run.</summary>
internal static class RuntimeAdapter
{
    public static Task<int> InvokeCommandLine(RootCommand root, string[] args, TextWriter output, TextWriter error) =>
        CommandLineHost.InvokeAsync("cyclegan-serve", root, args, output, error);

    /// <summary>translate's --max-pixels default (decompression bombs).</summary>
    public static long DefaultMaxPixels => ImageLimits.Default.MaxPixels;

    public static IReadOnlyList<string> ProviderNames => SessionFactory.ProviderNames;

    public const int ExitSuccess = ExitCodes.Success;
    public const int ExitFailed = ExitCodes.Failed;

    /// <summary>A model or option the service cannot start with: one line and this exit code, as translate does.</summary>
    public static int? StartErrorExitCode(Exception e) =>
        e is InvalidModelException or ProviderUnavailableException or ArgumentException or IOException or UnauthorizedAccessException
            ? ExitCodes.ForStartError(e) : null;
}

/// <summary>What <c>GET /v1/models</c> says about a model: the name in the URL and the model's own metadata.</summary>
public sealed record ServedModel(
    string Name, string Kind, string Arch, int Ngf, int Size, string Norm, string Upsampling, string Precision,
    string Direction, string DomainIn, string DomainOut, string Io, int SpatialMultiple, string Alpha);

/// <summary>A decoded image (RGBA8, EXIF orientation applied), as translate decodes its files.</summary>
public sealed class DecodedImage
{
    internal DecodedImage(RgbaImage image) => Image = image;
    internal RgbaImage Image { get; }
    public int Width => Image.Width;
    public int Height => Image.Height;
}

public enum EncodedFormat { Png, Jpeg, Webp }

/// <summary>Why a body is not an image the service takes; the HTTP status follows from it.</summary>
public enum DecodeProblem { Malformed, TooManyPixels }

public sealed class ImageRejectedException(DecodeProblem problem, string message) : Exception(message)
{
    public DecodeProblem Problem { get; } = problem;
}

public static class Images
{
    /// <summary>Decodes as translate does (same codec, same pixel limit, checked on the header before any pixel memory).</summary>
    public static DecodedImage Decode(ReadOnlySpan<byte> data, long maxPixels)
    {
        try
        {
            return new DecodedImage(ImageCodec.Decode(data, "request body", new ImageLimits { MaxPixels = maxPixels }));
        }
        catch (ImageDecodeException e)
        {
            // A bomb (too many pixels in the header) is 413, anything else a malformed body (400).
            throw new ImageRejectedException(e.AboveMaxPixels ? DecodeProblem.TooManyPixels : DecodeProblem.Malformed, e.Message);
        }
    }

    /// <summary>An opaque black image (warm-up runs).</summary>
    public static DecodedImage Blank(int width, int height) => new(new RgbaImage(width, height));

    public static byte[] Encode(DecodedImage image, EncodedFormat format, int quality) =>
        ImageCodec.Encode(image.Image, format switch
        {
            EncodedFormat.Jpeg => ImageFormat.Jpeg,
            EncodedFormat.Webp => ImageFormat.Webp,
            _ => ImageFormat.Png,
        }, quality);
}

/// <summary>Settings of every session of every model (the subset of translate's options that a service sets once).</summary>
public sealed record SessionSettings(string Provider, int Threads, int MaxSide, OutputAlpha Alpha);

/// <summary>One ONNX Runtime session of a model; not thread-safe (one caller at a time), like the translator it wraps.</summary>
public sealed class ModelSession : IDisposable
{
    private readonly Translator _translator;

    private ModelSession(Translator translator) => _translator = translator;

    public static ModelSession Open(string path, SessionSettings settings) => new(Translator.Open(path, new TranslatorOptions
    {
        Provider = settings.Provider,
        Threads = settings.Threads,
        MaxSide = settings.MaxSide,
        Alpha = settings.Alpha,
    }));

    public string Provider => _translator.Provider;

    public ServedModel Describe(string name)
    {
        var m = _translator.Model;
        var d = m.Descriptor;
        bool int8 = m.Metadata.TryGetValue(ModelContract.QuantizationKey, out string? q) && q == ModelContract.QuantizationInt8Qdq;
        return new ServedModel(name, m.Method, d.Arch, d.Ngf, m.TrainSize, ModelDescriptor.NormName(d.Norm), ModelDescriptor.UpsamplingName(d.Upsampling),
            int8 ? "int8" : m.Precision, m.Direction, m.DomainIn, m.DomainOut, m.Io, d.SpatialMultiple, m.Preprocessing.Alpha);
    }

    /// <summary>Same-size images in one model run (one by one where the translator tiles them): the pixels translate writes.</summary>
    public DecodedImage[] Translate(IReadOnlyList<DecodedImage> images) =>
        images.Count == 1
            ? [new DecodedImage(_translator.Translate(images[0].Image))]
            : [.. _translator.TranslateBatch([.. images.Select(i => i.Image)]).Select(r => new DecodedImage(r))];

    public void Dispose() => _translator.Dispose();
}
