using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime;

/// <summary>What a model says about itself (docs/onnx-contract.md), checked against its graph.</summary>
public sealed record ModelInfo
{
    public required string Path { get; init; }
    public required int ContractVersion { get; init; }
    public required string Direction { get; init; }
    /// <summary>The method that trained the generator (<see cref="ModelContract.Methods"/>); cyclegan when the key is absent.</summary>
    public required string Method { get; init; }
    public required string DomainIn { get; init; }
    public required string DomainOut { get; init; }
    public required string Arch { get; init; }
    public required int Ngf { get; init; }
    public required string Norm { get; init; }
    public required int ChannelsIn { get; init; }
    public required int ChannelsOut { get; init; }
    public required string Io { get; init; }
    public required string PixelRange { get; init; }
    public required string Precision { get; init; }
    public required int SpatialMultiple { get; init; }
    public required int TrainSize { get; init; }
    public required string SourceSha256 { get; init; }
    public required string ExporterVersion { get; init; }
    /// <summary>What the trainer did to images before the network; <see cref="ImagePreprocessing.Unrecorded"/> for files without the keys.</summary>
    public required ImagePreprocessing Preprocessing { get; init; }
    /// <summary>All metadata pairs, including any the contract does not define.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>The graph's input and output as ONNX Runtime sees them.</summary>
    public required TensorSignature Input { get; init; }
    public required TensorSignature Output { get; init; }

    public bool IsUint8 => Io == ModelContract.IoUint8Nhwc;

