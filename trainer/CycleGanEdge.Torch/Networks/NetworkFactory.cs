using CycleGanEdge.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// Builds generators and discriminators from names, like the reference's define_G/define_D: variants are data.
/// </summary>
public static class NetworkFactory
{
    public static IReadOnlyList<string> GeneratorArchs => ModelDescriptor.GeneratorArchs;

    public static IReadOnlyList<string> DiscriminatorArchs { get; } = ["basic", "n_layers", "pixel", "global"];

    public static IReadOnlyList<string> Norms => ModelDescriptor.NormNames;

    public const string ConvTransposeUpsampling = "convtranspose";
    public const string ResizeUpsampling = "resize";

    /// <summary>
    /// convtranspose: the reference's stride-2 transposed convolution. resize: nearest x2 then a 3x3 convolution
    /// (Odena et al. 2016, the reference FAQ), which cannot make checkerboard patterns from uneven kernel overlap.
    /// </summary>
    public static IReadOnlyList<string> Upsamplings => ModelDescriptor.UpsamplingNames;

    public static IReadOnlyList<string> InitTypes { get; } = ["normal", "xavier", "kaiming", "orthogonal"];

    public static Module<Tensor, Tensor> CreateGenerator(GeneratorOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        CheckChannels(o.InputNc, o.OutputNc);
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Ngf, 1);
        NormLayer.Validate(o.Norm);
        CheckName("upsampling", o.Upsample, Upsamplings);
        return o.Arch switch
        {
            "resnet_9blocks" => new ResnetGenerator(o.InputNc, o.OutputNc, o.Ngf, o.Norm, o.UseDropout, nBlocks: 9, o.Upsample, o.Antialias, o.Residual),
            "resnet_6blocks" => new ResnetGenerator(o.InputNc, o.OutputNc, o.Ngf, o.Norm, o.UseDropout, nBlocks: 6, o.Upsample, o.Antialias, o.Residual),
            _ when o.Antialias => throw new ArgumentException($"anti-aliased sampling is for resnet generators, not {o.Arch}", nameof(o)),
            _ when o.Residual => throw new ArgumentException($"a residual output is for resnet generators, not {o.Arch}", nameof(o)),
            "unet_128" => new UnetGenerator(o.InputNc, o.OutputNc, numDowns: 7, o.Ngf, o.Norm, o.UseDropout, o.Upsample),
            "unet_256" => new UnetGenerator(o.InputNc, o.OutputNc, numDowns: 8, o.Ngf, o.Norm, o.UseDropout, o.Upsample),
            "encoder_decoder" => new EncoderDecoderGenerator(o.InputNc, o.OutputNc, o.Ngf, o.Norm, o.UseDropout, o.Upsample),
            _ => throw new ArgumentException(UnknownNameMessage("generator arch", o.Arch, GeneratorArchs), nameof(o)),
        };
    }

    public static Module<Tensor, Tensor> CreateDiscriminator(DiscriminatorOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        CheckChannels(o.InputNc);
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Ndf, 1);
        NormLayer.Validate(o.Norm);
        return o.Arch switch
        {
            "basic" => new NLayerDiscriminator(o.InputNc, o.Ndf, nLayers: 3, o.Norm, o.Antialias),
            "n_layers" => new NLayerDiscriminator(o.InputNc, o.Ndf, o.NLayers, o.Norm, o.Antialias),
            "pixel" => new PixelDiscriminator(o.InputNc, o.Ndf, o.Norm),
            "global" => new GlobalDiscriminator(o.InputNc, o.Ndf, o.Norm),
            _ => throw new ArgumentException(UnknownNameMessage("discriminator arch", o.Arch, DiscriminatorArchs), nameof(o)),
        };
    }

    /// <summary>
    /// The layer that doubles height and width in a decoder. convtranspose: <paramref name="transposed"/>, the
    /// reference's layer. resize: a Sequential of nearest x2 upsampling (0) and a 3x3 convolution with zero
    /// padding 1 (1), so the state_dict key is "&lt;index&gt;.1.weight" where the reference has "&lt;index&gt;.weight".
    /// </summary>
    public static Module<Tensor, Tensor> Upsampling2x(string upsample, int inNc, int outNc, bool bias,
        Func<Module<Tensor, Tensor>> transposed)
    {
        ArgumentNullException.ThrowIfNull(transposed);
        return upsample switch
        {
            ConvTransposeUpsampling => transposed(),
            ResizeUpsampling => Sequential(
                Upsample(scale_factor: [2.0, 2.0], mode: UpsampleMode.Nearest),
                Conv2d(inNc, outNc, kernel_size: 3, padding: 1, bias: bias)),
            _ => throw new ArgumentException(UnknownNameMessage("upsampling", upsample, Upsamplings), nameof(upsample)),
        };
    }

    /// <summary>
    /// The reference init_weights: every Conv*/Linear weight from <paramref name="initType"/> and its bias 0;
    /// BatchNorm2d weight ~ N(1, gain) and bias 0. Kaiming ignores gain (fan_in, a=0), as the reference.
    /// </summary>
    public static void InitWeights(Module m, string initType, double gain)
    {
        ArgumentNullException.ThrowIfNull(m);
        CheckName("init type", initType, InitTypes);
        using var noGrad = torch.no_grad();
        foreach (var module in m.modules().Prepend(m))
        {
            var (weight, bias) = module switch
            {
                Conv2d c => (c.weight, c.bias),
                ConvTranspose2d c => (c.weight, c.bias),
                Linear l => (l.weight, l.bias),
                _ => ((Tensor?)null, (Tensor?)null),
            };
            if (weight is not null)
            {
                switch (initType)
                {
                    case "normal": init.normal_(weight, 0.0, gain); break;
                    case "xavier": init.xavier_normal_(weight, gain); break;
                    case "kaiming": init.kaiming_normal_(weight, a: 0, mode: init.FanInOut.FanIn); break;
                    case "orthogonal": init.orthogonal_(weight, gain); break;
                }
                if (bias is not null)
                    init.constant_(bias, 0.0);
            }
            else if (module is BatchNorm2d bn && bn.weight is not null && bn.bias is not null)
            {
                init.normal_(bn.weight, 1.0, gain);
                init.constant_(bn.bias, 0.0);
            }
        }
    }

    /// <summary>The input height and width must be multiples of this (the product of all stride-2 downsamplings).</summary>
    public static int SpatialMultiple(GeneratorOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var kind = ModelDescriptor.KindOf(o.Arch);
        return kind == GeneratorKind.Other
            ? throw new ArgumentException(UnknownNameMessage("generator arch", o.Arch, GeneratorArchs), nameof(o))
            : ModelDescriptor.SpatialMultipleOf(kind);
    }

    /// <summary>A clear message instead of a native shape error deep inside the network.</summary>
    internal static void CheckInput(Tensor input, int channels, int multiple, string network)
    {
        if (input.ndim != 4 || input.shape[1] != channels)
            throw new ArgumentException(
                $"{network} takes a [N, {channels}, H, W] batch, not [{string.Join(", ", input.shape)}]", nameof(input));
        if (input.shape[2] % multiple != 0 || input.shape[3] % multiple != 0)
            throw new ArgumentException(
                $"{network} needs height and width that are multiples of {multiple}, not {input.shape[2]}x{input.shape[3]}",
                nameof(input));
    }

    internal static void CheckName(string what, string name, IReadOnlyList<string> valid)
    {
        if (!valid.Contains(name))
            throw new ArgumentException(UnknownNameMessage(what, name, valid));
    }

    internal static string UnknownNameMessage(string what, string? name, IReadOnlyList<string> valid) =>
        $"unknown {what} '{name}'; valid: {string.Join(", ", valid)}";

    private static void CheckChannels(params int[] channels)
    {
        foreach (int c in channels)
            if (c is not (1 or 3))
                throw new ArgumentException($"image channels must be 1 (grayscale) or 3 (colour), not {c}");
    }
}
