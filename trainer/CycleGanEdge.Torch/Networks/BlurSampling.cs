using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// The CUT reference's anti-aliased Downsample (models/networks.py, after Zhang 2019, "Making convolutional networks
/// shift-invariant again"), with its defaults: reflect-pad by 1, then a fixed depthwise 3x3 binomial blur
/// ([1,2,1] x [1,2,1] / 16) at stride 2. The filter is the buffer "filt" [C,1,3,3], as in the reference's state_dict.
/// </summary>
public sealed class BlurDownsample : nn.Module<Tensor, Tensor>
{
    public BlurDownsample(int channels) : base(nameof(BlurDownsample))
    {
        Channels = channels;
        register_buffer("filt", BlurSampling.Filter([1f, 2f, 1f], channels, gain: 1f));
    }

    public int Channels { get; }

    public Tensor Filter => get_buffer("filt")!;

    public override Tensor forward(Tensor input) =>
        F.conv2d(F.pad(input, [1, 1, 1, 1], PaddingModes.Reflect), Filter, strides: [2, 2], groups: Channels);
}

/// <summary>
/// The CUT reference's anti-aliased Upsample with its defaults: replicate-pad by 1, then a fixed depthwise transposed
/// 4x4 binomial filter ([1,3,3,1] x [1,3,3,1] / 64, times stride^2 = 4) at stride 2, cropped to exactly 2H x 2W
/// (the reference's padding 2 and its [1:, 1:] and [:-1, :-1] crops are one padding of 3). Buffer "filt" [C,1,4,4].
/// </summary>
public sealed class BlurUpsample : nn.Module<Tensor, Tensor>
{
    public BlurUpsample(int channels) : base(nameof(BlurUpsample))
    {
        Channels = channels;
        register_buffer("filt", BlurSampling.Filter([1f, 3f, 3f, 1f], channels, gain: 4f));
    }

    public int Channels { get; }

    public Tensor Filter => get_buffer("filt")!;

    /// <summary>Padding of the transposed convolution after the replicate pad of 1.</summary>
    public const int TransposedPadding = 3;

    public override Tensor forward(Tensor input) =>
        F.conv_transpose2d(F.pad(input, [1, 1, 1, 1], PaddingModes.Replicate), Filter, strides: [2, 2], padding: [TransposedPadding, TransposedPadding], groups: Channels);
}

internal static class BlurSampling
{
    /// <summary>outer(a, a) / sum * gain, repeated per channel: [channels, 1, k, k].</summary>
    public static Tensor Filter(float[] a, int channels, float gain)
    {
        using var scope = NewDisposeScope();
        var v = tensor(a);
        var f = v.unsqueeze(1) * v.unsqueeze(0);
        f = f / f.sum() * gain;
        return f.unsqueeze(0).unsqueeze(0).repeat(channels, 1, 1, 1).contiguous().MoveToOuterDisposeScope();
    }
}
