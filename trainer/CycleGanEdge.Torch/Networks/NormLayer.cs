using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>The reference's get_norm_layer, plus its use_bias rule.</summary>
internal static class NormLayer
{
    public static void Validate(string norm) => NetworkFactory.CheckName("norm", norm, NetworkFactory.Norms);

    /// <summary>
    /// instance: InstanceNorm2d without affine parameters or running statistics (nothing in the state_dict);
    /// batch: BatchNorm2d with affine parameters and running statistics;
    /// none: Identity, which keeps the Sequential indices of the other norms (as the reference does).
    /// </summary>
    public static Module<Tensor, Tensor> Create(string norm, long channels) => norm switch
    {
        "instance" => InstanceNorm2d(channels, affine: false, track_running_stats: false),
        "batch" => BatchNorm2d(channels, affine: true, track_running_stats: true),
        "none" => Identity(),
        _ => throw new ArgumentException(NetworkFactory.UnknownNameMessage("norm", norm, NetworkFactory.Norms), nameof(norm)),
    };

    /// <summary>
    /// The reference gives convolutions followed by a norm a bias only for instance norm (batch norm has its own
    /// shift). Its test is "is the norm InstanceNorm2d", so with norm none those convolutions have no bias either;
    /// we keep that so reference checkpoints map key for key.
    /// </summary>
    public static bool UseBias(string norm) => norm == "instance";
}
