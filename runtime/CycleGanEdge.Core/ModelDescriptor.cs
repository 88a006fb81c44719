using System.Globalization;

namespace CycleGanEdge.Core;

/// <summary>The generator families (the trainer's --netG names); <see cref="Other"/> for a name this build does not know.</summary>
public enum GeneratorKind { Other, Resnet9Blocks, Resnet6Blocks, Unet128, Unet256, EncoderDecoder }

public enum NormKind { Instance, Batch, None }

/// <summary>How the decoder doubles the resolution.</summary>
public enum Upsampling
{
    /// <summary>The reference's stride-2 transposed convolution.</summary>
    ConvTranspose,
    /// <summary>Nearest ×2 then a 3×3 convolution (no checkerboard patterns).</summary>
    Resize,
}

/// <summary>The CUT reference's anti-aliased sampling (resnet generators only).</summary>
public enum Antialiasing
{
    None,
    /// <summary>Each down is a stride-1 conv then a blur-downsample; each up a blur-upsample then a conv.</summary>
    Blur,
}

/// <summary>What the generator's last layer gives.</summary>
public enum GeneratorOutput
{
    /// <summary>The translated image (the reference's generators).</summary>
    Image,
    /// <summary>A change to the input: the output is clip(input + tanh(last conv), -1, 1) (resnet generators only).</summary>
    Residual,
}

/// <summary>
/// What a generator is: the one description that the trainer (from its options and checkpoint headers), the exporter
/// (which writes it as metadata) and the runtime (which reads it back, <see cref="ContractCheck"/>) share. Everything that
/// depends on the architecture (cost, memory, tiling, the trainer's layer list) reads it from here, not from strings.
/// </summary>
public sealed record ModelDescriptor
{
    /// <summary>The architecture's name as written in the file (<see cref="ModelContract.ArchKey"/>); <see cref="Generator"/> is its kind.</summary>
    public required string Arch { get; init; }
    public required int Ngf { get; init; }
    public required NormKind Norm { get; init; }
    public required int ChannelsIn { get; init; }
    public required int ChannelsOut { get; init; }
    public Upsampling Upsampling { get; init; } = Upsampling.ConvTranspose;
    public Antialiasing Antialiasing { get; init; } = Antialiasing.None;
    public GeneratorOutput Output { get; init; } = GeneratorOutput.Image;
    /// <summary>Height and width must be multiples of this (the product of the stride-2 downsamplings).</summary>
    public required int SpatialMultiple { get; init; }

    public GeneratorKind Generator => KindOf(Arch);

    /// <summary>The descriptor of a known architecture, with the spatial multiple that follows from it.</summary>
    public static ModelDescriptor Of(GeneratorKind generator, int ngf, NormKind norm, int channelsIn, int channelsOut,
        Upsampling upsampling = Upsampling.ConvTranspose, Antialiasing antialiasing = Antialiasing.None,
        GeneratorOutput output = GeneratorOutput.Image) => new()
    {
        Arch = ArchName(generator),
        Ngf = ngf,
        Norm = norm,
        ChannelsIn = channelsIn,
        ChannelsOut = channelsOut,
        Upsampling = upsampling,
        Antialiasing = antialiasing,
        Output = output,
        SpatialMultiple = SpatialMultipleOf(generator),
    };

    /// <summary>Residual blocks of a resnet-style generator (resnet_*, encoder_decoder); null for the others.</summary>
    public int? ResidualBlocks => Generator switch
    {
        GeneratorKind.Resnet9Blocks => 9,
        GeneratorKind.Resnet6Blocks => 6,
        GeneratorKind.EncoderDecoder => 3,
        _ => null,
    };

    /// <summary>The metadata keys this descriptor writes (the architecture keys of docs/onnx-contract.md).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata()
    {
        var inv = CultureInfo.InvariantCulture;
        return
        [
            new(ModelContract.ArchKey, Arch),
            new(ModelContract.NgfKey, Ngf.ToString(inv)),
            new(ModelContract.NormKey, NormName(Norm)),
            new(ModelContract.ChannelsInKey, ChannelsIn.ToString(inv)),
            new(ModelContract.ChannelsOutKey, ChannelsOut.ToString(inv)),
            new(ModelContract.SpatialMultipleKey, SpatialMultiple.ToString(inv)),
            new(ModelContract.UpsampleKey, UpsamplingName(Upsampling)),
            new(ModelContract.AntialiasKey, AntialiasingName(Antialiasing)),
            new(ModelContract.OutputKey, OutputName(Output)),
        ];
    }

    // The names: one table each, read by the trainer's option lists, the exporter and the runtime.
    private static readonly (GeneratorKind Kind, string Name)[] GeneratorNames =
    [
        (GeneratorKind.Resnet9Blocks, "resnet_9blocks"), (GeneratorKind.Resnet6Blocks, "resnet_6blocks"),
        (GeneratorKind.Unet128, "unet_128"), (GeneratorKind.Unet256, "unet_256"), (GeneratorKind.EncoderDecoder, "encoder_decoder"),
    ];

    /// <summary>The known architecture names (--netG), in the trainer's order.</summary>
    public static IReadOnlyList<string> GeneratorArchs { get; } = [.. GeneratorNames.Select(g => g.Name)];
    public static IReadOnlyList<string> NormNames { get; } = ["instance", "batch", "none"];
    public static IReadOnlyList<string> UpsamplingNames { get; } = ["convtranspose", "resize"];
    public static IReadOnlyList<string> AntialiasingNames { get; } = ["none", "blur"];
    public static IReadOnlyList<string> OutputNames { get; } = ["image", "residual"];

    public static GeneratorKind KindOf(string arch) =>
        GeneratorNames.FirstOrDefault(g => g.Name == arch) is { Name: not null } g ? g.Kind : GeneratorKind.Other;

    public static string ArchName(GeneratorKind kind) =>
        GeneratorNames.FirstOrDefault(g => g.Kind == kind) is { Name: not null } g
            ? g.Name
            : throw new ArgumentException($"{kind} has no architecture name", nameof(kind));

    public static string NormName(NormKind norm) => NormNames[(int)norm];
    public static string UpsamplingName(Upsampling upsampling) => UpsamplingNames[(int)upsampling];
    public static string AntialiasingName(Antialiasing antialiasing) => AntialiasingNames[(int)antialiasing];
    public static string OutputName(GeneratorOutput output) => OutputNames[(int)output];

    public static NormKind? ParseNorm(string name) => IndexOf(NormNames, name) is >= 0 and var i ? (NormKind)i : null;
    public static Upsampling? ParseUpsampling(string name) => IndexOf(UpsamplingNames, name) is >= 0 and var i ? (Upsampling)i : null;
    public static Antialiasing? ParseAntialiasing(string name) => IndexOf(AntialiasingNames, name) is >= 0 and var i ? (Antialiasing)i : null;
    public static GeneratorOutput? ParseOutput(string name) => IndexOf(OutputNames, name) is >= 0 and var i ? (GeneratorOutput)i : null;

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
            if (names[i] == name) return i;
        return -1;
    }

    /// <summary>The spatial multiple of a known architecture: 4 for the resnets and encoder_decoder, 128/256 for the U-Nets.</summary>
    public static int SpatialMultipleOf(GeneratorKind kind) => kind switch
    {
        GeneratorKind.Resnet9Blocks or GeneratorKind.Resnet6Blocks or GeneratorKind.EncoderDecoder => 4,
        GeneratorKind.Unet128 => 128,
        GeneratorKind.Unet256 => 256,
        _ => throw new ArgumentException($"{kind} has no known spatial multiple", nameof(kind)),
    };
}
