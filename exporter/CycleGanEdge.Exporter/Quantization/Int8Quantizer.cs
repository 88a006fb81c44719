using System.Globalization;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter.Quantization;

public sealed record QuantizeOptions
{
    public CalibrationMethod Method { get; init; } = CalibrationMethod.Percentile;
    /// <summary>
    /// For <see cref="CalibrationMethod.Percentile"/>: keep the values from the (100 − p)th to the pth percentile. Chosen by
    /// measurement on the shipped generators (docs/performance.md): 99.99 clipped enough to cost single images 29-33 dB
    /// against fp32; much wider ranges cost resolution on every image.
    /// </summary>
    public double Percentile { get; init; } = 99.9985;
    /// <summary>
    /// Leave the first and the last convolution in float32 (see <see cref="QdqRewriter.QuantizableNodes"/>). On by default:
    /// on trained generators it moved int8 from 31-35 dB to 42-45 dB of fp32 and kept the task scores within 1.3 points,
    /// for 0-18% of the speed-up (benchmarks/RESULTS.md).
    /// </summary>
    public bool FloatEnds { get; init; } = true;
    /// <summary>
    /// Bits of the int8 weights: 7 (default, codes -63..63) or 8 (-127..127). x86 CPUs without VNNI add pairs of
    /// uint8 x int8 products in 16 bits (VPMADDUBSW), which 8-bit weights overflow and 7-bit weights cannot
    /// (<see cref="CpuInfo.Int8"/>); on trained generators 7 bits cost no speed and 0.1-0.7 dB on VNNI CPUs (docs/performance.md).
    /// </summary>
    public int WeightBits { get; init; } = 7;

    public string Describe(int images) => string.Create(CultureInfo.InvariantCulture,
        $"{(Method == CalibrationMethod.MinMax ? "minmax" : $"percentile {Percentile:G}")} on {images} image{(images == 1 ? "" : "s")}{(FloatEnds ? ", first and last convolution float" : "")}");
}

/// <summary>What quantization did: how much was quantized, what ONNX Runtime made of it, and how close the output stays.</summary>
public sealed record QuantizeReport(
    int Images, string Calibration, int QuantizedConvolutions, IReadOnlyDictionary<string, int> OptimizedOps, double MeanPsnr, double WorstPsnr)
{
    /// <summary>Convolutions ONNX Runtime's CPU provider runs with int8 kernels (QLinearConv, in whatever layout it picks).</summary>
    public int IntegerConvolutions => OptimizedOps.Where(p => p.Key.Contains("QLinearConv", StringComparison.Ordinal)).Sum(p => p.Value);

    public IEnumerable<string> Lines()
    {
        var inv = CultureInfo.InvariantCulture;
        yield return $"calibrated {Calibration}";
        var floatConvs = OptimizedOps.Where(p => p.Key.EndsWith("Conv", StringComparison.Ordinal) && !p.Key.Contains("QLinear", StringComparison.Ordinal)
            || p.Key.EndsWith("ConvTranspose", StringComparison.Ordinal)).Sum(p => p.Value);
        yield return string.Create(inv, $"quantized {QuantizedConvolutions} convolutions; ONNX Runtime (cpu) runs {IntegerConvolutions} as int8 QLinearConv, {floatConvs} in float " +
            $"(optimised graph: {string.Join(", ", OptimizedOps.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))})");
        yield return string.Create(inv, $"int8 vs fp32 output on the {Images} calibration images: PSNR mean {MeanPsnr:F1} dB, worst {WorstPsnr:F1} dB");
    }
}

