using CycleGanEdge.Core;

namespace CycleGanEdge.Torch.Networks;

/// <summary>Everything needed to rebuild a generator; saved in every generator checkpoint.</summary>
public sealed record GeneratorOptions
{
    /// <summary>One of <see cref="NetworkFactory.GeneratorArchs"/>.</summary>
    public string Arch { get; init; } = "resnet_9blocks";
    public int InputNc { get; init; } = 3;
    public int OutputNc { get; init; } = 3;
    public int Ngf { get; init; } = 64;
    /// <summary>One of <see cref="NetworkFactory.Norms"/>.</summary>
    public string Norm { get; init; } = "instance";
    public bool UseDropout { get; init; } = false;
    /// <summary>One of <see cref="NetworkFactory.Upsamplings"/>: how the decoder doubles the resolution.</summary>
    public string Upsample { get; init; } = NetworkFactory.ConvTransposeUpsampling;
    /// <summary>
    /// Resnet generators only: the CUT reference's anti-aliased sampling (its default; false is its
    /// --no_antialias --no_antialias_up): each down is conv3 (stride 1), norm, relu, <see cref="BlurDownsample"/>;
    /// each up is <see cref="BlurUpsample"/>, conv3, norm, relu. <see cref="Upsample"/> must be convtranspose.
    /// </summary>
    public bool Antialias { get; init; }
    /// <summary>Resnet generators only: the output is clip(input + tanh(last conv), -1, 1), a change drawn on the input (<see cref="GeneratorOutput.Residual"/>).</summary>
    public bool Residual { get; init; }

    /// <summary>What the generator is, in the vocabulary the exporter and the runtime share; ArgumentException for unknown names.</summary>
    public ModelDescriptor Descriptor
    {
        get
        {
            var kind = ModelDescriptor.KindOf(Arch);
            if (kind == GeneratorKind.Other)
                throw new ArgumentException(NetworkFactory.UnknownNameMessage("generator arch", Arch, ModelDescriptor.GeneratorArchs));
            var norm = ModelDescriptor.ParseNorm(Norm) ?? throw new ArgumentException(NetworkFactory.UnknownNameMessage("norm", Norm, ModelDescriptor.NormNames));
            var upsampling = ModelDescriptor.ParseUpsampling(Upsample)
                ?? throw new ArgumentException(NetworkFactory.UnknownNameMessage("upsampling", Upsample, ModelDescriptor.UpsamplingNames));
            return ModelDescriptor.Of(kind, Ngf, norm, InputNc, OutputNc, upsampling, Antialias ? Antialiasing.Blur : Antialiasing.None,
                Residual ? GeneratorOutput.Residual : GeneratorOutput.Image);
        }
    }

    /// <summary>The options that build <paramref name="generator"/>; dropout is not part of a descriptor (it is the identity at inference).</summary>
    public static GeneratorOptions From(ModelDescriptor generator, bool useDropout)
    {
        ArgumentNullException.ThrowIfNull(generator);
        return new()
        {
            Arch = generator.Arch,
            InputNc = generator.ChannelsIn,
            OutputNc = generator.ChannelsOut,
            Ngf = generator.Ngf,
            Norm = ModelDescriptor.NormName(generator.Norm),
            UseDropout = useDropout,
            Upsample = ModelDescriptor.UpsamplingName(generator.Upsampling),
            Antialias = generator.Antialiasing == Antialiasing.Blur,
            Residual = generator.Output == GeneratorOutput.Residual,
        };
    }
}

/// <summary>Everything needed to rebuild a discriminator; saved in every discriminator checkpoint.</summary>
public sealed record DiscriminatorOptions
{
    /// <summary>One of <see cref="NetworkFactory.DiscriminatorArchs"/>.</summary>
    public string Arch { get; init; } = "basic";
    public int InputNc { get; init; } = 3;
    public int Ndf { get; init; } = 64;
    /// <summary>Used by the n_layers arch only ("basic" is n_layers with 3).</summary>
    public int NLayers { get; init; } = 3;
    /// <summary>One of <see cref="NetworkFactory.Norms"/>.</summary>
    public string Norm { get; init; } = "instance";
    /// <summary>basic and n_layers only: the CUT reference's anti-aliased PatchGAN (each stride-2 conv becomes stride 1 + <see cref="BlurDownsample"/>).</summary>
    public bool Antialias { get; init; }
}
