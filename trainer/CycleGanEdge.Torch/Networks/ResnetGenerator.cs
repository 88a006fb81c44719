using CycleGanEdge.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// The reference ResnetGenerator (reflect padding, transposed-conv upsampling). Layout of <see cref="model"/>:
/// 0 pad3, 1 conv7, 2 norm, 3 relu, then two stride-2 downs (conv3, norm, relu) at 4..9, then n_blocks
/// ResnetBlocks at 10.., then two ups (convT3 or resize-conv, norm, relu), pad3, conv7 (with bias), tanh.
/// With <c>antialias</c> (the CUT reference's default layout): each down is conv3/1, norm, relu, blur-down (4..11),
/// blocks at 12.., each up is blur-up, conv3/1, norm, relu.
/// With <c>residual</c> the tanh's output is a change to the input: forward gives clip(input + model(input), -1, 1), so
/// whatever the network leaves alone keeps the input's sharp pixels instead of being redrawn through the bottleneck.
/// </summary>
public sealed class ResnetGenerator : Module<Tensor, Tensor>
{
    public readonly Sequential model;
    private readonly int inputNc;

    /// <summary>The output is clip(input + model(input), -1, 1).</summary>
    public bool Residual { get; }

    public ResnetGenerator(int inputNc, int outputNc, int ngf, string norm, bool useDropout, int nBlocks,
        string upsample = NetworkFactory.ConvTransposeUpsampling, bool antialias = false, bool residual = false)
        : base(nameof(ResnetGenerator))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nBlocks);
        if (residual && inputNc != outputNc)
            throw new ArgumentException($"a residual output adds the input to the output: it needs as many channels in ({inputNc}) as out ({outputNc})", nameof(residual));
        Residual = residual;
        NormLayer.Validate(norm);
        bool useBias = NormLayer.UseBias(norm);
        this.inputNc = inputNc;
        var layers = new List<Module<Tensor, Tensor>>
        {
            ReflectionPad2d(3),
            Conv2d(inputNc, ngf, kernel_size: 7, padding: 0L, bias: useBias),
            NormLayer.Create(norm, ngf),
            ReLU(),
        };

        const int downsamplings = 2;
        for (int i = 0; i < downsamplings; i++)
        {
            int mult = 1 << i;
            layers.Add(Conv2d(ngf * mult, ngf * mult * 2, kernel_size: 3, stride: antialias ? 1 : 2, padding: 1, bias: useBias));
            layers.Add(NormLayer.Create(norm, ngf * mult * 2));
            layers.Add(ReLU());
            if (antialias) layers.Add(new BlurDownsample(ngf * mult * 2));
        }

        for (int i = 0; i < nBlocks; i++)
            layers.Add(new ResnetBlock(ngf * (1 << downsamplings), norm, useDropout, useBias));

        for (int i = 0; i < downsamplings; i++)
        {
            int mult = 1 << (downsamplings - i);
            if (antialias)
            {
                if (upsample != NetworkFactory.ConvTransposeUpsampling)
                    throw new ArgumentException("anti-aliased upsampling replaces the transposed convolution: use convtranspose upsampling with it", nameof(upsample));
                layers.Add(new BlurUpsample(ngf * mult));
                layers.Add(Conv2d(ngf * mult, ngf * mult / 2, kernel_size: 3, stride: 1, padding: 1, bias: useBias));
                layers.Add(NormLayer.Create(norm, ngf * mult / 2));
                layers.Add(ReLU());
                continue;
            }
            layers.Add(NetworkFactory.Upsampling2x(upsample, ngf * mult, ngf * mult / 2, useBias,
                () => ConvTranspose2d(ngf * mult, ngf * mult / 2, kernel_size: 3, stride: 2, padding: 1, output_padding: 1, bias: useBias)));
            layers.Add(NormLayer.Create(norm, ngf * mult / 2));
            layers.Add(ReLU());
        }

        layers.Add(ReflectionPad2d(3));
        layers.Add(Conv2d(ngf, outputNc, kernel_size: 7, padding: 0L));
        layers.Add(Tanh());

        model = Sequential(layers.ToArray());
        RegisterComponents();
    }

    /// <summary>
    /// Entries of <see cref="model"/> for a resnet descriptor (the CUT losses pick layers by these indices): pad, conv,
    /// norm, relu; three per down and up (four with anti-aliasing); one per block; pad, conv, tanh.
    /// </summary>
    public static int LayersOf(ModelDescriptor generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        int blocks = generator.ResidualBlocks ?? throw new ArgumentException($"{generator.Arch} is not a resnet generator", nameof(generator));
        int perSampling = generator.Antialiasing == Antialiasing.Blur ? 4 : 3;
        return 4 + 2 * perSampling + blocks + 2 * perSampling + 3;
    }

    public override Tensor forward(Tensor input)
    {
        NetworkFactory.CheckInput(input, inputNc, multiple: 4, GetName());
        return Residual ? (input + model.forward(input)).clamp(-1.0, 1.0) : model.forward(input);
    }

    /// <summary>Number of layers in <see cref="model"/>: valid feature indices are 0 .. LayerCount - 1.</summary>
    public int LayerCount => (int)model.Count;

    /// <summary>
    /// The CUT reference's forward(input, layers, encode_only=True): the outputs of model[i] for each index in
    /// <paramref name="layers"/> (ascending), stopping after the last one. Layers run through call() so hooks apply.
    /// </summary>
    public List<Tensor> Encode(Tensor input, IReadOnlyList<int> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        NetworkFactory.CheckInput(input, inputNc, multiple: 4, GetName());
        var feats = new List<Tensor>(layers.Count);
        var x = input;
        for (int i = 0; i < LayerCount && feats.Count < layers.Count; i++)
        {
            x = ((Module<Tensor, Tensor>)model[i]).call(x);
            if (layers.Contains(i)) feats.Add(x);
        }
        return feats;
    }
}

/// <summary>
/// The reference ResnetBlock with reflect padding. Layout of <see cref="conv_block"/>:
/// 0 pad1, 1 conv3, 2 norm, 3 relu, [dropout], pad1, conv3, norm (indices after 3 shift by one with dropout).
/// </summary>
public sealed class ResnetBlock : Module<Tensor, Tensor>
{
    public readonly Sequential conv_block;

    public ResnetBlock(int dim, string norm, bool useDropout, bool useBias) : base(nameof(ResnetBlock))
    {
        var layers = new List<Module<Tensor, Tensor>>
        {
            ReflectionPad2d(1),
            Conv2d(dim, dim, kernel_size: 3, padding: 0L, bias: useBias),
            NormLayer.Create(norm, dim),
            ReLU(),
        };
        if (useDropout)
            layers.Add(Dropout(0.5));
        layers.Add(ReflectionPad2d(1));
        layers.Add(Conv2d(dim, dim, kernel_size: 3, padding: 0L, bias: useBias));
        layers.Add(NormLayer.Create(norm, dim));

        conv_block = Sequential(layers.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => x + conv_block.forward(x);
}