    /// <summary>Reads and validates the metadata and the input/output signature of an open session.</summary>
    public static ModelInfo FromSession(InferenceSession session, string path)
    {
        IReadOnlyDictionary<string, string> meta;
        IReadOnlyDictionary<string, NodeMetadata> inputs, outputs;
        try
        {
            meta = session.ModelMetadata.CustomMetadataMap;
            inputs = session.InputMetadata;
            outputs = session.OutputMetadata;
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentException or OnnxRuntimeException)
        {
            // Fuzz finding: a damaged text field (e.g. the producer name) that ORT loads but its C# API
            // cannot read back throws NullReferenceException from ModelMetadata.
            throw new InvalidModelException(path, $"ONNX Runtime cannot read its metadata or signature (damaged text fields: {e.GetType().Name})", e);
        }
        var missing = ModelContract.RequiredKeys.Where(k => !meta.ContainsKey(k)).ToList();
        if (missing.Count == ModelContract.RequiredKeys.Count)
            throw new InvalidModelException(path, "not a CycleGanEdge model (no cyclegan.* metadata; export it with cyclegan-export)");
        if (missing.Count > 0)
            throw new InvalidModelException(path, $"metadata key(s) missing: {string.Join(", ", missing)}");

        int Int(string key, int min, int max)
        {
            if (!int.TryParse(meta[key], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
                throw new InvalidModelException(path, $"metadata {key}='{meta[key]}' is not a whole number in {min}..{max}");
            return v;
        }
        string OneOf(string key, params string[] allowed)
        {
            string v = meta[key];
            if (!allowed.Contains(v))
                throw new InvalidModelException(path, $"metadata {key}='{v}' is not one of: {string.Join(", ", allowed)}");
            return v;
        }

        int version = Int(ModelContract.ContractVersionKey, 1, int.MaxValue);
        if (version > ModelContract.Version)
            throw new InvalidModelException(path, $"contract version {version} is newer than this cyclegan-run understands ({ModelContract.Version}); update cyclegan-run");

        var preprocessing = ImagePreprocessing.FromMetadata(meta, out string? preprocessingProblem)
            ?? throw new InvalidModelException(path, preprocessingProblem!);

        var info = new ModelInfo
        {
            Path = path,
            ContractVersion = version,
            Direction = OneOf(ModelContract.DirectionKey, "AtoB", "BtoA"),
            Method = meta.ContainsKey(ModelContract.MethodKey) ? OneOf(ModelContract.MethodKey, [.. ModelContract.Methods]) : ModelContract.MethodCycleGan,
            DomainIn = meta[ModelContract.DomainInKey],
            DomainOut = meta[ModelContract.DomainOutKey],
            Arch = meta[ModelContract.ArchKey],
            Ngf = Int(ModelContract.NgfKey, 1, 4096),
            Norm = OneOf(ModelContract.NormKey, "instance", "batch", "none"),
            ChannelsIn = Int(ModelContract.ChannelsInKey, 1, 3),
            ChannelsOut = Int(ModelContract.ChannelsOutKey, 1, 3),
            Io = OneOf(ModelContract.IoKey, ModelContract.IoFloat32Nchw, ModelContract.IoUint8Nhwc),
            PixelRange = OneOf(ModelContract.PixelRangeKey, "-1,1", "0,255"),
            Precision = OneOf(ModelContract.PrecisionKey, "fp32", "fp16"),
            SpatialMultiple = Int(ModelContract.SpatialMultipleKey, 1, 4096),
            TrainSize = Int(ModelContract.TrainSizeKey, 1, 65536),
            SourceSha256 = meta[ModelContract.SourceSha256Key],
            ExporterVersion = meta[ModelContract.ExporterVersionKey],
            Preprocessing = preprocessing,
            Metadata = new Dictionary<string, string>(meta),
            Input = TensorSignature.Of(inputs, ModelContract.InputName),
            Output = TensorSignature.Of(outputs, ModelContract.OutputName),
        };
        if (info.ChannelsIn == 2 || info.ChannelsOut == 2)
            throw new InvalidModelException(path, "channels must be 1 (grayscale) or 3 (RGB)");
        string expectedRange = info.IsUint8 ? "0,255" : "-1,1";
        if (info.PixelRange != expectedRange)
            throw new InvalidModelException(path, $"metadata says io={info.Io} but pixel_range={info.PixelRange} (expected {expectedRange})");

        var elementType = info.IsUint8 ? TensorElementType.UInt8 : TensorElementType.Float;
        CheckTensor(inputs, ModelContract.InputName, "input", info, info.ChannelsIn, elementType);
        CheckTensor(outputs, ModelContract.OutputName, "output", info, info.ChannelsOut, elementType);
        return info;
    }

    private static void CheckTensor(IReadOnlyDictionary<string, NodeMetadata> nodes, string name, string role, ModelInfo info, int channels, TensorElementType elementType)
    {
        if (!nodes.TryGetValue(name, out var node))
            throw new InvalidModelException(info.Path, $"the graph has no {role} named '{name}' (it has: {string.Join(", ", nodes.Keys)})");
        if (!node.IsTensor || node.ElementDataType != elementType)
            throw new InvalidModelException(info.Path, $"metadata says io={info.Io} but {role} '{name}' is {(node.IsTensor ? node.ElementDataType.ToString() : node.OnnxValueType.ToString())}, not {elementType}");
        int[] dims = node.Dimensions;
        if (dims.Length != 4)
            throw new InvalidModelException(info.Path, $"{role} '{name}' has rank {dims.Length}, expected 4 ({(info.IsUint8 ? "N,H,W,C" : "N,C,H,W")})");
        int channelDim = dims[info.IsUint8 ? 3 : 1];
        if (channelDim > 0 && channelDim != channels)
            throw new InvalidModelException(info.Path, $"metadata says {channels} {role} channel(s) but the graph's {role} has {channelDim}");
    }

    public string Describe() => string.Join(Environment.NewLine, Metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} = {p.Value}"));
}

/// <summary>Name, element type and dimensions (a name for a dynamic one) of a graph input or output.</summary>
public sealed record TensorSignature(string Name, string ElementType, IReadOnlyList<string> Dimensions)
{
    internal static TensorSignature Of(IReadOnlyDictionary<string, NodeMetadata> nodes, string name)
    {
        if (!nodes.TryGetValue(name, out var node) || !node.IsTensor)
            return new TensorSignature(name, "?", []);
        var dims = node.Dimensions.Select((d, i) => d > 0 ? d.ToString(CultureInfo.InvariantCulture)
            : node.SymbolicDimensions.Length > i && node.SymbolicDimensions[i].Length > 0 ? node.SymbolicDimensions[i] : "?").ToArray();
        return new TensorSignature(name, node.ElementDataType.ToString().ToLowerInvariant(), dims);
    }

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Dimensions)}]";
}
