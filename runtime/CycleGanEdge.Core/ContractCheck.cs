using System.Globalization;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Onnx;

namespace CycleGanEdge.Core;

/// <summary>A graph input or output as the checker sees it: element type by name (Float, UInt8, Float16, ...) and
/// dimensions (0 or less for a dynamic one).</summary>
public sealed record GraphEdge(string Name, string ElementType, IReadOnlyList<long> Dimensions);

/// <summary>What <see cref="ContractCheck"/> needs of a model's graph, read by whoever holds it (a session, a parsed file).</summary>
public sealed record GraphFacts
{
    public required IReadOnlyList<GraphEdge> Inputs { get; init; }
    public required IReadOnlyList<GraphEdge> Outputs { get; init; }
    /// <summary>A Resize node: the decoder upsamples with resize (how version 1 files tell).</summary>
    public required bool HasResize { get; init; }
    /// <summary>Blur filters (initializers named <c>*.filt</c>): anti-aliased sampling (how version 1 files tell).</summary>
    public required bool HasBlurFilters { get; init; }
    public required bool HasHalfWeights { get; init; }
    /// <summary>The residual output's clip bounds (initializers named <see cref="ResidualMin"/>): the graph adds its input to its output.</summary>
    public bool HasResidualOutput { get; init; }

    /// <summary>The initializer names of the clip that ends a residual generator (the exporter writes them, <see cref="ModelDescriptor.Output"/>).</summary>
    public const string ResidualMin = "residual.min";
    public const string ResidualMax = "residual.max";

    /// <summary>The facts of a parsed model's main graph.</summary>
    public static GraphFacts Of(ModelProto model)
    {
        var graph = model.Graph ?? new GraphProto();
        return new GraphFacts
        {
            Inputs = [.. graph.Input.Select(Edge)],
            Outputs = [.. graph.Output.Select(Edge)],
            HasResize = graph.Node.Any(n => n.OpType == "Resize"),
            HasBlurFilters = graph.Initializer.Any(t => IsBlurFilter(t.Name)),
            HasHalfWeights = graph.Initializer.Any(t => t.DataType == (int)TensorProto.Types.DataType.Float16),
            HasResidualOutput = graph.Initializer.Any(t => IsResidualBound(t.Name)),
        };
    }

    public static GraphEdge Edge(ValueInfoProto value)
    {
        var tensor = value.Type?.TensorType;
        string element = tensor is null ? "not a tensor" : (TensorProto.Types.DataType)tensor.ElemType switch
        {
            TensorProto.Types.DataType.Uint8 => "UInt8", // ONNX Runtime's spelling, as users see it elsewhere
            var t => t.ToString(),
        };
        long[] dims = tensor?.Shape is { } shape ? [.. shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : 0)] : [];
        return new GraphEdge(value.Name, element, dims);
    }

    /// <summary>Whether an initializer name is one of the exporter's blur filters (also after int8 quantization: <c>.filt/int8</c>).</summary>
    /// <summary>The initializer that marks a residual output (one rule for <see cref="Of"/> and the runtime's file reader).</summary>
    public static bool IsResidualBound(string initializer) => initializer == ResidualMin;

    public static bool IsBlurFilter(string initializer) =>
        initializer.EndsWith(".filt", StringComparison.Ordinal) || initializer.Contains(".filt/", StringComparison.Ordinal);
}

/// <summary>What a generator's metadata says (docs/onnx-contract.md), read and checked by <see cref="ContractCheck"/>.</summary>
public record ModelHeader
{
    public required int ContractVersion { get; init; }
    public required string Direction { get; init; }
    /// <summary>The method that trained the generator (<see cref="ModelContract.Methods"/>); cyclegan when the key is absent.</summary>
    public required string Method { get; init; }
    public required string DomainIn { get; init; }
    public required string DomainOut { get; init; }
    /// <summary>The architecture: from the keys, and for version 1 files the upsampling and antialiasing from the graph.</summary>
    public required ModelDescriptor Descriptor { get; init; }
    public required string Io { get; init; }
    public required string PixelRange { get; init; }
    public required string Precision { get; init; }
    public required int TrainSize { get; init; }
    public required string SourceSha256 { get; init; }
    public required string ExporterVersion { get; init; }
    /// <summary>What the trainer did to images before the network; <see cref="ImagePreprocessing.Unrecorded"/> for files without the keys.</summary>
    public required ImagePreprocessing Preprocessing { get; init; }

