using System.Globalization;
using System.Reflection;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Networks;
using Google.Protobuf;
using static TorchSharp.torch;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter;

/// <summary>How to write the graph (not what it computes).</summary>
public sealed record ExportOptions
{
    public const int MinOpset = 13;
    public const int MaxOpset = 21;

    public int Opset { get; init; } = 17;
    /// <summary>Weights and compute in half precision; graph inputs/outputs and instance norm stay float32.</summary>
    public bool Fp16 { get; init; }
    /// <summary>Fold each batch norm that follows a convolution into that convolution.</summary>
    public bool FoldBatchNorm { get; init; }
    /// <summary><see cref="ModelContract.IoFloat32Nchw"/> or <see cref="ModelContract.IoUint8Nhwc"/>.</summary>
    public string Io { get; init; } = ModelContract.IoFloat32Nchw;
    /// <summary>Graph name; defaults to one made of the arch and direction.</summary>
    public string? Name { get; init; }
}

/// <summary>Where the generator came from; written into the model's metadata.</summary>
public sealed record ModelIdentity
{
    public string Direction { get; init; } = "AtoB";
    /// <summary>The method that trained it (the trainer's --model): one of <see cref="ModelContract.Methods"/>.</summary>
    public string Method { get; init; } = ModelContract.MethodCycleGan;
    public string DomainIn { get; init; } = "A";
    public string DomainOut { get; init; } = "B";
    public int TrainSize { get; init; } = 256;
    public string SourceSha256 { get; init; } = "";
    /// <summary>What the trainer did to images before the network; null when the source does not say (the keys are then left out).</summary>
    public ImagePreprocessing? Preprocessing { get; init; }
}

