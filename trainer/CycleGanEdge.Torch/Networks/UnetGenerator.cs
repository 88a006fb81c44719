using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// The reference UnetGenerator: numDowns stride-2 downsamplings, so the input side must be a multiple of
/// 2^numDowns (unet_128: 7, unet_256: 8). Built from the innermost block outwards; the state_dict nests as
/// model.model.1.model.3.model.3... (the outermost block holds the next one at index 1, middle blocks at index 3).
/// </summary>
public sealed class UnetGenerator : Module<Tensor, Tensor>
{
    public readonly UnetSkipConnectionBlock model;
    private readonly int inputNc;
    private readonly int spatialMultiple;

    public UnetGenerator(int inputNc, int outputNc, int numDowns, int ngf, string norm, bool useDropout,
        string upsample = NetworkFactory.ConvTransposeUpsampling)
        : base(nameof(UnetGenerator))
    {
        if (numDowns < 5)
            throw new ArgumentOutOfRangeException(nameof(numDowns), numDowns, "a U-Net needs at least 5 downsamplings");
        NormLayer.Validate(norm);
        this.inputNc = inputNc;
        spatialMultiple = 1 << numDowns;

        var block = new UnetSkipConnectionBlock(ngf * 8, ngf * 8, ngf * 8, null, norm, UnetSkipConnectionBlock.Position.Innermost, false, upsample);
        for (int i = 0; i < numDowns - 5; i++)
            block = new UnetSkipConnectionBlock(ngf * 8, ngf * 8, ngf * 8, block, norm, UnetSkipConnectionBlock.Position.Middle, useDropout, upsample);
        block = new UnetSkipConnectionBlock(ngf * 4, ngf * 8, ngf * 4, block, norm, UnetSkipConnectionBlock.Position.Middle, false, upsample);
        block = new UnetSkipConnectionBlock(ngf * 2, ngf * 4, ngf * 2, block, norm, UnetSkipConnectionBlock.Position.Middle, false, upsample);
        block = new UnetSkipConnectionBlock(ngf, ngf * 2, ngf, block, norm, UnetSkipConnectionBlock.Position.Middle, false, upsample);
        model = new UnetSkipConnectionBlock(outputNc, ngf, inputNc, block, norm, UnetSkipConnectionBlock.Position.Outermost, false, upsample);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        NetworkFactory.CheckInput(input, inputNc, spatialMultiple, GetName());
        return model.forward(input);
    }
}

/// <summary>
/// The reference UnetSkipConnectionBlock. Layout of <see cref="model"/>:
/// outermost: 0 conv4/2, 1 submodule, 2 relu, 3 convT4/2 (with bias), 4 tanh;
/// innermost: 0 lrelu, 1 conv4/2, 2 relu, 3 convT4/2, 4 norm;
/// middle:    0 lrelu, 1 conv4/2, 2 norm, 3 submodule, 4 relu, 5 convT4/2, 6 norm, [7 dropout].
/// Every block but the outermost concatenates its input with its output on the channel axis.
/// </summary>
public sealed class UnetSkipConnectionBlock : Module<Tensor, Tensor>
{
    public enum Position { Outermost, Middle, Innermost }

    public readonly Sequential model;

    public bool Outermost { get; }

    public UnetSkipConnectionBlock(int outerNc, int innerNc, int inputNc, UnetSkipConnectionBlock? submodule,
        string norm, Position position, bool useDropout, string upsample = NetworkFactory.ConvTransposeUpsampling)
        : base(nameof(UnetSkipConnectionBlock))
    {
        Outermost = position == Position.Outermost;
        bool useBias = NormLayer.UseBias(norm);
        if ((position == Position.Innermost) != (submodule is null))
            throw new ArgumentException("only the innermost block has no submodule", nameof(submodule));

        var downconv = Conv2d(inputNc, innerNc, kernel_size: 4, stride: 2, padding: 1, bias: useBias);
        Module<Tensor, Tensor>[] layers = position switch
        {
            Position.Outermost =>
            [
                downconv, submodule!, ReLU(),
                NetworkFactory.Upsampling2x(upsample, innerNc * 2, outerNc, bias: true,
                    () => ConvTranspose2d(innerNc * 2, outerNc, kernel_size: 4, stride: 2, padding: 1)),
                Tanh(),
            ],
            Position.Innermost =>
            [
                new StableLeakyReLU(0.2), downconv, ReLU(),
                NetworkFactory.Upsampling2x(upsample, innerNc, outerNc, useBias,
                    () => ConvTranspose2d(innerNc, outerNc, kernel_size: 4, stride: 2, padding: 1, bias: useBias)),
                NormLayer.Create(norm, outerNc),
            ],
            _ =>
            [
                new StableLeakyReLU(0.2), downconv, NormLayer.Create(norm, innerNc), submodule!, ReLU(),
                NetworkFactory.Upsampling2x(upsample, innerNc * 2, outerNc, useBias,
                    () => ConvTranspose2d(innerNc * 2, outerNc, kernel_size: 4, stride: 2, padding: 1, bias: useBias)),
                NormLayer.Create(norm, outerNc),
                .. (useDropout ? new Module<Tensor, Tensor>[] { Dropout(0.5) } : []),
            ],
        };

        model = Sequential(layers);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Outermost ? model.forward(x) : cat([x, model.forward(x)], 1);
}