    public bool IsUint8 => Io == ModelContract.IoUint8Nhwc;
}

/// <summary>
/// The one reading of the generator contract: every rule on the metadata and on how it fits the graph, with one set of
/// messages. The runtime (<c>ModelInfo</c>: info, translate, bench, video, eval) and the exporter (check, quantize, export)
/// both call it, so <c>cyclegan-export check</c> accepts exactly what <c>cyclegan-run</c> loads.
/// </summary>
public static class ContractCheck
{
    /// <summary>The header, or null with every problem found (each a phrase; the caller names the file).</summary>
    public static ModelHeader? Read(IReadOnlyDictionary<string, string> meta, GraphFacts graph, out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        problems = found;
        var missing = ModelContract.RequiredKeys.Where(k => !meta.ContainsKey(k)).ToList();
        if (missing.Count == ModelContract.RequiredKeys.Count)
        {
            found.Add("not a CycleGanEdge model (no cyclegan.* metadata; export it with cyclegan-export)");
            return null;
        }

        int? Int(string key, int min, int max)
        {
            if (!meta.TryGetValue(key, out string? text)) return null;
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
            found.Add($"metadata {key}='{text}' is not a whole number in {min}..{max}");
            return null;
        }
        string? OneOf(string key, IReadOnlyList<string> allowed)
        {
            if (!meta.TryGetValue(key, out string? v)) return null;
            if (allowed.Contains(v)) return v;
            found.Add($"metadata {key}='{v}' is not one of: {string.Join(", ", allowed)}");
            return null;
        }

        int? version = Int(ModelContract.ContractVersionKey, 1, int.MaxValue);
        if (version > ModelContract.Version)
        {
            found.Add($"contract version {version} is newer than this version of CycleGanEdge understands ({ModelContract.Version}); update it");
            return null;
        }
        if (version >= 2)
            missing.AddRange(ModelContract.Version2Keys.Where(k => !meta.ContainsKey(k)));
        if (missing.Count > 0)
            found.Add($"metadata key(s) missing: {string.Join(", ", missing)}");

        string? direction = OneOf(ModelContract.DirectionKey, ["AtoB", "BtoA"]);
        string method = meta.ContainsKey(ModelContract.MethodKey) ? OneOf(ModelContract.MethodKey, ModelContract.Methods) ?? "" : ModelContract.MethodCycleGan;
        int? ngf = Int(ModelContract.NgfKey, 1, 4096);
        string? norm = OneOf(ModelContract.NormKey, ModelDescriptor.NormNames);
        int? channelsIn = Int(ModelContract.ChannelsInKey, 1, 3), channelsOut = Int(ModelContract.ChannelsOutKey, 1, 3);
        if (channelsIn == 2 || channelsOut == 2)
            found.Add("channels must be 1 (grayscale) or 3 (RGB)");
        string? io = OneOf(ModelContract.IoKey, [ModelContract.IoFloat32Nchw, ModelContract.IoUint8Nhwc]);
        string? range = OneOf(ModelContract.PixelRangeKey, ["-1,1", "0,255"]);
        string expectedRange = io == ModelContract.IoUint8Nhwc ? "0,255" : "-1,1";
        if (io is not null && range is not null && range != expectedRange)
            found.Add($"metadata says io={io} but pixel_range={range} (expected {expectedRange})");
        string? precision = OneOf(ModelContract.PrecisionKey, ["fp32", "fp16"]);
        if (precision is not null && (precision == "fp16") != graph.HasHalfWeights)
            found.Add($"metadata says precision={precision} but the graph has {(graph.HasHalfWeights ? "" : "no ")}float16 weights");
        int? multiple = Int(ModelContract.SpatialMultipleKey, 1, 4096);
        int? trainSize = Int(ModelContract.TrainSizeKey, 1, 65536);
        string sha = meta.GetValueOrDefault(ModelContract.SourceSha256Key, "");
        if (sha.Length != 0 && (sha.Length != 64 || !sha.All(Uri.IsHexDigit)))
            found.Add($"metadata {ModelContract.SourceSha256Key}='{sha}' is not a SHA-256 hex digest");

        // Version 2 says how the decoder upsamples and whether sampling is anti-aliased; version 1 leaves it to the graph.
        var upsampling = meta.ContainsKey(ModelContract.UpsampleKey)
            ? ModelDescriptor.ParseUpsampling(OneOf(ModelContract.UpsampleKey, ModelDescriptor.UpsamplingNames) ?? "")
            : graph.HasResize ? Upsampling.Resize : Upsampling.ConvTranspose;
        if (upsampling is { } u && (u == Upsampling.Resize) != graph.HasResize)
            found.Add($"metadata says upsample={ModelDescriptor.UpsamplingName(u)} but the graph has {(graph.HasResize ? "a" : "no")} Resize node");
        var antialiasing = meta.ContainsKey(ModelContract.AntialiasKey)
            ? ModelDescriptor.ParseAntialiasing(OneOf(ModelContract.AntialiasKey, ModelDescriptor.AntialiasingNames) ?? "")
            : graph.HasBlurFilters ? Antialiasing.Blur : Antialiasing.None;
        if (antialiasing is { } a && (a == Antialiasing.Blur) != graph.HasBlurFilters)
            found.Add($"metadata says antialias={ModelDescriptor.AntialiasingName(a)} but the graph has {(graph.HasBlurFilters ? "" : "no ")}blur filters");

        // Optional: files without the key give the image, and their graph must agree.
        var output = meta.ContainsKey(ModelContract.OutputKey)
            ? ModelDescriptor.ParseOutput(OneOf(ModelContract.OutputKey, ModelDescriptor.OutputNames) ?? "")
            : GeneratorOutput.Image;
        if (output is { } r && (r == GeneratorOutput.Residual) != graph.HasResidualOutput)
            found.Add($"metadata says output={ModelDescriptor.OutputName(r)} but the graph has {(graph.HasResidualOutput ? "a" : "no")} residual clip ({GraphFacts.ResidualMin})");

        var preprocessing = ImagePreprocessing.FromMetadata(meta, out string? preprocessingProblem);
        if (preprocessing is null)
            found.Add(preprocessingProblem!);

        bool uint8 = io == ModelContract.IoUint8Nhwc;
        if (io is not null)
        {
            CheckEdge(graph.Inputs, ModelContract.InputName, "input", uint8, channelsIn, found);
            CheckEdge(graph.Outputs, ModelContract.OutputName, "output", uint8, channelsOut, found);
        }
        if (found.Count > 0) return null;

        return new ModelHeader
        {
            ContractVersion = version!.Value,
            Direction = direction!,
            Method = method,
            DomainIn = meta[ModelContract.DomainInKey],
            DomainOut = meta[ModelContract.DomainOutKey],
            Descriptor = new ModelDescriptor
            {
                Arch = meta[ModelContract.ArchKey],
                Ngf = ngf!.Value,
                Norm = ModelDescriptor.ParseNorm(norm!)!.Value,
                ChannelsIn = channelsIn!.Value,
                ChannelsOut = channelsOut!.Value,
                Upsampling = upsampling!.Value,
                Antialiasing = antialiasing!.Value,
                Output = output!.Value,
                SpatialMultiple = multiple!.Value,
            },
            Io = io!,
            PixelRange = range!,
            Precision = precision!,
            TrainSize = trainSize!.Value,
            SourceSha256 = sha,
            ExporterVersion = meta[ModelContract.ExporterVersionKey],
            Preprocessing = preprocessing!,
        };
    }

