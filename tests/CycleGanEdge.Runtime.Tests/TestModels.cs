using System.Globalization;
using System.Runtime.InteropServices;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
using CycleGanEdge.Core;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>Small hand-built ONNX graphs that follow the model contract, with known outputs.</summary>
internal static class TestModels
{
    public sealed record Spec
    {
        public string Io { get; init; } = ModelContract.IoFloat32Nchw;
        public int ChannelsIn { get; init; } = 3;
        public int ChannelsOut { get; init; } = 3;
        public string Norm { get; init; } = "none";
        public int SpatialMultiple { get; init; } = 4;
        /// <summary>Metadata overrides; a null value removes the key.</summary>
        public Dictionary<string, string?> Metadata { get; init; } = [];
        public string InputName { get; init; } = ModelContract.InputName;
        public int InputRank { get; init; } = 4;
    }

    /// <summary>Negative image: float models compute -x (= 255 - pixel), uint8 models 255 - x. Channels 1 in, 3 out repeat the grey.</summary>
    public static byte[] Negate(Spec spec)
    {
        var graph = new GraphProto { Name = "negate" };
        bool uint8 = spec.Io == ModelContract.IoUint8Nhwc;
        graph.Input.Add(Value(spec.InputName, uint8 ? DataType.Uint8 : DataType.Float, spec.InputRank, uint8, spec.ChannelsIn));
        string x = spec.InputName;
        if (uint8)
        {
            graph.Initializer.Add(new TensorProto { Name = "full", DataType = (int)DataType.Uint8, RawData = ByteString.CopyFrom([255]) });
            x = Add(graph, "Sub", ["full", x]);
        }
        else
        {
            x = Add(graph, "Neg", [x]);
        }
        if (spec.ChannelsOut != spec.ChannelsIn)
            x = Add(graph, "Concat", [x, x, x], Int("axis", uint8 ? 3 : 1));
        Rename(graph, x, ModelContract.OutputName);
        graph.Output.Add(Value(ModelContract.OutputName, uint8 ? DataType.Uint8 : DataType.Float, 4, uint8, spec.ChannelsOut));
        return Model(graph, spec);
    }

