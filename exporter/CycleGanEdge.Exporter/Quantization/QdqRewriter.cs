using System.Runtime.InteropServices;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter.Quantization;

/// <summary>Quantization parameters of one activation: uint8, asymmetric (real = scale · (q − zero point)).</summary>
public readonly record struct ActivationQuant(float Scale, byte ZeroPoint)
{
    /// <summary>Covers the range and always 0 exactly (zero padding and ReLU zeros stay exact).</summary>
    public static ActivationQuant For(ValueRange range)
    {
        float min = Math.Min(range.Min, 0f), max = Math.Max(range.Max, 0f);
        if (!(max > min)) return new ActivationQuant(1f, 0);
        float scale = (max - min) / 255f;
        return new ActivationQuant(scale, (byte)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, 255));
    }
}

/// <summary>
/// Rewrites a float graph into a statically quantized QDQ graph: every Conv and ConvTranspose with constant
/// weights gets QuantizeLinear→DequantizeLinear on its input and output activations (uint8, calibrated
/// ranges) and DequantizeLinear on its weights (int8 storage, 7 or 8 bits, symmetric, per output channel) and bias (int32, scale
/// input scale × weight scale). Everything else (instance norm, ReLU, pads, adds, tanh) stays float and
/// reads the dequantized values. ONNX Runtime's CPU provider fuses DQ→Conv→Q into QLinearConv (uint8 × int8).
/// </summary>
public static class QdqRewriter
{
    private static readonly string[] QuantizedOps = ["Conv", "ConvTranspose"];

    /// <summary>The activations to calibrate: inputs and outputs of the convolutions that will be quantized.</summary>
    public static IReadOnlyList<string> ActivationsToCalibrate(GraphProto graph, bool floatEnds = false)
    {
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        var names = new List<string>();
        foreach (var node in QuantizableNodes(graph, floatEnds))
        {
            if (!names.Contains(node.Input[0])) names.Add(node.Input[0]);
            // A graph output keeps its name and type: leave it float.
            if (!outputs.Contains(node.Output[0]) && !names.Contains(node.Output[0])) names.Add(node.Output[0]);
        }
        return names;
    }

    /// <param name="floatEnds">
    /// Leave out the first and the last of them in graph order (the nodes are topologically sorted): in a generator
    /// these read the raw pixels and write the image before tanh, where 256 levels show most.
    /// </param>
    public static IEnumerable<NodeProto> QuantizableNodes(GraphProto graph, bool floatEnds = false)
    {
        var floatInitializers = graph.Initializer.Where(t => t.DataType == (int)DataType.Float).Select(t => t.Name).ToHashSet();
        var nodes = graph.Node.Where(n => n.Domain.Length == 0 && QuantizedOps.Contains(n.OpType) && n.Input.Count >= 2
            && floatInitializers.Contains(n.Input[1]) && (n.Input.Count < 3 || n.Input[2].Length == 0 || floatInitializers.Contains(n.Input[2])))
            .ToList();
        return floatEnds ? nodes.Skip(1).SkipLast(1).ToList() : nodes;
    }

    /// <summary>Rewrites <paramref name="graph"/> in place with the calibrated <paramref name="ranges"/> (one per activation to calibrate).</summary>
    /// <param name="weightBits">7 or 8: weights are symmetric codes in ±(2^(bits-1) - 1) (the default is <see cref="QuantizeOptions.WeightBits"/>).</param>
    public static void Apply(GraphProto graph, IReadOnlyDictionary<string, ValueRange> ranges, bool floatEnds, int weightBits)
    {
        if (weightBits is not (7 or 8)) throw new ArgumentOutOfRangeException(nameof(weightBits), weightBits, "weights are 7 or 8 bits");
        int maxCode = (1 << (weightBits - 1)) - 1;
        var quantized = QuantizableNodes(graph, floatEnds).ToHashSet();
        var activations = ActivationsToCalibrate(graph, floatEnds);
        var quant = new Dictionary<string, ActivationQuant>();
        foreach (string name in activations)
        {
            if (!ranges.TryGetValue(name, out var range))
                throw new ExportException($"no calibrated range for activation '{name}'");
            quant[name] = ActivationQuant.For(range);
        }
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        string Dequantized(string name) => name + "/dq";

        var nodes = new List<NodeProto>();
        void AddQdq(string name)
        {
            var q = quant[name];
            string scale = AddInitializer(graph, Scalar(name + "/scale", q.Scale));
            string zeroPoint = AddInitializer(graph, new TensorProto
            {
                Name = name + "/zero_point", DataType = (int)DataType.Uint8, RawData = ByteString.CopyFrom([q.ZeroPoint]),
            });
            nodes.Add(Node("QuantizeLinear", name + "/quantize", [name, scale, zeroPoint], name + "/q"));
            nodes.Add(Node("DequantizeLinear", name + "/dequantize", [name + "/q", scale, zeroPoint], Dequantized(name)));
        }

        foreach (var input in graph.Input)
            if (quant.ContainsKey(input.Name)) AddQdq(input.Name);
        foreach (var original in graph.Node)
        {
            var node = original.Clone();
            for (int i = 0; i < node.Input.Count; i++)
                if (quant.ContainsKey(node.Input[i])) node.Input[i] = Dequantized(node.Input[i]);
            if (quantized.Contains(original))
                nodes.AddRange(QuantizeWeights(graph, node, initializers, quant[original.Input[0]].Scale, maxCode));
            nodes.Add(node);
            foreach (string output in node.Output)
                if (quant.ContainsKey(output)) AddQdq(output);
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);

        // The float weights and biases are now unused.
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet();
        var unused = graph.Initializer.Where(t => !used.Contains(t.Name)).ToList();
        foreach (var t in unused) graph.Initializer.Remove(t);
    }