    private static void CheckEdge(IReadOnlyList<GraphEdge> edges, string name, string role, bool uint8, int? channels, List<string> problems)
    {
        var edge = edges.FirstOrDefault(e => e.Name == name);
        if (edge is null)
        {
            problems.Add($"the graph has no {role} named '{name}' (it has: {string.Join(", ", edges.Select(e => e.Name))})");
            return;
        }
        if (edges.Count != 1)
            problems.Add($"the graph must have exactly one {role}, named '{name}' (it has: {string.Join(", ", edges.Select(e => e.Name))})");
        string expected = uint8 ? "UInt8" : "Float";
        if (edge.ElementType != expected)
        {
            problems.Add($"metadata says io={(uint8 ? ModelContract.IoUint8Nhwc : ModelContract.IoFloat32Nchw)} but {role} '{name}' is {edge.ElementType}, not {expected}");
            return;
        }
        if (edge.Dimensions.Count != 4)
        {
            problems.Add($"{role} '{name}' has rank {edge.Dimensions.Count}, expected 4 ({(uint8 ? "N,H,W,C" : "N,C,H,W")})");
            return;
        }
        long channelDimension = edge.Dimensions[uint8 ? 3 : 1];
        if (channels is int c && channelDimension > 0 && channelDimension != c)
            problems.Add($"metadata says {c} {role} channel(s) but the graph's {role} has {channelDimension}");
    }
}
