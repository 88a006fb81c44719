using CycleGanEdge.Core;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Runtime.Segments;

/// <summary>Why a model cannot run segment by segment (the caller falls back to another --tile-norm mode).</summary>
public sealed class SegmentationUnsupportedException(string reason) : Exception(reason);

/// <summary>
/// A generator cut at its instance norms (issue 28). Cut k is the input x_k of the k-th InstanceNormalization; segment k
/// computes x_k (the last segment the model's output) from the image and the earlier cuts it needs (unet skips and resnet
/// residuals read older cuts). Inside a segment every earlier instance norm is a per-channel affine map whose gain and
/// shift come from outside (the exact whole-image statistics of that cut), so a segment is translation-equivariant and can
/// run tile by tile with a halo: <see cref="Segment.Halo"/> is how far, in each input's own pixels, a tile border can reach
/// into the valid output.
/// </summary>
public sealed class SegmentPlan
{
    /// <summary>Name of the image input in segment graphs (the model's own).</summary>
    public const string ImageTensor = ModelContract.InputName;

    public static string GainInput(int cut) => $"segment/norm{cut}_gain";
    public static string ShiftInput(int cut) => $"segment/norm{cut}_shift";

    public required IReadOnlyList<Segment> Segments { get; init; }
    /// <summary>Per cut: channels, resolution relative to the image, and the instance norm's scale, bias and epsilon.</summary>
    public required IReadOnlyList<Cut> Cuts { get; init; }

    public sealed record Cut(string Tensor, int Channels, Rational Resolution, float[] Scale, float[] Bias, float Epsilon);

    /// <summary>A tensor a segment reads: the image, or one an earlier segment stored.</summary>
    public sealed record SegmentInput(string Tensor, int Channels, Rational Resolution, int Halo)
    {
        public bool IsImage => Tensor == ImageTensor;
    }

    /// <summary>A tensor a segment writes: its cut (or the model's output) first, then those later segments read (skips, residual sums).</summary>
    public sealed record SegmentOutput(string Tensor, int Channels, Rational Resolution);

    /// <summary>One segment: its ONNX graph, the stored tensors it reads, the normalised cuts it applies, what it writes.</summary>
    public sealed record Segment(byte[] Model, IReadOnlyList<SegmentInput> Inputs, IReadOnlyList<int> NormalisedCuts,
        IReadOnlyList<SegmentOutput> Outputs, int Granularity, Rational MaxResolution);