    /// <summary>DequantizeLinear nodes for the node's weight (int8 per channel) and bias (int32), pointed to by the node.</summary>
    private static IEnumerable<NodeProto> QuantizeWeights(GraphProto graph, NodeProto node, Dictionary<string, TensorProto> initializers, float inputScale, int maxCode)
    {
        var w = initializers[node.Input[1]];
        float[] weights = FloatValues(w);
        long[] dims = [.. w.Dims];
        // Output channels: axis 0 of a Conv weight [out, in/g, k, k]; axis 1 of a ConvTranspose weight [in, out/g, k, k]
        // (per channel only with one group, where that axis is every output channel).
        bool transposed = node.OpType == "ConvTranspose";
        long group = node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        int axis = transposed ? 1 : 0;
        bool perChannel = dims.Length >= 2 && (!transposed || group == 1);
        int channels = perChannel ? (int)dims[axis] : 1;
        int inner = perChannel ? (int)(weights.Length / dims[0] / (axis == 0 ? 1 : dims[1])) : weights.Length;
        int ChannelOf(int i) => !perChannel ? 0 : axis == 0 ? i / inner : i / inner % channels;

        var maxAbs = new float[channels];
        for (int i = 0; i < weights.Length; i++)
            maxAbs[ChannelOf(i)] = Math.Max(maxAbs[ChannelOf(i)], Math.Abs(weights[i]));
        var scales = new float[channels];
        for (int c = 0; c < channels; c++)
            scales[c] = maxAbs[c] > 0 ? maxAbs[c] / maxCode : 1f;
        var q = new sbyte[weights.Length];
        for (int i = 0; i < weights.Length; i++)
            q[i] = (sbyte)Math.Clamp(Math.Round(weights[i] / scales[ChannelOf(i)], MidpointRounding.ToEven), -maxCode, maxCode);

        string name = w.Name;
        var qTensor = new TensorProto { Name = name + "/int8", DataType = (int)DataType.Int8, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(q.AsSpan())) };
        qTensor.Dims.AddRange(dims);
        string wq = AddInitializer(graph, qTensor);
        string ws = AddInitializer(graph, Vector(name + "/scale", scales, perChannel));
        string wz = AddInitializer(graph, Zeros(name + "/zero_point", DataType.Int8, channels, perChannel));
        var axisAttribute = new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis };
        var dq = Node("DequantizeLinear", name + "/dequantize", [wq, ws, wz], name + "/dq");
        if (perChannel) dq.Attribute.Add(axisAttribute);
        node.Input[1] = name + "/dq";
        yield return dq;

        if (node.Input.Count < 3 || node.Input[2].Length == 0) yield break;
        var b = initializers[node.Input[2]];
        float[] bias = FloatValues(b);
        // The integer kernel adds the bias in the accumulator's scale: input scale × weight scale, zero point 0.
        var biasScales = new float[bias.Length];
        var qb = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
        {
            biasScales[c] = inputScale * scales[perChannel ? c : 0];
            qb[c] = (int)Math.Clamp(Math.Round(bias[c] / biasScales[c], MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        var bTensor = new TensorProto { Name = b.Name + "/int32", DataType = (int)DataType.Int32, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(qb.AsSpan())) };
        bTensor.Dims.Add(bias.Length);
        string bq = AddInitializer(graph, bTensor);
        string bs = AddInitializer(graph, perChannel ? Vector(b.Name + "/scale", biasScales, true) : Scalar(b.Name + "/scale", biasScales[0]));
        string bz = AddInitializer(graph, Zeros(b.Name + "/zero_point", DataType.Int32, bias.Length, perChannel));
        var bdq = Node("DequantizeLinear", b.Name + "/dequantize", [bq, bs, bz], b.Name + "/dq");
        if (perChannel) bdq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        node.Input[2] = b.Name + "/dq";
        yield return bdq;
    }

    private static float[] FloatValues(TensorProto t)
    {
        if (t.DataType != (int)DataType.Float) throw new ExportException($"initializer '{t.Name}' is not float32");
        if (t.RawData.Length > 0) return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return [.. t.FloatData];
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto Scalar(string name, float value) =>
        new() { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(new[] { value }.AsSpan())) };

    /// <summary>A 1-D tensor for per-channel parameters, or a scalar when per-tensor.</summary>
    private static TensorProto Vector(string name, float[] values, bool perChannel)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        if (perChannel) t.Dims.Add(values.Length);
        return t;
    }

    private static TensorProto Zeros(string name, DataType type, int count, bool perChannel)
    {
        int size = type == DataType.Int32 ? 4 : 1;
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(new byte[(perChannel ? count : 1) * size]) };
        if (perChannel) t.Dims.Add(count);
        return t;
    }

    private static string AddInitializer(GraphProto graph, TensorProto tensor)
    {
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }
}
