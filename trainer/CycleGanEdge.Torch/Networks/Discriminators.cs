using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// The reference PatchGAN (NLayerDiscriminator): conv4/2 + lrelu, then n_layers-1 blocks of conv4/2 + norm + lrelu
/// with channels ndf*min(2^n, 8), one conv4/1 + norm + lrelu, and a conv4/1 to one channel: a [N,1,h,w] score map.
/// With <c>antialias</c> (the CUT reference's default) each conv4/2 is a conv4/1 followed (after its norm and lrelu)
/// by a <see cref="BlurDownsample"/>.
/// </summary>
public sealed class NLayerDiscriminator : Module<Tensor, Tensor>
{
    public readonly Sequential model;

    public NLayerDiscriminator(int inputNc, int ndf, int nLayers, string norm, bool antialias = false) : base(nameof(NLayerDiscriminator))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nLayers, 1);
        NormLayer.Validate(norm);
        bool useBias = NormLayer.UseBias(norm);
        int stride = antialias ? 1 : 2;
        var layers = new List<Module<Tensor, Tensor>>
        {
            Conv2d(inputNc, ndf, kernel_size: 4, stride: stride, padding: 1),
            new StableLeakyReLU(0.2),
        };
        if (antialias) layers.Add(new BlurDownsample(ndf));
        int mult = 1;
        for (int n = 1; n < nLayers; n++)
        {
            int previous = mult;
            mult = Math.Min(1 << n, 8);
            layers.Add(Conv2d(ndf * previous, ndf * mult, kernel_size: 4, stride: stride, padding: 1, bias: useBias));
            layers.Add(NormLayer.Create(norm, ndf * mult));
            layers.Add(new StableLeakyReLU(0.2));
            if (antialias) layers.Add(new BlurDownsample(ndf * mult));
        }

        int last = mult;
        mult = 1 << Math.Min(nLayers, 3); // = min(2^n_layers, 8)
        layers.Add(Conv2d(ndf * last, ndf * mult, kernel_size: 4, stride: 1, padding: 1, bias: useBias));
        layers.Add(NormLayer.Create(norm, ndf * mult));
        layers.Add(new StableLeakyReLU(0.2));
        layers.Add(Conv2d(ndf * mult, 1, kernel_size: 4, stride: 1, padding: 1));

        model = Sequential(layers.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => model.forward(input);
}

/// <summary>The reference PixelDiscriminator (1x1 PixelGAN): a real/fake score per pixel, [N,1,H,W].</summary>
public sealed class PixelDiscriminator : Module<Tensor, Tensor>
{
    public readonly Sequential net;

    public PixelDiscriminator(int inputNc, int ndf, string norm) : base(nameof(PixelDiscriminator))
    {
        NormLayer.Validate(norm);
        bool useBias = NormLayer.UseBias(norm);
        net = Sequential(
            Conv2d(inputNc, ndf, kernel_size: 1, stride: 1, padding: 0L),
            new StableLeakyReLU(0.2),
            Conv2d(ndf, ndf * 2, kernel_size: 1, stride: 1, padding: 0L, bias: useBias),
            NormLayer.Create(norm, ndf * 2),
            new StableLeakyReLU(0.2),
            Conv2d(ndf * 2, 1, kernel_size: 1, stride: 1, padding: 0L, bias: useBias));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => net.forward(input);
}

/// <summary>
/// Our whole-image discriminator (not in the reference): one real/fake score per image, [N,1], for small
/// domains where a patch score says little. Layout of <see cref="model"/>:
///  0 conv4/2 in->ndf, 1 lrelu, 2 conv4/2 ndf->2ndf, 3 norm, 4 lrelu, 5 conv4/2 2ndf->4ndf, 6 norm, 7 lrelu,
///  8 global average pool, 9 flatten, 10 linear 4ndf->1. Works for any input side of 8 px or more.
/// </summary>
public sealed class GlobalDiscriminator : Module<Tensor, Tensor>
{
    public readonly Sequential model;

    public GlobalDiscriminator(int inputNc, int ndf, string norm) : base(nameof(GlobalDiscriminator))
    {
        NormLayer.Validate(norm);
        bool useBias = NormLayer.UseBias(norm);
        model = Sequential(
            Conv2d(inputNc, ndf, kernel_size: 4, stride: 2, padding: 1),
            new StableLeakyReLU(0.2),
            Conv2d(ndf, ndf * 2, kernel_size: 4, stride: 2, padding: 1, bias: useBias),
            NormLayer.Create(norm, ndf * 2),
            new StableLeakyReLU(0.2),
            Conv2d(ndf * 2, ndf * 4, kernel_size: 4, stride: 2, padding: 1, bias: useBias),
            NormLayer.Create(norm, ndf * 4),
            new StableLeakyReLU(0.2),
            AdaptiveAvgPool2d(1),
            Flatten(),
            Linear(ndf * 4, 1));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => model.forward(input);
}