    /// <summary>Cuts the model; throws <see cref="SegmentationUnsupportedException"/> naming what stands in the way.</summary>
    public static SegmentPlan Build(byte[] bytes)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SegmentationUnsupportedException($"not an ONNX model ({e.Message})");
        }
        var graph = model.Graph;
        if (model.MetadataProps.Any(p => p.Key == ModelContract.IoKey && p.Value != ModelContract.IoFloat32Nchw))
            throw new SegmentationUnsupportedException("only float32-nchw models run segment by segment");
        if (graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External))
            throw new SegmentationUnsupportedException("its weights are in an external data file");
        if (Channels(graph.Input, ImageTensor) != 3 || Channels(graph.Output, ModelContract.OutputName) != 3)
            throw new SegmentationUnsupportedException("only RGB-in, RGB-out models run segment by segment");
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var producer = new Dictionary<string, NodeProto>();
        foreach (var node in graph.Node)
            foreach (string o in node.Output)
                producer[o] = node;

        // Resolution of every tensor computed from the image (null: a constant such as dequantised weights).
        var resolution = new Dictionary<string, Rational> { [ImageTensor] = Rational.One };
        var channels = new Dictionary<string, int> { [ImageTensor] = 3 };
        var elementType = new Dictionary<string, int> { [ImageTensor] = (int)DataType.Float };
        var cuts = new List<Cut>();
        var cutOf = new Dictionary<NodeProto, int>();
        foreach (var node in graph.Node)
        {
            var spatial = node.Input.Where(resolution.ContainsKey).Distinct().ToList();
            if (spatial.Count == 0) continue;
            var inRes = resolution[spatial[0]];
            if (spatial.Any(s => resolution[s] != inRes))
                throw new SegmentationUnsupportedException($"node '{node.Name}' ({node.OpType}) joins tensors of different resolutions");
            Rational outRes = node.OpType switch
            {
                "Conv" or "MaxPool" or "AveragePool" => inRes / Stride(node),
                "ConvTranspose" => inRes * Stride(node),
                "Resize" or "Upsample" => inRes * ResizeFactor(node, initializers),
                _ when PointwiseOps.Contains(node.OpType) || node.OpType == "Pad" || node.OpType == "InstanceNormalization" => inRes,
                _ => throw new SegmentationUnsupportedException($"node '{node.Name}' ({node.OpType}) is not a convolution, resampling or per-pixel operation"),
            };
            if (node.OpType == "Concat" && node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I != 1)
                throw new SegmentationUnsupportedException($"node '{node.Name}' concatenates along an axis other than channels");
            foreach (string o in node.Output) resolution[o] = outRes;
            elementType[node.Output[0]] = node.OpType switch
            {
                "Cast" => (int)node.Attribute.First(a => a.Name == "to").I,
                "InstanceNormalization" => (int)DataType.Float,
                _ => elementType.GetValueOrDefault(spatial[0], (int)DataType.Float),
            };
            channels[node.Output[0]] = node.OpType switch
            {
                "Conv" => WeightDims(node, initializers, producer) is { } d ? (int)d[0] : -1,
                "ConvTranspose" => WeightDims(node, initializers, producer) is { } d ? (int)(d[1] * Math.Max(1, node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1)) : -1,
                "Concat" => node.Input.Where(resolution.ContainsKey).Sum(i => channels.GetValueOrDefault(i, -1_000_000)),
                _ => channels.GetValueOrDefault(spatial[0], -1),
            };
            if (node.OpType == "InstanceNormalization")
            {
                if (node.Input.Count != 3 || !initializers.TryGetValue(node.Input[1], out var scale) || !initializers.TryGetValue(node.Input[2], out var bias))
                    throw new SegmentationUnsupportedException($"InstanceNormalization '{node.Name}' has no constant scale and bias");
                float epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
                cutOf[node] = cuts.Count;
                cuts.Add(new Cut(node.Input[0], (int)scale.Dims[0], inRes, Floats(scale), Floats(bias), epsilon));
            }
        }
        if (cuts.Count == 0)
            throw new SegmentationUnsupportedException("it has no instance norm to cut at");
        if (!resolution.TryGetValue(ModelContract.OutputName, out var outputResolution) || outputResolution != Rational.One)
            throw new SegmentationUnsupportedException("its output is not at the input's resolution");

        // Each node belongs to the first segment that needs it; a tensor a later segment reads from an earlier one is
        // stored by its owner (the cut itself, a unet skip, a resnet block's running sum), so no segment recomputes another's work.
        int outputChannels = Channels(graph.Output, ModelContract.OutputName);
        var owner = new Dictionary<NodeProto, int>();
        var reads = new List<List<string>>();
        var writes = new List<List<string>>();
        for (int k = 0; k <= cuts.Count; k++)
        {
            string target = k == cuts.Count ? ModelContract.OutputName : cuts[k].Tensor;
            writes.Add([target]);
            var inputs = new List<string>();
            var stack = new Stack<string>([target]);
            var seen = new HashSet<string>();
            while (stack.Count > 0)
            {
                string t = stack.Pop();
                if (t.Length == 0 || initializers.ContainsKey(t) || !seen.Add(t)) continue;
                if (t == ImageTensor)
                {
                    inputs.Add(t);
                    continue;
                }
                if (!producer.TryGetValue(t, out var node))
                    throw new SegmentationUnsupportedException($"tensor '{t}' has no producer");
                if (owner.TryGetValue(node, out int o) && o < k)
                {
                    if (!resolution.ContainsKey(t)) continue; // a constant: recomputed where needed
                    inputs.Add(t);
                    if (!writes[o].Contains(t)) writes[o].Add(t);
                    continue;
                }
                if (cutOf.TryGetValue(node, out int cut) && cut >= k)
                    throw new SegmentationUnsupportedException($"instance norm {cut} is reached before its own cut");
                owner[node] = k;
                foreach (string i in node.Input) stack.Push(i);
            }
            reads.Add(inputs);
        }
        var segments = new List<Segment>();
        for (int k = 0; k <= cuts.Count; k++)
        {
            var outputs = writes[k].Select(t => new SegmentOutput(t, t == ModelContract.OutputName ? outputChannels : k < cuts.Count && t == cuts[k].Tensor ? cuts[k].Channels : channels.GetValueOrDefault(t, -1), resolution[t])).ToList();
            var inputs = reads[k].Select(t => (t, channels.GetValueOrDefault(t, -1))).ToList();
            if (outputs.Any(o => o.Channels <= 0) || inputs.Any(i => i.Item2 <= 0))
                throw new SegmentationUnsupportedException($"the channel count of a tensor segment {k + 1} stores is unknown");
            var nodes = graph.Node.Where(n => owner.TryGetValue(n, out int o) && o == k).ToList();
            segments.Add(BuildSegment(model, nodes, resolution, elementType, cutOf, cuts, inputs, outputs, initializers));
        }
        return new SegmentPlan { Segments = segments, Cuts = cuts };
    }

    private static Segment BuildSegment(ModelProto model, List<NodeProto> ordered, Dictionary<string, Rational> resolution, Dictionary<string, int> elementType, Dictionary<NodeProto, int> cutOf,
        List<Cut> cuts, List<(string Tensor, int Channels)> inputs, List<SegmentOutput> outputs, Dictionary<string, TensorProto> initializers)
    {
        // Halo: how far a wrong pixel at a tile border can spread toward the target, walked backwards (an upper bound).
        var halo = outputs.ToDictionary(o => o.Tensor, _ => 0);
        for (int i = ordered.Count - 1; i >= 0; i--)
        {
            var node = ordered[i];
            int h = node.Output.Where(halo.ContainsKey).Select(o => halo[o]).DefaultIfEmpty(0).Max();
            int inHalo = node.OpType switch
            {
                "Conv" or "MaxPool" or "AveragePool" => ConvHalo(node, h),
                "ConvTranspose" => TransposedHalo(node, h),
                "Resize" or "Upsample" => (int)Math.Ceiling(h / ResizeFactor(node, initializers).Value) + 1,
                "Pad" => h + MaxPad(node, initializers),
                _ => h,
            };
            foreach (string input in node.Input)
                if (resolution.ContainsKey(input))
                    halo[input] = Math.Max(halo.GetValueOrDefault(input), inHalo);
        }

        var graph = new GraphProto { Name = $"segment_{outputs[0].Tensor}" };
        var normalised = new List<int>();
        foreach (var node in ordered)
        {
            if (!cutOf.TryGetValue(node, out int cut))
            {
                graph.Node.Add(node.Clone());
                continue;
            }
            // An earlier cut's instance norm: x * gain + shift with the whole image's statistics.
            normalised.Add(cut);
            string scaled = $"segment/norm{cut}_scaled";
            graph.Node.Add(Node("Mul", [node.Input[0], GainInput(cut)], scaled));
            graph.Node.Add(Node("Add", [scaled, ShiftInput(cut)], node.Output[0]));
            graph.Input.Add(Value(GainInput(cut), cuts[cut].Channels, spatial: false));
            graph.Input.Add(Value(ShiftInput(cut), cuts[cut].Channels, spatial: false));
        }
        var used = new HashSet<string>(graph.Node.SelectMany(n => n.Input));
        graph.Initializer.AddRange(model.Graph.Initializer.Where(t => used.Contains(t.Name)));
        // The scratch store is fp32: a stored fp16 tensor (a residual sum in an fp16 model) is cast on the way out and back in.
        bool Half(string t) => elementType.GetValueOrDefault(t) == (int)DataType.Float16;
        string Stored(string t) => Half(t) ? t + "/fp32" : t;
        var segmentInputs = new List<SegmentInput>();
        foreach (var (name, c) in inputs)
        {
            graph.Input.Add(Value(Stored(name), c, spatial: true));
            if (Half(name)) graph.Node.Insert(0, Cast(Stored(name), name, DataType.Float16));
            segmentInputs.Add(new SegmentInput(Stored(name), c, resolution[name], halo.GetValueOrDefault(name)));
        }
        for (int i = 0; i < outputs.Count; i++)
        {
            string t = outputs[i].Tensor;
            if (Half(t)) graph.Node.Add(Cast(t, Stored(t), DataType.Float));
            outputs[i] = outputs[i] with { Tensor = Stored(t) };
            graph.Output.Add(Value(Stored(t), outputs[i].Channels, spatial: true));
        }

        var resolutions = ordered.SelectMany(n => n.Output).Concat(inputs.Select(i => i.Tensor)).Where(resolution.ContainsKey).Select(t => resolution[t]).ToList();
        long granularity = resolutions.Aggregate(1L, (g, r) => Lcm(g, r.Denominator));
        var segmentModel = new ModelProto { IrVersion = model.IrVersion, ProducerName = "cyclegan-run segments", Graph = graph };
        segmentModel.OpsetImport.AddRange(model.OpsetImport);
        return new Segment(segmentModel.ToByteArray(), segmentInputs, normalised, outputs, checked((int)granularity), resolutions.Max());
    }

    /// <summary>Dimensions of a convolution's weight: an initializer, or one dequantised from an initializer (int8 QDQ).</summary>
    private static IList<long>? WeightDims(NodeProto node, Dictionary<string, TensorProto> initializers, Dictionary<string, NodeProto> producer)
    {
        string w = node.Input[1];
        if (initializers.TryGetValue(w, out var t)) return t.Dims;
        if (producer.TryGetValue(w, out var p) && p.OpType is "DequantizeLinear" or "Cast" && initializers.TryGetValue(p.Input[0], out var q)) return q.Dims;
        return null;
    }

    private static int Channels(IEnumerable<ValueInfoProto> values, string name) =>
        values.FirstOrDefault(v => v.Name == name)?.Type.TensorType.Shape.Dim is { Count: 4 } dims ? (int)dims[1].DimValue : 0;

    /// <summary>Per-pixel operations: the halo passes through them unchanged.</summary>
    private static readonly HashSet<string> PointwiseOps =
    [
        "Relu", "LeakyRelu", "Tanh", "Sigmoid", "Add", "Sub", "Mul", "Div", "Concat", "Cast", "Identity", "Clip", "Round", "Dropout",
        "BatchNormalization", "Neg", "Abs", "Exp", "Log", "Sqrt", "Pow", "Max", "Min", "Erf", "Softplus", "HardSigmoid", "PRelu",
        "QuantizeLinear", "DequantizeLinear", "Elu", "Selu", "HardSwish",
    ];

    private static long Attr(NodeProto n, string name, int i, long fallback)
    {
        var a = n.Attribute.FirstOrDefault(a => a.Name == name);
        return a is null || a.Ints.Count <= i ? fallback : a.Ints[i];
    }

    private static Rational Stride(NodeProto node)
    {
        long s = Attr(node, "strides", 0, 1);
        if (Attr(node, "strides", 1, 1) != s)
            throw new SegmentationUnsupportedException($"node '{node.Name}' strides height and width differently");
        return new Rational(s, 1);
    }

    private static int ConvHalo(NodeProto node, int h)
    {
        int halo = 0;
        for (int axis = 0; axis < 2; axis++)
        {
            long k = Attr(node, "kernel_shape", axis, 1), s = Attr(node, "strides", axis, 1), d = Attr(node, "dilations", axis, 1);
            long p = Attr(node, "pads", axis, 0), reach = (k - 1) * d;
            // Output [a, b) reads input [s*a - p, s*(b-1) - p + reach]: halo s*h + p before, s*h + reach - p - s + 1 after.
            halo = Math.Max(halo, checked((int)(s * h + Math.Max(p, Math.Max(0, reach - p - s + 1)))));
        }
        return halo;
    }

    private static int TransposedHalo(NodeProto node, int h)
    {
        int halo = 0;
        for (int axis = 0; axis < 2; axis++)
        {
            long k = Attr(node, "kernel_shape", axis, 1), s = Attr(node, "strides", axis, 1), d = Attr(node, "dilations", axis, 1);
            long p = Attr(node, "pads", axis, 0);
            halo = Math.Max(halo, checked((int)((h + (k - 1) * d + p + s - 1) / s + 1)));
        }
        return halo;
    }

    private static Rational ResizeFactor(NodeProto node, Dictionary<string, TensorProto> initializers)
    {
        // Resize(X, roi, scales): constant scales [1, 1, f, f]; Upsample(X, scales) likewise.
        string? scalesName = node.OpType == "Upsample" ? node.Input.ElementAtOrDefault(1) : node.Input.ElementAtOrDefault(2);
        if (scalesName is null || !initializers.TryGetValue(scalesName, out var scales) || scales.DataType != (int)DataType.Float)
            throw new SegmentationUnsupportedException($"node '{node.Name}' ({node.OpType}) has no constant float scales");
        float[] f = Floats(scales);
        if (f.Length != 4 || f[2] != f[3] || f[2] <= 0)
            throw new SegmentationUnsupportedException($"node '{node.Name}' ({node.OpType}) scales height and width differently");
        return f[2] >= 1 ? new Rational((long)Math.Round(f[2]), 1) : new Rational(1, (long)Math.Round(1 / f[2]));
    }

    private static int MaxPad(NodeProto node, Dictionary<string, TensorProto> initializers)
    {
        if (node.Input.Count > 1 && initializers.TryGetValue(node.Input[1], out var pads))
            return (int)(pads.Int64Data.Count > 0 ? [.. pads.Int64Data] : Int64s(pads)).Select(Math.Abs).DefaultIfEmpty(0).Max();
        var attr = node.Attribute.FirstOrDefault(a => a.Name == "pads");
        if (attr is not null) return (int)attr.Ints.Select(Math.Abs).DefaultIfEmpty(0).Max();
        throw new SegmentationUnsupportedException($"node '{node.Name}' (Pad) has no constant pads");
    }

    private static float[] Floats(TensorProto t) =>
        t.FloatData.Count > 0 ? [.. t.FloatData] : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();

    private static long[] Int64s(TensorProto t) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();

    private static NodeProto Cast(string input, string output, DataType to)
    {
        var n = Node("Cast", [input], output);
        n.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)to });
        return n;
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = output };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

    private static ValueInfoProto Value(string name, int channels, bool spatial)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 1 });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = channels });
        shape.Dim.Add(spatial ? new TensorShapeProto.Types.Dimension { DimParam = "height" } : new TensorShapeProto.Types.Dimension { DimValue = 1 });
        shape.Dim.Add(spatial ? new TensorShapeProto.Types.Dimension { DimParam = "width" } : new TensorShapeProto.Types.Dimension { DimValue = 1 });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
    private static long Lcm(long a, long b) => a / Gcd(a, b) * b;
}

