using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
using CycleGanEdge.Core;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Runtime;

/// <summary>
/// Rewrites a generator so its instance norms can use statistics given from outside (docs/onnx-contract.md,
/// "Tiles with whole-image statistics"). Every <c>InstanceNormalization(x, scale, B)</c> becomes
/// <c>(x - mean) / sqrt(var + epsilon) * scale + B</c> where mean and var are either graph inputs
/// (<see cref="UseGivenInput"/> true) or the statistics of x inside <see cref="RegionInput"/> (false; the whole
/// tile gives ordinary instance norm). Each layer also outputs the mean and variance of x inside the region, so
/// one graph both measures statistics (thumbnail, or every tile's share of the image) and applies them.
/// Done at load from the exported file, so every exported model (fp32, fp16, int8 QDQ; any architecture) works
/// without a second export: instance norm is float32 in all of them.
/// </summary>
public static class InstanceNormRewrite
{
    /// <summary>bool [1]: true normalises with the given statistics, false with the region's own.</summary>
    public const string UseGivenInput = "norm_use_given";
    /// <summary>int64 [4]: top, left, bottom, right (exclusive) of the region, in pixels of this run's input.</summary>
    public const string RegionInput = "norm_region";

    public static string MeanInput(int layer) => $"norm{layer}_mean";
    public static string VarianceInput(int layer) => $"norm{layer}_var";
    public static string RegionMeanOutput(int layer) => $"norm{layer}_region_mean";
    public static string RegionVarianceOutput(int layer) => $"norm{layer}_region_var";

    /// <summary>Number of InstanceNormalization nodes in the model (0: it needs no statistics).</summary>
    public static int CountLayers(byte[] model) => ModelProto.Parser.ParseFrom(model).Graph.Node.Count(IsInstanceNorm);

    /// <summary>The rewritten model and the channel count of each instance-norm layer, in graph order.</summary>
    public static (byte[] Model, int[] Channels) Rewrite(byte[] bytes, string path)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidModelException(path, $"not an ONNX model ({e.Message})", e);
        }
        var graph = model.Graph;
        if (graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External))
            throw new InvalidModelException(path, "its weights are in an external data file; tiling with whole-image statistics needs a single-file model");
        bool nhwc = model.MetadataProps.Any(p => p.Key == ModelContract.IoKey && p.Value == ModelContract.IoUint8Nhwc);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var b = new Builder(graph);

        // Shared: the input's height and width, and the region's two corners.
        string inHw = b.Node("Slice", [b.Node("Shape", [ModelContract.InputName]), b.Ints("hw_start", nhwc ? 1 : 2), b.Ints("hw_end", nhwc ? 3 : 4)]);
        string corner0 = b.Node("Slice", [RegionInput, b.Ints("corner0_start", 0), b.Ints("corner0_end", 2)]);
        string corner1 = b.Node("Slice", [RegionInput, b.Ints("corner1_start", 2), b.Ints("corner1_end", 4)]);
        string spatialAxes = b.Ints("spatial_axes", 2, 3), one = b.Ints("one", 1), perChannel = b.Ints("per_channel", 1, -1, 1, 1);

        var channels = new List<int>();
        var nodes = graph.Node.ToList();
        graph.Node.Clear();
        foreach (var node in nodes)
        {
            if (!IsInstanceNorm(node))
            {
                graph.Node.Add(node);
                continue;
            }
            int k = channels.Count;
            if (node.Input.Count != 3 || !initializers.TryGetValue(node.Input[1], out var scale) || scale.Dims.Count != 1)
                throw new InvalidModelException(path, $"InstanceNormalization '{node.Name}' has no constant per-channel scale; cannot rewrite it for tiling");
            int c = (int)scale.Dims[0];
            channels.Add(c);
            float epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
            string x = node.Input[0];

            // The region scaled to this layer's resolution (the layer's size over the input's), never empty.
            string hw = b.Node("Slice", [b.Node("Shape", [x]), b.Ints($"n{k}_hw_start", 2), b.Ints($"n{k}_hw_end", 4)]);
            string start = b.Node("Div", [b.Node("Mul", [corner0, hw]), inHw]);
            string end = b.Node("Max", [b.Node("Div", [b.Node("Mul", [corner1, hw]), inHw]), b.Node("Add", [start, one])]);
            string inside = b.Node("Slice", [x, start, end, spatialAxes]);
            string regionMean = b.Node("GlobalAveragePool", [inside], RegionMeanOutput(k));
            string centred = b.Node("Sub", [inside, regionMean]);
            string regionVar = b.Node("GlobalAveragePool", [b.Node("Mul", [centred, centred])], RegionVarianceOutput(k));

            string mean = b.Node("Where", [UseGivenInput, MeanInput(k), regionMean]);
            string variance = b.Node("Where", [UseGivenInput, VarianceInput(k), regionVar]);
            string inverseStd = b.Node("Reciprocal", [b.Node("Sqrt", [b.Node("Add", [variance, b.Float($"n{k}_epsilon", epsilon)])])]);
            string gain = b.Node("Mul", [inverseStd, b.Node("Reshape", [node.Input[1], perChannel])]);
            string shifted = b.Node("Mul", [b.Node("Sub", [x, mean]), gain]);
            b.Node("Add", [shifted, b.Node("Reshape", [node.Input[2], perChannel])], node.Output[0]);

            graph.Input.Add(Value(MeanInput(k), DataType.Float, c));
            graph.Input.Add(Value(VarianceInput(k), DataType.Float, c));
            graph.Output.Add(Value(RegionMeanOutput(k), DataType.Float, c));
            graph.Output.Add(Value(RegionVarianceOutput(k), DataType.Float, c));
        }
        graph.Input.Add(Value(UseGivenInput, DataType.Bool, [1]));
        graph.Input.Add(Value(RegionInput, DataType.Int64, [4]));
        return (model.ToByteArray(), channels.ToArray());
    }

    private static bool IsInstanceNorm(NodeProto n) => n.OpType == "InstanceNormalization" && n.Domain is "" or "ai.onnx";

    private static ValueInfoProto Value(string name, DataType type, int channels) => Value(name, type, [1, channels, 1, 1]);

    private static ValueInfoProto Value(string name, DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    /// <summary>Appends nodes and constants with names that cannot clash with the exporter's.</summary>
    private sealed class Builder(GraphProto graph)
    {
        private int _count;

        public string Node(string op, string[] inputs, string? output = null)
        {
            output ??= $"tilenorm/{op}_{_count++}";
            var node = new NodeProto { OpType = op, Name = output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            graph.Node.Add(node);
            return output;
        }

        public string Ints(string name, params long[] values)
        {
            var t = new TensorProto { Name = $"tilenorm/{name}", DataType = (int)DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            graph.Initializer.Add(t);
            return t.Name;
        }

        public string Float(string name, float value)
        {
            var t = new TensorProto { Name = $"tilenorm/{name}", DataType = (int)DataType.Float };
            t.FloatData.Add(value);
            graph.Initializer.Add(t);
            return t.Name;
        }
    }
}
