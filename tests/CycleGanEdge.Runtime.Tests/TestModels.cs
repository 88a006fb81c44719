using System.Globalization;
using System.Runtime.InteropServices;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
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

    /// <summary>Metadata of a resnet_6blocks generator with ngf 8: the runtime counts that architecture's work (GeneratorCost).</summary>
    public static readonly IReadOnlyDictionary<string, string?> Resnet6Ngf8 = new Dictionary<string, string?>
    {
        [ModelContract.ArchKey] = "resnet_6blocks",
        [ModelContract.NgfKey] = "8",
    };

    /// <summary>What the int8 graphs of <see cref="SmallConvNet"/> say about their (fixed, not calibrated) activation ranges.</summary>
    public const string FixedRanges = "fixed ranges of a hand-built test graph";

    /// <summary>
    /// Two 3x3 convolutions (3 -> 4 -> 3 channels, reflect-free zero padding, tanh at the end) with seeded
    /// random weights; with norm "instance" an InstanceNormalization follows the first conv. Receptive field 5x5.
    /// With <paramref name="int8"/> each convolution reads int8 weights and uint8 activations through
    /// DequantizeLinear (QDQ, as cyclegan-export quantize writes them) and the metadata says int8-qdq.
    /// <paramref name="metadata"/> overrides metadata keys (a null value removes one). With <paramref name="resize"/> a
    /// Resize of scale 1 (output unchanged) follows the ReLU: the runtime tells <c>--upsample resize</c> graphs by that op.
    /// </summary>
    public static byte[] SmallConvNet(string norm, int seed = 1, bool int8 = false, IReadOnlyDictionary<string, string?>? metadata = null, bool resize = false)
    {
        var spec = new Spec { Norm = norm };
        if (int8)
        {
            spec.Metadata[ModelContract.QuantizationKey] = ModelContract.QuantizationInt8Qdq;
            spec.Metadata[ModelContract.CalibrationKey] = FixedRanges;
        }
        foreach (var (k, v) in metadata ?? new Dictionary<string, string?>()) spec.Metadata[k] = v;
        var rng = new Random(seed);
        var graph = new GraphProto { Name = "convnet" };
        graph.Input.Add(Value(ModelContract.InputName, DataType.Float, 4, false, 3));
        // Activation ranges for the QDQ form: the input is in [-1, 1], the second conv reads ReLU output (measured < 2).
        string x = Conv(graph, ModelContract.InputName, 3, 4, rng, "c1", int8 ? (2f / 255, 128) : null);
        if (norm == "instance")
        {
            graph.Initializer.Add(Floats("in.scale", [1, 1, 1, 1], [4]));
            graph.Initializer.Add(Floats("in.bias", [0, 0, 0, 0], [4]));
            x = Add(graph, "InstanceNormalization", [x, "in.scale", "in.bias"], new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-5f });
        }
        x = Add(graph, "Relu", [x]);
        if (resize)
        {
            graph.Initializer.Add(Floats("resize.scales", [1, 1, 1, 1], [4]));
            x = Add(graph, "Resize", [x, "", "resize.scales"]);
        }
        x = Conv(graph, x, 4, 3, rng, "c2", int8 ? (4f / 255, 0) : null);
        x = Add(graph, "Tanh", [x]);
        Rename(graph, x, ModelContract.OutputName);
        graph.Output.Add(Value(ModelContract.OutputName, DataType.Float, 4, false, 3));
        return Model(graph, spec);
    }

    /// <summary>
    /// A deeper stack of 3x3 convolutions (3 -> <paramref name="width"/>, <paramref name="depth"/> x [conv, instance norm,
    /// ReLU], -> 3, tanh) with seeded random weights: about 0.25 G multiply-accumulates per 128x128 image at width 16,
    /// depth 6 (a tiny resnet's share), so a run of a few dozen images takes long enough to be caught mid-way.
    /// </summary>
    public static byte[] ConvStack(int depth = 6, int width = 16, int seed = 1)
    {
        var rng = new Random(seed);
        var graph = new GraphProto { Name = "convstack" };
        graph.Input.Add(Value(ModelContract.InputName, DataType.Float, 4, false, 3));
        graph.Initializer.Add(Floats("in.scale", [.. Enumerable.Repeat(1f, width)], [width]));
        graph.Initializer.Add(Floats("in.bias", new float[width], [width]));
        string x = Conv(graph, ModelContract.InputName, 3, width, rng, "c0");
        for (int i = 1; i <= depth; i++)
        {
            x = Conv(graph, x, width, width, rng, $"c{i}");
            x = Add(graph, "InstanceNormalization", [x, "in.scale", "in.bias"], new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-5f });
            x = Add(graph, "Relu", [x]);
        }
        x = Conv(graph, x, width, 3, rng, "out");
        x = Add(graph, "Tanh", [x]);
        Rename(graph, x, ModelContract.OutputName);
        graph.Output.Add(Value(ModelContract.OutputName, DataType.Float, 4, false, 3));
        return Model(graph, new Spec { Norm = "instance" });
    }

    public static string Save(byte[] model, string? folder = null, string name = "model.onnx")
    {
        folder ??= TestFiles.TempFolder();
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, model);
        return path;
    }

    /// <summary>A 3x3 convolution; with <paramref name="qdq"/> (activation scale, uint8 zero point) in QDQ form with int8 weights.</summary>
    private static string Conv(GraphProto graph, string x, int cin, int cout, Random rng, string name, (float Scale, byte ZeroPoint)? qdq = null)
    {
        var w = new float[cout * cin * 9];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.6f;
        var b = new float[cout];
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
        string weight = name + ".w";
        if (qdq is { } q)
        {
            const float weightScale = 0.3f / 127;
            var wq = new byte[w.Length];
            for (int i = 0; i < w.Length; i++) wq[i] = (byte)(sbyte)Math.Clamp(MathF.Round(w[i] / weightScale), -127, 127);
            graph.Initializer.Add(Tensor(name + ".wq", DataType.Int8, wq, [cout, cin, 3, 3]));
            graph.Initializer.Add(Floats(name + ".ws", [weightScale], []));
            graph.Initializer.Add(Tensor(name + ".wz", DataType.Int8, [0], []));
            weight = Add(graph, "DequantizeLinear", [name + ".wq", name + ".ws", name + ".wz"]);
            graph.Initializer.Add(Floats(name + ".as", [q.Scale], []));
            graph.Initializer.Add(Tensor(name + ".az", DataType.Uint8, [q.ZeroPoint], []));
            x = Add(graph, "QuantizeLinear", [x, name + ".as", name + ".az"]);
            x = Add(graph, "DequantizeLinear", [x, name + ".as", name + ".az"]);
        }
        else
        {
            graph.Initializer.Add(Floats(weight, w, [cout, cin, 3, 3]));
        }
        graph.Initializer.Add(Floats(name + ".b", b, [cout]));
        return Add(graph, "Conv", [x, weight, name + ".b"], Ints("pads", [1, 1, 1, 1]), Ints("kernel_shape", [3, 3]));
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

    private static TensorProto Tensor(string name, DataType type, byte[] values, long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(values) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static AttributeProto Ints(string name, long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    /// <summary>
    /// A domain classifier with the operators and metadata of cyclegan-train classifier's ONNX (docs/onnx-contract.md),
    /// weights set by hand: conv1 (4x4, stride 2) averages red into channel 0 and blue into channel 1, bias 1 keeps both
    /// positive through LeakyReLU, then global average pooling and an identity Gemm. So logit 0 (domain "red", A) is
    /// the mean red and logit 1 (domain "blue", B) the mean blue: red images are A, blue images B.
    /// </summary>
    public static byte[] RedBlueClassifier(int imageSize = 32)
    {
        var graph = new GraphProto { Name = "cyclegan_domain_classifier" };
        var input = Value(ModelContract.InputName, DataType.Float, 4, false, 3);
        input.Type.TensorType.Shape.Dim[2] = new TensorShapeProto.Types.Dimension { DimValue = imageSize };
        input.Type.TensorType.Shape.Dim[3] = new TensorShapeProto.Types.Dimension { DimValue = imageSize };
        graph.Input.Add(input);
        var w = new float[2 * 3 * 16];
        for (int i = 0; i < 16; i++)
        {
            w[0 * 48 + 0 * 16 + i] = 1f / 16; // out 0 <- red
            w[1 * 48 + 2 * 16 + i] = 1f / 16; // out 1 <- blue
        }
        graph.Initializer.Add(Floats("conv1.weight", w, [2, 3, 4, 4]));
        graph.Initializer.Add(Floats("conv1.bias", [1, 1], [2]));
        graph.Initializer.Add(Floats("fc.weight", [1, 0, 0, 1], [2, 2]));
        graph.Initializer.Add(Floats("fc.bias", [0, 0], [2]));
        string x = Add(graph, "Conv", [ModelContract.InputName, "conv1.weight", "conv1.bias"],
            Ints("kernel_shape", [4, 4]), Ints("strides", [2, 2]), Ints("pads", [1, 1, 1, 1]));
        x = Add(graph, "LeakyRelu", [x], Float("alpha", 0.2f));
        x = Add(graph, "GlobalAveragePool", [x]);
        x = Add(graph, "Flatten", [x], Int("axis", 1));
        x = Add(graph, "Gemm", [x, "fc.weight", "fc.bias"], Int("transB", 1));
        Rename(graph, x, ModelContract.ClassifierOutputName);
        var logits = new ValueInfoProto { Name = ModelContract.ClassifierOutputName, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = new TensorShapeProto() } } };
        logits.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        logits.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 2 });
        graph.Output.Add(logits);

        var model = new ModelProto { IrVersion = 8, ProducerName = "runtime-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        foreach (var (k, v) in new Dictionary<string, string>
        {
            [ModelContract.ClassifierVersionKey] = ModelContract.ClassifierVersion.ToString(CultureInfo.InvariantCulture),
            [ModelContract.ClassifierLabelsKey] = "red,blue",
            [ModelContract.ClassifierImageSizeKey] = imageSize.ToString(CultureInfo.InvariantCulture),
            [ModelContract.ClassifierPixelRangeKey] = "-1,1",
        })
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model.ToByteArray();
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
