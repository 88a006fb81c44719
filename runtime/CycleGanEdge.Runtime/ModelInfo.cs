using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime;

/// <summary>What a model says about itself (docs/onnx-contract.md), checked against its graph by <see cref="ContractCheck"/>.</summary>
public sealed record ModelInfo : ModelHeader
{
    [SetsRequiredMembers]
    private ModelInfo(ModelHeader header, string path, IReadOnlyDictionary<string, string> metadata, TensorSignature input, TensorSignature output)
        : base(header)
    {
        Path = path;
        Metadata = metadata;
        Input = input;
        Output = output;
    }

    public required string Path { get; init; }
    /// <summary>All metadata pairs, including any the contract does not define.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>The graph's input and output as ONNX Runtime sees them.</summary>
    public required TensorSignature Input { get; init; }
    public required TensorSignature Output { get; init; }

    /// <summary>Reads and validates the metadata of an open session against the graph of the file at <paramref name="path"/>.</summary>
    public static ModelInfo FromSession(InferenceSession session, string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidModelException(path, $"cannot read it ({e.Message})", e);
        }
        return FromSession(session, path, bytes);
    }

    /// <summary>The same for a session made from <paramref name="model"/>'s bytes; <paramref name="name"/> names it in messages.</summary>
    public static ModelInfo FromSession(InferenceSession session, string name, ReadOnlySpan<byte> model)
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
            throw new InvalidModelException(name, $"ONNX Runtime cannot read its metadata or signature (damaged text fields: {e.GetType().Name})", e);
        }
        GraphFacts graph;
        try
        {
            graph = ModelFileCheck.ReadGraphFacts(model);
        }
        catch (FormatException e)
        {
            throw new InvalidModelException(name, $"not an ONNX model (damaged or truncated: {e.Message})", e);
        }
        var header = ContractCheck.Read(meta, graph, out var problems)
            ?? throw new InvalidModelException(name, string.Join("; ", problems));
        return new ModelInfo(header, name, new Dictionary<string, string>(meta),
            TensorSignature.Of(inputs, ModelContract.InputName), TensorSignature.Of(outputs, ModelContract.OutputName));
    }

    /// <summary>
    /// The checked header of the file at <paramref name="path"/> without opening a session (translate chooses its
    /// threads and sessions from it before it opens any); the graph's inputs and outputs are read from the file.
    /// </summary>
    public static ModelHeader ReadHeader(string path)
    {
        ModelFileCheck.Verify(path); // the size limit and the external data rule first, as a session would
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            var header = ContractCheck.Read(ModelFileCheck.ReadMetadata(path), ModelFileCheck.ReadGraphFacts(bytes), out var problems);
            return header ?? throw new InvalidModelException(path, string.Join("; ", problems));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidModelException(path, $"cannot read it ({e.Message})", e);
        }
        catch (FormatException e)
        {
            throw new InvalidModelException(path, $"not an ONNX model (damaged or truncated: {e.Message})", e);
        }
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
