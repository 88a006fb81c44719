using CycleGanEdge.Core;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter;

/// <summary>
/// Walks a TorchSharp generator (eval mode) and emits the ONNX nodes that compute the same function.
/// Each supported module type is one case of <see cref="Emit"/>; anything else is an <see cref="ExportException"/>
/// naming the module's path and type, so a new layer never exports silently wrong.
/// </summary>
internal sealed class GeneratorGraph
{
    private readonly OnnxGraph _graph;
    private readonly bool _half;
    private readonly bool _foldBatchNorm;

    public int BatchNormsFolded { get; private set; }
    public int BatchNormsSeen { get; private set; }

    public GeneratorGraph(OnnxGraph graph, bool half, bool foldBatchNorm)
    {
        _graph = graph;
        _half = half;
        _foldBatchNorm = foldBatchNorm;
    }

    /// <summary>Emits <paramref name="module"/> applied to value <paramref name="x"/>; returns the result's name.</summary>
    public string Emit(nn.Module module, string path, string x)
    {
        switch (module)
        {
            case Sequential sequential:
                return EmitSequential(sequential, path, x);
            case ResnetGenerator resnet:
                {
                    string y = Emit(resnet.model, Join(path, "model"), x);
                    if (!resnet.Residual) return y;
                    // clip(input + change, -1, 1); the bounds' names tell the runtime's contract check the graph is residual.
                    string sum = _graph.Node("Add", Join(path, "residual"), [x, y]);
                    return _graph.Node("Clip", Join(path, "residual"),
                        [sum, _graph.FloatInitializer(GraphFacts.ResidualMin, [-1f], [], _half), _graph.FloatInitializer(GraphFacts.ResidualMax, [1f], [], _half)]);
                }
            case ResnetBlock block:
                return _graph.Node("Add", path, [x, Emit(block.conv_block, Join(path, "conv_block"), x)]);
            case UnetGenerator unet:
                return Emit(unet.model, Join(path, "model"), x);
            case UnetSkipConnectionBlock skip:
                {
                    string inner = Emit(skip.model, Join(path, "model"), x);
                    return skip.Outermost ? inner : _graph.Node("Concat", path, [x, inner], OnnxGraph.Int("axis", 1));
                }
            case EncoderDecoderGenerator encoderDecoder:
                return Emit(encoderDecoder.model, Join(path, "model"), x);
            case ConvTranspose2d convTranspose:
                return EmitConv(convTranspose, null, path, x);
            case Conv2d conv:
                return EmitConv(conv, null, path, x);
            case ReflectionPad2d pad:
                return EmitPad(pad.padding, "reflect", path, x);
            case ReplicationPad2d pad:
                return EmitPad(pad.padding, "edge", path, x);
            case ZeroPad2d pad:
                return EmitPad(pad.padding, "constant", path, x);
            case InstanceNorm2d norm:
                return EmitInstanceNorm(norm, path, x);
            case BatchNorm2d norm:
                BatchNormsSeen++;
                return EmitBatchNorm(norm, path, x);
            case ReLU:
                return _graph.Node("Relu", path, x);
            case LeakyReLU leaky:
                return _graph.Node("LeakyRelu", path, x, OnnxGraph.Float("alpha", (float)leaky.negative_slope));
            case StableLeakyReLU leaky:
                return _graph.Node("LeakyRelu", path, x, OnnxGraph.Float("alpha", (float)leaky.NegativeSlope));
            case Tanh:
                return _graph.Node("Tanh", path, x);
            case Upsample upsample:
                return EmitNearestUpsample(upsample, path, x);
            case BlurDownsample down:
                return EmitBlur(down.Filter, down.Channels, transposed: false, path, x);
            case BlurUpsample up:
                return EmitBlur(up.Filter, up.Channels, transposed: true, path, x);
            case Sigmoid:
                return _graph.Node("Sigmoid", path, x);
            case Dropout or Identity:
                // Dropout is the identity in eval mode; Identity stands in for norm "none".
                return x;
            default:
                throw new ExportException(
                    $"unsupported layer '{(path.Length == 0 ? "<root>" : path)}' ({module.GetType().FullName}): " +
                    "the exporter has no ONNX translation for this module type");
        }
    }