    /// <summary>
    /// Two 3x3 convolutions (3 -> 4 -> 3 channels, reflect-free zero padding, tanh at the end) with seeded
    /// random weights; with norm "instance" an InstanceNormalization follows the first conv. Receptive field 5x5.
    /// </summary>
    public static byte[] SmallConvNet(string norm, int seed = 1)
    {
        var spec = new Spec { Norm = norm };
        var rng = new Random(seed);
        var graph = new GraphProto { Name = "convnet" };
        graph.Input.Add(Value(ModelContract.InputName, DataType.Float, 4, false, 3));
        string x = Conv(graph, ModelContract.InputName, 3, 4, rng, "c1");
        if (norm == "instance")
        {
            graph.Initializer.Add(Floats("in.scale", [1, 1, 1, 1], [4]));
            graph.Initializer.Add(Floats("in.bias", [0, 0, 0, 0], [4]));
            x = Add(graph, "InstanceNormalization", [x, "in.scale", "in.bias"], new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-5f });
        }
        x = Add(graph, "Relu", [x]);
        x = Conv(graph, x, 4, 3, rng, "c2");
        x = Add(graph, "Tanh", [x]);
        Rename(graph, x, ModelContract.OutputName);
        graph.Output.Add(Value(ModelContract.OutputName, DataType.Float, 4, false, 3));
        return Model(graph, spec);
    }

    public static string Save(byte[] model, string? folder = null, string name = "model.onnx")
    {
        folder ??= TestFiles.TempFolder();
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, model);
        return path;
    }

    private static string Conv(GraphProto graph, string x, int cin, int cout, Random rng, string name)
    {
        var w = new float[cout * cin * 9];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.6f;
        var b = new float[cout];
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
        graph.Initializer.Add(Floats(name + ".w", w, [cout, cin, 3, 3]));
        graph.Initializer.Add(Floats(name + ".b", b, [cout]));
        return Add(graph, "Conv", [x, name + ".w", name + ".b"], Ints("pads", [1, 1, 1, 1]), Ints("kernel_shape", [3, 3]));
    }

    private static byte[] Model(GraphProto graph, Spec spec)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "runtime-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        bool uint8 = spec.Io == ModelContract.IoUint8Nhwc;
        var inv = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string?>
        {
            [ModelContract.ContractVersionKey] = "1",
            [ModelContract.DirectionKey] = "AtoB",
            [ModelContract.MethodKey] = "cyclegan",
            [ModelContract.DomainInKey] = "photos",
            [ModelContract.DomainOutKey] = "negatives",
            [ModelContract.ArchKey] = "test_graph",
            [ModelContract.NgfKey] = "8",
            [ModelContract.NormKey] = spec.Norm,
            [ModelContract.ChannelsInKey] = spec.ChannelsIn.ToString(inv),
            [ModelContract.ChannelsOutKey] = spec.ChannelsOut.ToString(inv),
            [ModelContract.IoKey] = spec.Io,
            [ModelContract.PixelRangeKey] = uint8 ? "0,255" : "-1,1",
            [ModelContract.PrecisionKey] = "fp32",
            [ModelContract.SpatialMultipleKey] = spec.SpatialMultiple.ToString(inv),
            [ModelContract.TrainSizeKey] = "32",
            [ModelContract.SourceSha256Key] = new string('0', 64),
            [ModelContract.ExporterVersionKey] = "test",
        };
        foreach (var (k, v) in spec.Metadata) meta[k] = v;
        foreach (var (k, v) in meta)
            if (v is not null) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model.ToByteArray();
    }

    private static ValueInfoProto Value(string name, DataType type, int rank, bool nhwc, int channels)
    {
        var shape = new TensorShapeProto();
        string[] dynamic = ["batch", "height", "width"];
        int channelAxis = nhwc ? 3 : 1;
        for (int axis = 0, d = 0; axis < rank; axis++)
            shape.Dim.Add(axis == channelAxis
                ? new TensorShapeProto.Types.Dimension { DimValue = channels }
                : new TensorShapeProto.Types.Dimension { DimParam = dynamic[Math.Min(d++, 2)] + axis });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static int _counter;

    private static string Add(GraphProto graph, string op, string[] inputs, params AttributeProto[] attributes)
    {
        string output = $"{op}_{Interlocked.Increment(ref _counter)}";
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    private static void Rename(GraphProto graph, string from, string to)
    {
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == from) node.Output[i] = to;
    }

    private static TensorProto Floats(string name, float[] values, long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static AttributeProto Ints(string name, long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    /// <summary>
    /// A domain classifier (cyclegan-train classifier's network and ONNX writer) with hand-set weights: logit 0
    /// (domain "red", A) is the mean red, logit 1 (domain "blue", B) the mean blue. Red images are A, blue images B.
    /// </summary>
    public static byte[] RedBlueClassifier(int imageSize = 32)
    {
        using var net = new CycleGanEdge.Torch.Evaluation.DomainClassifierNet(width: 2);
        using (var noGrad = TorchSharp.torch.no_grad())
        {
            foreach (var p in net.parameters()) p.zero_();
            var convs = net.Convolutions;
            // conv1: channel 0 averages R, channel 1 averages B over its 4x4 window; bias 1 keeps both positive (LeakyReLU passes them).
            convs[0].weight![0, 0].fill_(1f / 16);
            convs[0].weight![1, 2].fill_(1f / 16);
            convs[0].bias!.fill_(1f);
            foreach (var conv in convs.Skip(1))
            {
                conv.weight![0, 0].fill_(1f / 16);
                conv.weight![1, 1].fill_(1f / 16);
            }
            net.Head.weight![0, 0].fill_(1f);
            net.Head.weight![1, 1].fill_(1f);
        }
        return CycleGanEdge.Exporter.ClassifierExport.ToBytes(net, imageSize, ["red", "blue"]);
    }

    /// <summary>A solid-colour image with a little seeded noise.</summary>
    public static CycleGanEdge.Core.Imaging.RgbaImage Solid(int size, byte r, byte g, byte b, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[size * size * 4];
        for (int i = 0; i < pixels.Length; i += 4)
        {
            pixels[i] = (byte)Math.Clamp(r + rng.Next(-20, 21), 0, 255);
            pixels[i + 1] = (byte)Math.Clamp(g + rng.Next(-20, 21), 0, 255);
            pixels[i + 2] = (byte)Math.Clamp(b + rng.Next(-20, 21), 0, 255);
            pixels[i + 3] = 255;
        }
        return new CycleGanEdge.Core.Imaging.RgbaImage(size, size, pixels, hasAlpha: false);
    }
}
