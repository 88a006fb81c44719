using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// Lets training use oneDNN safely. libtorch 2.10's oneDNN computes wrong input gradients on AVX-512 CPUs for
/// convolutions with fewer than 16 output channels (the generators' last layer, the PatchGAN score layer;
/// evidence in benchmarks/TRAINING.md), while 16 and more are right. So each such layer convolves with its
/// weight padded by zero filters up to 16 and keeps its own channels: the output, the parameter gradients,
/// the state_dict and the exported graph are unchanged, and oneDNN runs a case it gets right.
/// </summary>
public static class NarrowConvolutionPadding
{
    public const int MinOutputChannels = 16;

    /// <summary>Hooks every narrow Conv2d under <paramref name="network"/>; returns how many.</summary>
    public static int Apply(nn.Module network)
    {
        int hooked = 0;
        foreach (var (_, module) in network.named_modules())
        {
            if (module is not Conv2d conv || conv.out_channels >= MinOutputChannels || conv.padding_mode != PaddingModes.Zeros
                || conv.padding is null)
                continue;
            // A forward hook replaces the layer's result; Sequential runs hooks (call), and the discarded
            // original output is never part of the backward pass.
            conv.register_forward_hook((_, input, _) => PaddedForward(conv, input));
            hooked++;
        }
        return hooked;
    }

    private static Tensor PaddedForward(Conv2d conv, Tensor input)
    {
        var weight = conv.weight;
        long missing = MinOutputChannels - conv.out_channels;
        using var zeroFilters = zeros([missing, .. weight.shape[1..]], dtype: weight.dtype, device: weight.device);
        using var paddedWeight = cat([weight, zeroFilters], 0);
        using var paddedBias = conv.bias is { } bias ? cat([bias, zeros([missing], dtype: bias.dtype, device: bias.device)], 0) : null;
        using var output = F.conv2d(input, paddedWeight, paddedBias, conv.stride, conv.padding, conv.dilation, conv.groups);
        return output.narrow(1, 0, conv.out_channels);
    }
}
