using CycleGanEdge.Core.CommandLine;
using System.Globalization;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter;

/// <summary>
/// <c>cyclegan-export check MODEL.onnx</c>: is an existing file a model the runtime will accept? Checks the
/// contract with the runtime's own checker (<see cref="ContractCheck"/>: every key present, values consistent with each
/// other and with the graph), then loads it in ONNX Runtime as the runtime does (<see cref="ModelInfo.FromSession"/>)
/// and runs it once on a small random input.
/// </summary>
public static class ModelCheck
{
    /// <summary>The problems <see cref="ContractCheck"/> finds in the model's contract; empty when it is consistent.</summary>
    public static IReadOnlyList<string> ContractProblems(ModelProto model)
    {
        var meta = new Dictionary<string, string>();
        foreach (var entry in model.MetadataProps)
            meta[entry.Key] = entry.Value;
        if (model.Graph is null)
            return ["the model has no graph"];
        ContractCheck.Read(meta, GraphFacts.Of(model), out var problems);
        return problems;
    }

    /// <summary>Reads and parses an ONNX file; null after one error line naming it when it cannot.</summary>
    public static (byte[] Bytes, ModelProto Model)? Read(string path, TextWriter error)
    {
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            return (bytes, ModelProto.Parser.ParseFrom(bytes));
        }
        catch (InvalidProtocolBufferException e)
        {
            error.WriteLine($"error: {path}: not an ONNX model (damaged or truncated: {e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {path}: cannot read: {e.Message}");
        }
        return null;
    }

    /// <summary>Runs the whole check, printing one line on success or one error line; returns the exit code.</summary>
    public static int Run(string path, TextWriter output, TextWriter error)
    {
        if (!File.Exists(path))
        {
            error.WriteLine($"error: {path}: file not found");
            return ExitCodes.Usage;
        }
        try
        {
            ModelFileCheck.Verify(path); // the runtime's size limit and external data rule
        }
        catch (InvalidModelException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        if (Read(path, error) is not var (bytes, model)) return ExitCodes.Failed;

        var problems = ContractProblems(model);
        if (problems.Count > 0)
        {
            error.WriteLine($"error: {path}: breaks the model contract: {string.Join("; ", problems)}");
            return ExitCodes.Failed;
        }

        try
        {
            var meta = model.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
            using var session = SessionFactory.Create(path, new TranslatorOptions { Provider = "cpu" }, out _); // from the path: external data resolves against its folder
            // The runtime's own reading of the contract, so --check accepts exactly what cyclegan-run accepts.
            ModelInfo.FromSession(session, path);
            var (min, max, shape) = RunOnce(session, meta);
            var inv = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(inv,
                $"ok: {path}: {meta[ModelContract.ArchKey]} {meta[ModelContract.DirectionKey]} ({meta[ModelContract.DomainInKey]} -> {meta[ModelContract.DomainOutKey]}), " +
                $"{meta[ModelContract.IoKey]}, {meta[ModelContract.PrecisionKey]}, opset {model.OpsetImport.FirstOrDefault(o => o.Domain == "")?.Version}; " +
                $"ran on [{string.Join(", ", shape)}]: output in [{min:G4}, {max:G4}]"));
            return ExitCodes.Success;
        }
        catch (OnnxRuntimeException e)
        {
            error.WriteLine($"error: {path}: ONNX Runtime cannot load or run it: {FirstLine(e.Message)}");
            return ExitCodes.Failed;
        }
        catch (InvalidModelException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (ExportException e)
        {
            error.WriteLine($"error: {path}: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>One batch of one image, one spatial multiple (at least 32 px) square; checks shape and value range.</summary>
    private static (float Min, float Max, long[] Shape) RunOnce(InferenceSession session, Dictionary<string, string> meta)
    {
        var inv = CultureInfo.InvariantCulture;
        int multiple = int.Parse(meta[ModelContract.SpatialMultipleKey], inv);
        int side = Math.Max(multiple, 32 / multiple * multiple);
        int cIn = int.Parse(meta[ModelContract.ChannelsInKey], inv), cOut = int.Parse(meta[ModelContract.ChannelsOutKey], inv);
        bool uint8 = meta[ModelContract.IoKey] == ModelContract.IoUint8Nhwc;
        long[] inShape = uint8 ? [1, side, side, cIn] : [1, cIn, side, side];
        long[] expected = uint8 ? [1, side, side, cOut] : [1, cOut, side, side];
        var random = new Random(1);
        int count = side * side * cIn;

        using var runOptions = new RunOptions();
        using var input = uint8
            ? OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, count).Select(_ => (byte)random.Next(256)).ToArray(), inShape)
            : OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, count).Select(_ => random.NextSingle() * 2 - 1).ToArray(), inShape);
        using var outputs = session.Run(runOptions, [ModelContract.InputName], [input], [ModelContract.OutputName]);
        long[] shape = outputs[0].GetTensorTypeAndShape().Shape;
        if (!shape.SequenceEqual(expected))
            throw new ExportException($"output shape [{string.Join(", ", shape)}] for input [{string.Join(", ", inShape)}], expected [{string.Join(", ", expected)}]");
        float[] values = uint8
            ? [.. outputs[0].GetTensorDataAsSpan<byte>().ToArray().Select(b => (float)b)]
            : outputs[0].GetTensorDataAsSpan<float>().ToArray();
        if (!uint8 && values.Any(v => !float.IsFinite(v) || v < -1.001f || v > 1.001f))
            throw new ExportException("output values leave the [-1, 1] pixel range (or are not finite)");
        return (values.Min(), values.Max(), shape);
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
