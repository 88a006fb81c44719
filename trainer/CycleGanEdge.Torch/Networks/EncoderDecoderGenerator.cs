using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// Our small generator for 28-64 px domains (digits, emoji); not in the reference. Two stride-2 downs, so the
/// input side must be a multiple of 4 (28 -> 14 -> 7). It follows the options' norm; batch norm is the one to
/// pick for it (pass "batch"), since instance statistics over 7x7 feature maps are noisy. Layout of <see cref="model"/>:
///  0 reflect pad 2, 1 conv5 in->ngf, 2 norm, 3 relu,
///  4 conv4/2 ngf->2ngf, 5 norm, 6 relu,
///  7 conv4/2 2ngf->4ngf, 8 norm, 9 relu,
///  10..12 three ResnetBlocks at 4ngf (with dropout when asked),
///  13 convT4/2 4ngf->2ngf, 14 norm, 15 relu,
///  16 convT4/2 2ngf->ngf, 17 norm, 18 relu,
///  19 reflect pad 2, 20 conv5 ngf->out (with bias), 21 tanh.
/// Convolutions followed by a norm have a bias only with instance norm, as in the reference networks.
/// </summary>
public sealed class EncoderDecoderGenerator : Module<Tensor, Tensor>
{
    public const int ResidualBlocks = 3;

    public readonly Sequential model;
    private readonly int inputNc;

    public EncoderDecoderGenerator(int inputNc, int outputNc, int ngf, string norm, bool useDropout,
        string upsample = NetworkFactory.ConvTransposeUpsampling)
        : base(nameof(EncoderDecoderGenerator))
    {
        NormLayer.Validate(norm);
        bool useBias = NormLayer.UseBias(norm);
        this.inputNc = inputNc;
        var layers = new List<Module<Tensor, Tensor>>
        {
            ReflectionPad2d(2),
            Conv2d(inputNc, ngf, kernel_size: 5, padding: 0L, bias: useBias),
            NormLayer.Create(norm, ngf),
            ReLU(),
            Conv2d(ngf, ngf * 2, kernel_size: 4, stride: 2, padding: 1, bias: useBias),
            NormLayer.Create(norm, ngf * 2),
            ReLU(),
            Conv2d(ngf * 2, ngf * 4, kernel_size: 4, stride: 2, padding: 1, bias: useBias),
            NormLayer.Create(norm, ngf * 4),
            ReLU(),
        };
        for (int i = 0; i < ResidualBlocks; i++)
            layers.Add(new ResnetBlock(ngf * 4, norm, useDropout, useBias));
        layers.AddRange(
        [
            NetworkFactory.Upsampling2x(upsample, ngf * 4, ngf * 2, useBias,
                () => ConvTranspose2d(ngf * 4, ngf * 2, kernel_size: 4, stride: 2, padding: 1, bias: useBias)),
            NormLayer.Create(norm, ngf * 2),
            ReLU(),
            NetworkFactory.Upsampling2x(upsample, ngf * 2, ngf, useBias,
                () => ConvTranspose2d(ngf * 2, ngf, kernel_size: 4, stride: 2, padding: 1, bias: useBias)),
            NormLayer.Create(norm, ngf),
            ReLU(),
            ReflectionPad2d(2),
            Conv2d(ngf, outputNc, kernel_size: 5, padding: 0L),
            Tanh(),
        ]);

        model = Sequential(layers.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        NetworkFactory.CheckInput(input, inputNc, multiple: 4, GetName());
        return model.forward(input);
    }
}
