using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// LeakyReLU whose slope is one Scalar kept alive across every native call. TorchSharp 0.107's LeakyReLU converts its
/// double slope into a temporary Scalar on each call without keeping it alive during the call, so a garbage collection
/// on another thread can free it mid-call ("Expected false to be true" in c10's toFloat). No parameters, so state_dict
/// keys stay the reference's.
/// </summary>
public sealed class StableLeakyReLU : Module<Tensor, Tensor>
{
    private readonly Scalar _slope;

    public StableLeakyReLU(double negativeSlope) : base(nameof(StableLeakyReLU))
    {
        NegativeSlope = negativeSlope;
        _slope = negativeSlope;
    }

    public double NegativeSlope { get; }

    public override Tensor forward(Tensor input)
    {
        var output = input.leaky_relu(_slope);
        GC.KeepAlive(_slope);
        return output;
    }
}