public static class OnnxExport
{
    public static string ExporterVersion { get; } =
        (typeof(OnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    /// <summary>The ONNX IR version released together with each opset (onnx's version table).</summary>
    public static int IrVersionFor(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    /// <summary>Builds the ONNX model of <paramref name="generator"/> (switched to eval mode) as protobuf bytes.</summary>
    public static byte[] ToBytes(nn.Module<Tensor, Tensor> generator, GeneratorOptions arch, ExportOptions options, ModelIdentity identity)
    {
        Validate(options);
        if (!ModelContract.Methods.Contains(identity.Method))
            throw new ExportException($"method '{identity.Method}' is not one of: {string.Join(", ", ModelContract.Methods)}");
        generator.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();

        bool uint8 = options.Io == ModelContract.IoUint8Nhwc;
        var graph = new OnnxGraph();
        graph.Proto.Name = options.Name ?? $"cyclegan_{arch.Arch}_{identity.Direction}";
        graph.Proto.Input.Add(uint8
            ? OnnxGraph.TensorValue(ModelContract.InputName, DataType.Uint8, "batch", "height", "width", arch.InputNc)
            : OnnxGraph.TensorValue(ModelContract.InputName, DataType.Float, "batch", arch.InputNc, "height", "width"));

        string x = ModelContract.InputName;
        if (uint8)
        {
            // uint8 NHWC [0, 255] -> float NCHW [-1, 1]
            x = graph.Cast(x, DataType.Float, "preprocess");
            x = graph.Node("Transpose", "preprocess", x, OnnxGraph.Ints("perm", [0, 3, 1, 2]));
            x = graph.Node("Mul", "preprocess", [x, graph.ScalarInitializer("preprocess.scale", 1f / 127.5f)]);
            x = graph.Node("Sub", "preprocess", [x, graph.ScalarInitializer("preprocess.one", 1f)]);
        }
        if (options.Fp16)
            x = graph.Cast(x, DataType.Float16, "to_fp16");

        var body = new GeneratorGraph(graph, options.Fp16, options.FoldBatchNorm);
        x = body.Emit(generator, "", x);
        if (options.FoldBatchNorm && body.BatchNormsSeen == 0)
            throw new ExportException($"--fold-batchnorm: the generator has no batch norm to fold (its norm is '{arch.Norm}')");

        if (options.Fp16)
            x = graph.Cast(x, DataType.Float, "to_fp32");
        if (uint8)
        {
            // float NCHW [-1, 1] -> uint8 NHWC: round to nearest (ties to even, as torch.round) and clip before the cast.
            x = graph.Node("Add", "postprocess", [x, graph.ScalarInitializer("postprocess.one", 1f)]);
            x = graph.Node("Mul", "postprocess", [x, graph.ScalarInitializer("postprocess.scale", 127.5f)]);
            x = graph.Node("Round", "postprocess", x);
            x = graph.Node("Clip", "postprocess",
                [x, graph.ScalarInitializer("postprocess.min", 0f), graph.ScalarInitializer("postprocess.max", 255f)]);
            x = graph.Node("Transpose", "postprocess", x, OnnxGraph.Ints("perm", [0, 2, 3, 1]));
            x = graph.Cast(x, DataType.Uint8, "postprocess");
        }
        if (x == ModelContract.InputName)
            x = graph.Node("Identity", "output", x);
        graph.Rename(x, ModelContract.OutputName);
        graph.Proto.Output.Add(uint8
            ? OnnxGraph.TensorValue(ModelContract.OutputName, DataType.Uint8, "batch", "height", "width", arch.OutputNc)
            : OnnxGraph.TensorValue(ModelContract.OutputName, DataType.Float, "batch", arch.OutputNc, "height", "width"));

        var model = new ModelProto
        {
            IrVersion = IrVersionFor(options.Opset),
            ProducerName = "cyclegan-export",
            ProducerVersion = ExporterVersion,
            Graph = graph.Proto,
            DocString = $"CycleGAN generator {arch.Arch} ({identity.DomainIn} -> {identity.DomainOut})" +
                (body.BatchNormsFolded > 0 ? $"; {body.BatchNormsFolded} batch norms folded into convolutions" : ""),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        foreach (var (key, value) in Metadata(arch, options, identity))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model.ToByteArray();
    }

    /// <summary>The contract's metadata, in the order of <see cref="ModelContract.Keys"/> (without the preprocessing keys when the identity has none):
    /// the architecture keys are the generator's <see cref="ModelDescriptor"/>.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Metadata(GeneratorOptions arch, ExportOptions options, ModelIdentity identity)
    {
        bool uint8 = options.Io == ModelContract.IoUint8Nhwc;
        var inv = CultureInfo.InvariantCulture;
        var values = new Dictionary<string, string>
        {
            [ModelContract.ContractVersionKey] = ModelContract.Version.ToString(inv),
            [ModelContract.DirectionKey] = identity.Direction,
            [ModelContract.MethodKey] = identity.Method,
            [ModelContract.DomainInKey] = identity.DomainIn,
            [ModelContract.DomainOutKey] = identity.DomainOut,
            [ModelContract.IoKey] = options.Io,
            [ModelContract.PixelRangeKey] = uint8 ? "0,255" : "-1,1",
            [ModelContract.PrecisionKey] = options.Fp16 ? "fp16" : "fp32",
            [ModelContract.TrainSizeKey] = identity.TrainSize.ToString(inv),
            [ModelContract.SourceSha256Key] = identity.SourceSha256,
            [ModelContract.ExporterVersionKey] = ExporterVersion,
        };
        foreach (var (key, value) in arch.Descriptor.Metadata())
            values[key] = value;
        foreach (var (key, value) in identity.Preprocessing?.Metadata() ?? [])
            values[key] = value;
        return [.. ModelContract.Keys.Where(values.ContainsKey).Select(k => new KeyValuePair<string, string>(k, values[k]))];
    }

    /// <summary>
    /// Runs the ONNX model in ONNX Runtime and the TorchSharp generator on the same random inputs at two sizes
    /// and reports the differences against the bound for this precision and I/O (see <see cref="Parity"/>).
    /// </summary>
    public static ParityReport CheckParity(nn.Module<Tensor, Tensor> generator, GeneratorOptions arch, byte[] onnx, ExportOptions options) =>
        Parity.Check(generator, arch, onnx, options);

    internal static void Validate(ExportOptions options)
    {
        if (options.Opset is < ExportOptions.MinOpset or > ExportOptions.MaxOpset)
            throw new ExportException($"--opset {options.Opset} is not supported: use {ExportOptions.MinOpset} to {ExportOptions.MaxOpset}");
        if (options.Io != ModelContract.IoFloat32Nchw && options.Io != ModelContract.IoUint8Nhwc)
            throw new ExportException($"--io '{options.Io}' is not supported: use {ModelContract.IoFloat32Nchw} or {ModelContract.IoUint8Nhwc}");
    }
}