/// <summary>A tensor's resolution relative to the image (1/4: a quarter of the image's side), kept exact.</summary>
public readonly record struct Rational : IComparable<Rational>
{
    public Rational(long numerator, long denominator)
    {
        long g = Gcd(numerator, denominator);
        Numerator = numerator / g;
        Denominator = denominator / g;
    }

    public static Rational One => new(1, 1);
    public long Numerator { get; }
    public long Denominator { get; }
    public double Value => (double)Numerator / Denominator;

    public static Rational operator *(Rational a, Rational b) => new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);
    public static Rational operator /(Rational a, Rational b) => new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);
    public int CompareTo(Rational other) => (Numerator * other.Denominator).CompareTo(other.Numerator * Denominator);
    public static bool operator <(Rational a, Rational b) => a.CompareTo(b) < 0;
    public static bool operator >(Rational a, Rational b) => a.CompareTo(b) > 0;
    public static bool operator <=(Rational a, Rational b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Rational a, Rational b) => a.CompareTo(b) >= 0;

    /// <summary>Pixels of a tensor at this resolution for <paramref name="imagePixels"/> pixels of the image (exact: the image is padded to the model's multiple).</summary>
    public long Of(long imagePixels) => imagePixels * Numerator / Denominator;

    public override string ToString() => Denominator == 1 ? $"{Numerator}" : $"{Numerator}/{Denominator}";

    private static long Gcd(long a, long b) => b == 0 ? Math.Abs(a) : Gcd(b, a % b);
}