    private string EmitSequential(Sequential sequential, string path, string x)
    {
        var children = sequential.named_children().ToList();
        for (int i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            string childPath = Join(path, name);
            // Fold "conv, batch norm" pairs: the norm becomes a per-channel scale and shift of the conv's weights.
            if (_foldBatchNorm && child is Conv2d or ConvTranspose2d && child is Convolution conv && i + 1 < children.Count
                && children[i + 1].Item2 is BatchNorm2d norm && UsesRunningStats(norm))
            {
                BatchNormsSeen++;
                BatchNormsFolded++;
                x = EmitConv(conv, norm, childPath, x);
                i++;
                continue;
            }
            x = Emit(child, childPath, x);
        }
        return x;
    }

    private string EmitConv(Convolution conv, BatchNorm2d? foldedNorm, string path, string x)
    {
        if (conv.padding_type is not null)
            throw new ExportException($"unsupported layer '{path}' ({conv.GetType().FullName}): padding given as same/valid; use explicit padding");

        using var scope = NewDisposeScope();
        Tensor weight = conv.weight!.detach().to(float32);
        Tensor? bias = conv.bias?.detach().to(float32);
        if (foldedNorm is not null)
            (weight, bias) = FoldBatchNorm(weight, bias, conv.transposed, conv.groups, foldedNorm);

        long[] pad = conv.padding ?? [0, 0];
        if (conv.padding_mode != PaddingModes.Zeros && pad.Any(p => p != 0))
        {
            string mode = conv.padding_mode switch
            {
                PaddingModes.Reflect => "reflect",
                PaddingModes.Replicate => "edge",
                _ => throw new ExportException($"unsupported layer '{path}' ({conv.GetType().FullName}): padding_mode {conv.padding_mode}"),
            };
            // The module pads both sides of each spatial dim by padding[d]; in torch's (left, right, top, bottom) order:
            x = EmitPad([pad[1], pad[1], pad[0], pad[0]], mode, path, x);
            pad = [0, 0];
        }

        var inputs = new List<string> { x, _graph.FloatInitializer($"{path}.weight", ToArray(weight), weight.shape, _half) };
        if (bias is not null)
            inputs.Add(_graph.FloatInitializer($"{path}.bias", ToArray(bias), bias.shape, _half));

        var attributes = new List<AttributeProto>
        {
            OnnxGraph.Ints("kernel_shape", conv.kernel_size),
            OnnxGraph.Ints("strides", conv.stride),
            OnnxGraph.Ints("dilations", conv.dilation),
            OnnxGraph.Int("group", conv.groups),
            OnnxGraph.Ints("pads", [pad[0], pad[1], pad[0], pad[1]]),
        };
        if (conv.transposed)
            attributes.Add(OnnxGraph.Ints("output_padding", conv.output_padding ?? [0, 0]));
        return _graph.Node(conv.transposed ? "ConvTranspose" : "Conv", path, inputs, [.. attributes]);
    }

    /// <summary>
    /// y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta, as a conv with scaled weights and a new bias.
    /// The scale is per output channel: dim 0 of a conv weight [out, in/g, kh, kw]; for a transposed conv
    /// [in, out/g, kh, kw] it is dim 1 within each group.
    /// </summary>
    private static (Tensor Weight, Tensor Bias) FoldBatchNorm(Tensor weight, Tensor? bias, bool transposed, long groups, BatchNorm2d norm)
    {
        Tensor mean = norm.running_mean!.detach().to(float32);
        Tensor scale = norm.running_var!.detach().to(float32).add(norm.eps).rsqrt();
        Tensor shift = -mean;
        if (norm.weight is not null) scale = scale * norm.weight.detach();
        shift = shift * scale;
        if (norm.bias is not null) shift = shift + norm.bias.detach();

        long channels = scale.shape[0];
        Tensor newBias = bias is null ? shift : bias * scale + shift;
        Tensor newWeight;
        if (!transposed)
        {
            newWeight = weight * scale.reshape(channels, 1, 1, 1);
        }
        else
        {
            long[] s = weight.shape;
            var grouped = weight.reshape(groups, s[0] / groups, s[1], s[2], s[3]);
            newWeight = (grouped * scale.reshape(groups, 1, s[1], 1, 1)).reshape(s);
        }
        return (newWeight, newBias);
    }

    private string EmitPad(long[] padding, string mode, string path, string x)
    {
        // torch order (left, right, top, bottom) -> ONNX [N, C, H, W begins, then ends].
        long left = padding[0], right = padding[1], top = padding[2], bottom = padding[3];
        string pads = _graph.Int64Initializer($"{path}.pads", [0, 0, top, left, 0, 0, bottom, right]);
        return _graph.Node("Pad", path, [x, pads], OnnxGraph.String("mode", mode));
    }

