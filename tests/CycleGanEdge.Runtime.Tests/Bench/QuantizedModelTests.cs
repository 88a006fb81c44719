using System.Text.Json;
using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Run;
using CycleGanEdge.Runtime.Bench;
using CycleGanEdge.Runtime.Evaluation;

namespace CycleGanEdge.Runtime.Tests.Bench;

/// <summary>
/// An int8 QDQ model in the runtime: bench comparison, translate, info. Hand-built graphs (TestModels.SmallConvNet with and
/// without QDQ); the quantizer's own output in the runtime is CycleGanEdge.Exporter.Tests/InRuntime/ExportedInt8Tests.
/// </summary>
public class QuantizedModelTests
{
    /// <summary>One small convolution net as fp32 and in QDQ form with int8 weights (same seed), saved in one folder.</summary>
    private static (string Fp32, string Int8) Models()
    {
        string folder = TestFiles.TempFolder();
        return (TestModels.Save(TestModels.SmallConvNet("instance", seed: 3), folder, "g.fp32.onnx"),
            TestModels.Save(TestModels.SmallConvNet("instance", seed: 3, int8: true), folder, "g.int8.onnx"));
    }

    [Fact]
    public async Task Bench_compares_two_models_in_one_table_relative_to_the_first()
    {
        var (fp32, int8) = Models();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(),
            ["bench", "-m", fp32, "-m", int8, "--sizes", "32", "--threads", "1", "--iters", "2", "--warmup", "1", "--rounds", "2", "--no-peak"],
            output, error);
        Assert.Equal(0, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("model ", lines[0]);
        // Under the table: the CPU, and for the int8 model the kernel this CPU takes and whether its weights fit it.
        Assert.Equal($"cpu: {CycleGanEdge.Core.CpuInfo.Describe()}", lines[3].TrimEnd());
        Assert.StartsWith($"int8 (g.int8.onnx): {CycleGanEdge.Core.CpuInfo.Int8.Name}: ", lines[4]);
        Assert.Contains("vs first", lines[0]);
        Assert.Matches(@"^g\.fp32\.onnx\s+fp32\s+cpu\s+1\s+32\s+1\s.*\s1\.00x$", lines[1].TrimEnd());
        Assert.Matches(@"^g\.int8\.onnx\s+int8\s+cpu\s+1\s+32\s+1\s.*\s\d+\.\d\dx$", lines[2].TrimEnd());
        // The rounds take turns: model 1, model 2, model 1, model 2.
        var order = error.ToString().Split('\n').Where(l => l.Contains("round", StringComparison.Ordinal)).Select(l => l[..l.IndexOf(':')]).ToList();
        Assert.Equal(["g.fp32.onnx", "g.int8.onnx", "g.fp32.onnx", "g.int8.onnx"], order);
    }

    [Fact]
    public async Task Bench_compare_json_has_each_models_precision_and_ratio()
    {
        var (fp32, int8) = Models();
        var output = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(),
            ["bench", "-m", fp32, "-m", int8, "--sizes", "32", "--batch", "1,2", "--threads", "1", "--iters", "3", "--warmup", "0", "--rounds", "2", "--no-peak", "--json"],
            output, new StringWriter());
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output.ToString());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["fp32", "int8", "fp32", "int8"], results.Select(r => r.GetProperty("precision").GetString()));
        Assert.Equal([1, 1, 2, 2], results.Select(r => r.GetProperty("batch").GetInt32()));
        for (int i = 0; i < results.Count; i += 2)
        {
            var first = results[i];
            var second = results[i + 1];
            Assert.Equal(1.0, first.GetProperty("ratioToFirst").GetDouble());
            Assert.Equal(first.GetProperty("p50Ms").GetDouble() / second.GetProperty("p50Ms").GetDouble(), second.GetProperty("ratioToFirst").GetDouble(), 9);
            Assert.Equal(6, second.GetProperty("iterations").GetInt32()); // 3 per round, 2 rounds
        }
    }

    [Fact]
    public void Bench_graph_optimisation_levels_all_run_the_model()
    {
        var (fp32, int8) = Models();
        foreach (var level in new Microsoft.ML.OnnxRuntime.GraphOptimizationLevel?[] { Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, null })
        {
            var settings = new BenchSettings { Sizes = [16], Threads = [1], Iterations = 1, Warmup = 0, MeasurePeak = false, GraphOptimization = level };
            var results = ModelBenchmark.Compare([fp32, int8], settings).ToList();
            Assert.Equal(["fp32", "int8"], results.Select(r => r.Precision));
        }
    }

    [Fact]
    public async Task Translate_and_info_accept_the_int8_model_and_its_images_stay_close_to_fp32()
    {
        var (fp32, int8) = Models();
        var image = TestImages.Random(32, 32, seed: 11);
        using var a = Translator.Open(fp32, new TranslatorOptions { Provider = "cpu" });
        using var b = Translator.Open(int8, new TranslatorOptions { Provider = "cpu" });
        Assert.Equal("int8", ModelBenchmark.PrecisionOf(b.Model));
        double psnr = ImageMetrics.Psnr(a.Translate(image), b.Translate(image));
        Assert.InRange(psnr, 28, 100); // 8-bit images of a small random net with fixed activation ranges; measured ~50 dB

        var output = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(), ["info", "-m", int8], output, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("cyclegan.quantization = int8-qdq", output.ToString());
        Assert.Contains($"cyclegan.calibration = {TestModels.FixedRanges}", output.ToString());
    }
}
