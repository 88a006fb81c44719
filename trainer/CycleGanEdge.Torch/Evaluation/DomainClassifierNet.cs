using CycleGanEdge.Torch.Networks;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Evaluation;

/// <summary>
/// A small CNN that tells two image domains apart: three 4x4 stride-2 convolutions with LeakyReLU(0.2),
/// global average pooling, and a linear layer to two logits (index 0 = domain A, 1 = domain B).
/// Input [N, 3, S, S] in [-1, 1]. The exporter writes it as ONNX (exporter/ClassifierExport.cs).
/// </summary>
public sealed class DomainClassifierNet : nn.Module<Tensor, Tensor>
{
    public const double Slope = 0.2;

    // Field names are the state_dict keys.
    private readonly Conv2d conv1, conv2, conv3;
    private readonly Linear fc;

    public DomainClassifierNet(int width = 16) : base("DomainClassifier")
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), "width must be positive");
        Width = width;
        conv1 = nn.Conv2d(3, width, 4, stride: 2, padding: 1);
        conv2 = nn.Conv2d(width, 2 * width, 4, stride: 2, padding: 1);
        conv3 = nn.Conv2d(2 * width, 4 * width, 4, stride: 2, padding: 1);
        fc = nn.Linear(4 * width, 2);
        RegisterComponents();
    }

    /// <summary>Filters of the first convolution (then 2x and 4x).</summary>
    public int Width { get; }

    /// <summary>The convolutions in order, each followed by LeakyReLU(<see cref="Slope"/>).</summary>
    public IReadOnlyList<Conv2d> Convolutions => [conv1, conv2, conv3];

    /// <summary>The final linear layer: 4 x width pooled features to 2 logits.</summary>
    public Linear Head => fc;

    /// <summary>LeakyReLU(<see cref="Slope"/>) that keeps its Scalar alive across the native call (the TorchSharp race <see cref="StableLeakyReLU"/> describes); no parameters, so no state_dict key.</summary>
    private readonly StableLeakyReLU lrelu = new(Slope);

    public override Tensor forward(Tensor x)
    {
        foreach (var conv in Convolutions) x = lrelu.call(conv.call(x)); // call runs hooks (NarrowConvolutionPadding)
        return fc.forward(x.mean([2L, 3L]));
    }
}