/// <summary>
/// Static int8 quantization of an exported float32 generator: calibrate activation ranges on sample images with
/// ONNX Runtime, rewrite the graph as QDQ (<see cref="QdqRewriter"/>), record it in the metadata, and check what
/// ONNX Runtime fuses and how far the output moves.
/// </summary>
public static class Int8Quantizer
{
    public static (byte[] Model, QuantizeReport Report) Quantize(byte[] fp32, IReadOnlyList<ModelInput> calibration, QuantizeOptions options)
    {
        var model = ModelProto.Parser.ParseFrom(fp32);
        var meta = model.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        if (meta.ContainsKey(ModelContract.QuantizationKey))
            throw new ExportException($"already quantized ({ModelContract.QuantizationKey} = {meta[ModelContract.QuantizationKey]}); quantize the float32 model");
        if (meta.GetValueOrDefault(ModelContract.PrecisionKey) != "fp32")
            throw new ExportException($"int8 quantization needs a float32 model, this one is {ModelContract.PrecisionKey} = {meta.GetValueOrDefault(ModelContract.PrecisionKey, "(missing)")}");
        if (calibration.Count == 0) throw new ArgumentException("no calibration inputs", nameof(calibration));

        var activations = QdqRewriter.ActivationsToCalibrate(model.Graph, options.FloatEnds);
        int convolutions = QdqRewriter.QuantizableNodes(model.Graph, options.FloatEnds).Count();
        if (convolutions == 0)
            throw new ExportException("the graph has no convolution with constant float32 weights to quantize" + (options.FloatEnds ? " besides the first and the last (--float-ends)" : ""));
        var ranges = Calibrate(fp32, activations, calibration, options);

        QdqRewriter.Apply(model.Graph, ranges, options.FloatEnds, options.WeightBits);
        string description = options.Describe(calibration.Count);
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelContract.QuantizationKey, Value = ModelContract.QuantizationInt8Qdq });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelContract.CalibrationKey, Value = description });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelContract.WeightBitsKey, Value = options.WeightBits.ToString(CultureInfo.InvariantCulture) });
        model.DocString += $"; int8 QDQ convolutions (uint8 activations calibrated by {description}, {options.WeightBits}-bit per-channel weights)";
        byte[] int8 = model.ToByteArray();

        var (mean, worst) = OutputPsnr(fp32, int8, calibration);
        return (int8, new QuantizeReport(calibration.Count, description, convolutions, OptimizedOpCounts(int8), mean, worst));
    }

    /// <summary>Runs the float model on every input with the named activations as extra outputs and returns each one's range.</summary>
    public static Dictionary<string, ValueRange> Calibrate(byte[] fp32, IReadOnlyList<string> activations, IReadOnlyList<ModelInput> inputs, QuantizeOptions options)
    {
        var model = ModelProto.Parser.ParseFrom(fp32);
        var outputs = model.Graph.Output.Select(o => o.Name).ToHashSet();
        foreach (string name in activations.Where(a => !outputs.Contains(a)))
            model.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } },
            });
        using var session = SessionFactory.CreateInMemory(model.ToByteArray(), "the model being calibrated");
        var collectors = activations.ToDictionary(a => a, _ => new RangeCollector());
        int passes = options.Method == CalibrationMethod.Percentile ? 2 : 1;
        using var runOptions = new RunOptions();
        string[] names = [.. activations];
        for (int pass = 0; pass < passes; pass++)
            foreach (var input in inputs)
            {
                using var value = input.ToOrtValue();
                using var results = session.Run(runOptions, [ModelContract.InputName], [value], names);
                for (int i = 0; i < names.Length; i++)
                {
                    var values = results[i].GetTensorDataAsSpan<float>();
                    if (pass == 0) collectors[names[i]].ObserveRange(values);
                    else collectors[names[i]].ObserveHistogram(values);
                }
            }
        return collectors.ToDictionary(p => p.Key, p => p.Value.Range(options.Method, options.Percentile));
    }

    /// <summary>Per-image PSNR of the int8 model's output against the float model's, over the output's full range (2 for [-1, 1], 255 for uint8).</summary>
    public static (double Mean, double Worst) OutputPsnr(byte[] fp32, byte[] int8, IReadOnlyList<ModelInput> inputs, SessionOptions? options = null)
    {
        using var reference = SessionFactory.CreateInMemory(fp32, "the float32 model", options);
        using var quantized = SessionFactory.CreateInMemory(int8, "the int8 model", options);
        using var runOptions = new RunOptions();
        var psnrs = new List<double>();
        foreach (var input in inputs)
        {
            using var value = input.ToOrtValue();
            using var a = reference.Run(runOptions, [ModelContract.InputName], [value], [ModelContract.OutputName]);
            using var b = quantized.Run(runOptions, [ModelContract.InputName], [value], [ModelContract.OutputName]);
            double sum = 0, peak;
            long n;
            if (input.Floats is not null)
            {
                var x = a[0].GetTensorDataAsSpan<float>();
                var y = b[0].GetTensorDataAsSpan<float>();
                for (int i = 0; i < x.Length; i++) sum += (double)(x[i] - y[i]) * (x[i] - y[i]);
                (n, peak) = (x.Length, 2.0);
            }
            else
            {
                var x = a[0].GetTensorDataAsSpan<byte>();
                var y = b[0].GetTensorDataAsSpan<byte>();
                for (int i = 0; i < x.Length; i++) sum += (x[i] - y[i]) * (x[i] - y[i]);
                (n, peak) = (x.Length, 255.0);
            }
            psnrs.Add(Psnr(sum / n, peak));
        }
        return (psnrs.Average(), psnrs.Min());
    }

    public static double Psnr(double mse, double peak) => mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(peak * peak / mse);

    /// <summary>Operator counts of the graph ONNX Runtime's CPU provider actually runs (all optimisations, as cyclegan-run).</summary>
    public static IReadOnlyDictionary<string, int> OptimizedOpCounts(byte[] model)
    {
        string path = Path.Combine(Path.GetTempPath(), $"cyclegan-export-optimized-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            // Error-level logging: saving an NCHWc-optimised graph warns that it is machine-specific, which is the point here.
            using (var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                OptimizedModelFilePath = path,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            })
            using (SessionFactory.CreateInMemory(model, "the model being optimised", options)) { }
            var optimized = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            return optimized.Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