    /// <summary>
    /// torch's nearest upsampling by an integer factor: output pixel i reads input floor(i / factor), which is ONNX
    /// Resize with asymmetric coordinates and floor rounding. Scales are float32 whatever the tensor type.
    /// </summary>
    private string EmitNearestUpsample(Upsample upsample, string path, string x)
    {
        double[] factors = upsample.scale_factor.ToArray();
        if (upsample.mode != UpsampleMode.Nearest || !upsample.size.IsEmpty || factors.Length != 2
            || factors.Any(f => f != Math.Floor(f) || f < 1))
            throw new ExportException($"unsupported layer '{path}' ({upsample.GetType().FullName}): only nearest upsampling by whole-number scale factors exports");
        string scales = _graph.FloatInitializer($"{path}.scales", [1f, 1f, (float)factors[0], (float)factors[1]], [4], asHalf: false);
        return _graph.Node("Resize", path, [x, "", scales],
            OnnxGraph.String("mode", "nearest"),
            OnnxGraph.String("coordinate_transformation_mode", "asymmetric"),
            OnnxGraph.String("nearest_mode", "floor"));
    }

    /// <summary>
    /// The CUT reference's anti-aliased sampling as standard operators: down = Pad (reflect 1) + depthwise Conv
    /// (3x3 blur, stride 2); up = Pad (edge 1) + depthwise ConvTranspose (4x4 blur, stride 2, pads 3).
    /// </summary>
    private string EmitBlur(Tensor filter, int channels, bool transposed, string path, string x)
    {
        x = EmitPad([1, 1, 1, 1], transposed ? "edge" : "reflect", path, x);
        long k = filter.shape[2];
        long pad = transposed ? BlurUpsample.TransposedPadding : 0;
        string weight = _graph.FloatInitializer($"{path}.filt", ToArray(filter), filter.shape, _half);
        return _graph.Node(transposed ? "ConvTranspose" : "Conv", path, [x, weight],
            OnnxGraph.Ints("kernel_shape", [k, k]),
            OnnxGraph.Ints("strides", [2, 2]),
            OnnxGraph.Int("group", channels),
            OnnxGraph.Ints("pads", [pad, pad, pad, pad]));
    }

    private string EmitInstanceNorm(InstanceNorm2d norm, string path, string x)
    {
        // An instance norm that tracks running statistics uses them in eval mode: that is a batch norm.
        if (UsesRunningStats(norm))
            return EmitBatchNorm(norm, path, x);

        int channels = (int)norm.num_features;
        float[] scale = norm.weight is null ? Filled(channels, 1f) : ToArray(norm.weight.detach());
        float[] shift = norm.bias is null ? Filled(channels, 0f) : ToArray(norm.bias.detach());
        // fp16 instance norm gives wrong images in ONNX Runtime/TensorRT: it always runs in fp32 (NOTES.md).
        string input = _half ? _graph.Cast(x, DataType.Float, path) : x;
        string y = _graph.Node("InstanceNormalization", path,
            [input, _graph.FloatInitializer($"{path}.scale", scale, [channels], false), _graph.FloatInitializer($"{path}.B", shift, [channels], false)],
            OnnxGraph.Float("epsilon", (float)norm.eps));
        return _half ? _graph.Cast(y, DataType.Float16, path) : y;
    }

    private string EmitBatchNorm(NormBase norm, string path, string x)
    {
        if (!UsesRunningStats(norm))
            throw new ExportException($"unsupported layer '{path}' ({norm.GetType().FullName}): batch norm without running statistics");
        int channels = (int)norm.num_features;
        float[] scale = norm.weight is null ? Filled(channels, 1f) : ToArray(norm.weight.detach());
        float[] shift = norm.bias is null ? Filled(channels, 0f) : ToArray(norm.bias.detach());
        return _graph.Node("BatchNormalization", path,
            [
                x,
                _graph.FloatInitializer($"{path}.weight", scale, [channels], _half),
                _graph.FloatInitializer($"{path}.bias", shift, [channels], _half),
                _graph.FloatInitializer($"{path}.running_mean", ToArray(norm.running_mean!), [channels], _half),
                _graph.FloatInitializer($"{path}.running_var", ToArray(norm.running_var!), [channels], _half),
            ],
            OnnxGraph.Float("epsilon", (float)norm.eps));
    }

    private static bool UsesRunningStats(NormBase norm) =>
        norm.track_running_stats && norm.running_mean is not null && norm.running_var is not null;

    private static float[] ToArray(Tensor t) => t.detach().to(float32).cpu().contiguous().data<float>().ToArray();

    private static float[] Filled(int count, float value) => Enumerable.Repeat(value, count).ToArray();

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
