using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Bench;

/// <summary>One convolution of a generator: kernel k×k, channels in→out, counted at 1/<see cref="Divisor"/> of the input's side.</summary>
/// <remarks>A convolution is counted at its output resolution, a transposed one at its input resolution
/// (each input pixel scatters one k×k×out kernel): either way MACs = k²·in·out·(H/d)·(W/d).</remarks>
public sealed record ConvLayer(int Kernel, int InChannels, int OutChannels, int Divisor, bool Transposed = false)
{
    public long Weights => (long)Kernel * Kernel * InChannels * OutChannels;
}

/// <summary>
/// Multiply-accumulates of a generator, worked out from its <see cref="ModelDescriptor"/> (the model's metadata)
/// rather than from the ONNX graph: the graph's convolutions do not carry their
/// spatial sizes, which would need shape inference through every op, while the generators are a fixed
/// small family whose layer list is short (the same lists as trainer/CycleGanEdge.Torch/Networks).
/// Only convolutions are counted; norms, activations, pads and adds are a few percent more work.
/// </summary>
public static class GeneratorCost
{
    /// <summary>The convolution layers of a generator, or null for an architecture this does not know.</summary>
    /// <remarks>With <see cref="Upsampling.Resize"/> the decoder upsamples with Resize and a 3×3 Conv: that conv runs at
    /// the upsampled size, 4× the work of the transposed conv it replaces.</remarks>
    public static IReadOnlyList<ConvLayer>? Layers(ModelDescriptor model)
    {
        int ngf = model.Ngf, cin = model.ChannelsIn, cout = model.ChannelsOut;
        bool resize = model.Upsampling == Upsampling.Resize;
        bool blur = model.Antialiasing == Antialiasing.Blur;
        return model.Generator switch
        {
            GeneratorKind.Resnet9Blocks or GeneratorKind.Resnet6Blocks =>
                Resnet(ngf, cin, cout, model.ResidualBlocks!.Value, outerKernel: 7, downKernel: 3, upKernel: 3, resize, blur),
            GeneratorKind.EncoderDecoder => Resnet(ngf, cin, cout, model.ResidualBlocks!.Value, outerKernel: 5, downKernel: 4, upKernel: 4, resize, blur),
            GeneratorKind.Unet128 => Unet(ngf, cin, cout, downs: 7),
            GeneratorKind.Unet256 => Unet(ngf, cin, cout, downs: 8),
            _ => null,
        };
    }

    /// <summary>MACs for one image of <paramref name="width"/>×<paramref name="height"/> (already a multiple of the spatial multiple).</summary>
    public static long MultiplyAccumulates(IReadOnlyList<ConvLayer> layers, int width, int height)
    {
        long total = 0;
        foreach (var l in layers)
            total += l.Weights * (width / l.Divisor) * (height / l.Divisor);
        return total;
    }

    /// <summary>c7s1-ngf, two stride-2 downs, residual blocks (two 3×3 convs each) at 4·ngf, two ups (transposed, or
    /// resize and a 3×3 conv at the new size), c7s1-out. Anti-aliased (CUT's layout): each down is a stride-1 conv at its
    /// input's size before a blur-downsample, each up a blur-upsample then a 3×3 conv at the new size (the blurs are
    /// depthwise and not counted).</summary>
    private static List<ConvLayer> Resnet(int ngf, int cin, int cout, int blocks, int outerKernel, int downKernel, int upKernel, bool resizeUpsampling, bool antialiased)
    {
        int downAt = antialiased ? 1 : 2; // the first down conv's divisor; the second's is twice that
        var layers = new List<ConvLayer>
        {
            new(outerKernel, cin, ngf, 1),
            new(downKernel, ngf, 2 * ngf, downAt),
            new(downKernel, 2 * ngf, 4 * ngf, 2 * downAt),
        };
        for (int i = 0; i < 2 * blocks; i++) layers.Add(new(3, 4 * ngf, 4 * ngf, 4));
        if (resizeUpsampling || antialiased)
        {
            layers.Add(new(3, 4 * ngf, 2 * ngf, 2));
            layers.Add(new(3, 2 * ngf, ngf, 1));
        }
        else
        {
            layers.Add(new(upKernel, 4 * ngf, 2 * ngf, 4, Transposed: true));
            layers.Add(new(upKernel, 2 * ngf, ngf, 2, Transposed: true));
        }
        layers.Add(new(outerKernel, ngf, cout, 1));
        return layers;
    }

    /// <summary>
    /// Level i (1..downs) halves the side with a 4×4 stride-2 conv c[i-1]→c[i] (c = in, ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...)
    /// and comes back with a 4×4 transposed conv from the concatenated skip (2·c[i], or c[i] innermost) to c[i-1] (out at level 1).
    /// </summary>
    private static List<ConvLayer> Unet(int ngf, int cin, int cout, int downs)
    {
        int Channels(int level) => level == 0 ? cin : ngf * Math.Min(8, 1 << (level - 1));
        var layers = new List<ConvLayer>();
        for (int i = 1; i <= downs; i++)
        {
            int divisor = 1 << i;
            layers.Add(new(4, Channels(i - 1), Channels(i), divisor));
            int upIn = i == downs ? Channels(i) : 2 * Channels(i);
            int upOut = i == 1 ? cout : Channels(i - 1);
            layers.Add(new(4, upIn, upOut, divisor, Transposed: true));
        }
        return layers;
    }
}
