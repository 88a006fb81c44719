using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Bench;
using CycleGanEdge.Runtime.Tests;
using CycleGanEdge.Torch.Networks;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Exporter.Tests.InRuntime;

/// <summary>
/// The quantizer's int8 QDQ export of a tiny generator in the runtime's translator and bench. The runtime's command
/// line on int8 models (bench comparison, info) is tested on hand-built graphs in CycleGanEdge.Runtime.Tests.
/// </summary>
public class ExportedInt8Tests
{
    /// <summary>A tiny resnet_6blocks (ngf 8) at 32 px as fp32 and as int8 calibrated on generated images, saved in one folder.</summary>
    private static (string Fp32, string Int8) Models()
    {
        TorchSharp.torch.random.manual_seed(3);
        var options = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 8 };
        using var generator = NetworkFactory.CreateGenerator(options);
        byte[] fp32 = OnnxExport.ToBytes(generator, options, new ExportOptions(), new ModelIdentity { TrainSize = 32 });
        var inputs = Enumerable.Range(0, 4)
            .Select(i => CalibrationSet.ToInput($"{i}", TestImages.Random(32, 32, seed: i), trainSize: 32, multiple: 4, channels: 3, uint8: false, ImagePreprocessing.Unrecorded))
            .ToList();
        var (int8, _) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax });
        string folder = ExportedModels.Folder();
        return (ExportedModels.Save(fp32, folder, "g.fp32.onnx"), ExportedModels.Save(int8, folder, "g.int8.onnx"));
    }

    [Fact]
    public void Bench_graph_optimisation_levels_all_run_the_model()
    {
        var (fp32, int8) = Models();
        foreach (var level in new GraphOptimizationLevel?[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_EXTENDED, null })
        {
            var settings = new BenchSettings { Sizes = [16], Threads = [1], Iterations = 1, Warmup = 0, MeasurePeak = false, GraphOptimization = level };
            var results = ModelBenchmark.Compare([fp32, int8], settings).ToList();
            Assert.Equal(["fp32", "int8"], results.Select(r => r.Precision));
        }
    }

    [Fact]
    public void The_translator_accepts_the_int8_model_and_its_images_stay_close_to_fp32()
    {
        var (fp32, int8) = Models();
        var image = TestImages.Random(32, 32, seed: 11);
        using var a = Translator.Open(fp32, new TranslatorOptions { Provider = "cpu" });
        using var b = Translator.Open(int8, new TranslatorOptions { Provider = "cpu" });
        Assert.Equal("int8", ModelBenchmark.PrecisionOf(b.Model));
        Assert.Equal("minmax on 4 images, first and last convolution float", b.Model.Metadata[CycleGanEdge.Core.ModelContract.CalibrationKey]);
        double psnr = ImageMetrics.Psnr(a.Translate(image), b.Translate(image));
        Assert.InRange(psnr, 28, 100); // 8-bit images of a random ngf-8 net; measured ~36 dB
    }
}
