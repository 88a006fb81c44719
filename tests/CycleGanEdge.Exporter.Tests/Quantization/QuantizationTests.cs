using CycleGanEdge.Core;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Export;
using CycleGanEdge.Torch.Networks;
using System.CommandLine;
using Xunit.Abstractions;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter.Tests.Quantization;

public class RangeCollectorTests
{
    [Fact]
    public void Minmax_is_the_smallest_and_largest_value_over_every_batch()
    {
        var collector = new RangeCollector();
        collector.ObserveRange([0.5f, -0.25f, 3f]);
        collector.ObserveRange([-7.5f, 1f]);
        Assert.Equal(new ValueRange(-7.5f, 3f), collector.MinMaxRange());
    }

    [Fact]
    public void Percentile_clips_rare_outliers_that_minmax_keeps()
    {
        // 100,000 values evenly in [-1, 1] plus one value at 40 and one at -30.
        var values = Enumerable.Range(0, 100_000).Select(i => i / 49_999.5f - 1f).Append(40f).Append(-30f).ToArray();
        var collector = new RangeCollector();
        collector.ObserveRange(values.AsSpan(0, 60_000));
        collector.ObserveRange(values.AsSpan(60_000));
        collector.ObserveHistogram(values.AsSpan(0, 60_000));
        collector.ObserveHistogram(values.AsSpan(60_000));

        Assert.Equal(new ValueRange(-30f, 40f), collector.MinMaxRange());
        var clipped = collector.PercentileRange(99.99); // drops 10 values at each end: the outlier and 9 of the evenly spread
        float bin = 70f / RangeCollector.Bins;
        Assert.InRange(clipped.Max, 1f - 10 * 2f / 100_000 - bin, 1f + bin);
        Assert.InRange(clipped.Min, -1f - bin, -1f + 10 * 2f / 100_000 + bin);
        var all = collector.PercentileRange(100);
        Assert.Equal(new ValueRange(-30f, 40f), all);
    }

    [Fact]
    public void Activation_parameters_cover_the_range_and_zero_exactly()
    {
        var q = ActivationQuant.For(new ValueRange(-1f, 3f));
        Assert.Equal(4f / 255, q.Scale, 6);
        Assert.Equal(64, q.ZeroPoint); // round(1 / (4/255)) = round(63.75)
        var positive = ActivationQuant.For(new ValueRange(0.5f, 2f)); // widened to [0, 2]
        Assert.Equal(0, positive.ZeroPoint);
        Assert.Equal(2f / 255, positive.Scale, 6);
    }
}

/// <summary>Int8 QDQ quantization of tiny exported generators (ngf 8, 32 px), calibrated on generated images.</summary>
public sealed class QuantizationTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = TempFolder.New("cyclegan-quantize");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] ExportTiny(string arch = "resnet_6blocks", string io = ModelContract.IoFloat32Nchw,
        string upsample = NetworkFactory.ConvTransposeUpsampling)
    {
        var options = TinyGenerators.Options(arch, upsample: upsample);
        using var generator = TinyGenerators.Create(options);
        return OnnxExport.ToBytes(generator, options, new ExportOptions { Io = io }, new ModelIdentity { TrainSize = 32 });
    }

    /// <summary>Smooth colour gradients with a red square: picture-like, unlike white noise. Pixel values span [lo, hi].</summary>
    private static RgbaImage Picture(int seed, int side = 32, byte lo = 0, byte hi = 255)
    {
        var rng = new Random(seed);
        var pixels = new byte[side * side * 4];
        double fx = rng.NextDouble() * 0.3, fy = rng.NextDouble() * 0.3, phase = rng.NextDouble() * 6;
        int sq = rng.Next(side / 2);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                int i = (y * side + x) * 4;
                for (int c = 0; c < 3; c++)
                {
                    double v = 0.5 + 0.5 * Math.Sin(fx * x * (c + 1) + fy * y + phase + c);
                    if (x >= sq && x < sq + 8 && y >= sq && y < sq + 8) v = 1 - 0.5 * c; // reaches both ends of [lo, hi] exactly
                    pixels[i + c] = (byte)Math.Round(lo + v * (hi - lo));
                }
                pixels[i + 3] = 255;
            }
        return new RgbaImage(side, side, pixels, hasAlpha: false);
    }

    private string CalibrationFolder(int count, byte lo = 0, byte hi = 255)
    {
        string folder = Path.Combine(_dir, "calibration");
        Directory.CreateDirectory(folder);
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(folder, $"img{i:D2}.png"), ImageCodec.Encode(Picture(i, lo: lo, hi: hi), ImageFormat.Png));
        return folder;
    }

    private static IReadOnlyDictionary<string, string> Metadata(byte[] model) =>
        ModelProto.Parser.ParseFrom(model).MetadataProps.ToDictionary(e => e.Key, e => e.Value);

    [Fact]
    public void Quantized_graph_is_QDQ_keeps_the_contract_fuses_to_QLinearConv_and_stays_close_to_fp32()
    {
        byte[] fp32 = ExportTiny();
        var inputs = CalibrationSet.Load(CalibrationFolder(6), Metadata(fp32), TextWriter.Null);
        var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { FloatEnds = false });
        foreach (string line in report.Lines()) log.WriteLine(line);

        var model = ModelProto.Parser.ParseFrom(int8);
        var graph = model.Graph;
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var convs = graph.Node.Where(n => n.OpType is "Conv" or "ConvTranspose").ToList();
        Assert.Equal(18, convs.Count); // c7s1, 2 downs, 6 blocks x 2, 2 ups (transposed), c7s1
        foreach (var conv in convs)
        {
            // Input, weight and bias each come from a DequantizeLinear; the weight's from int8 per-channel values.
            Assert.All(conv.Input, i => Assert.Equal("DequantizeLinear", producers[i].OpType));
            var weightDq = producers[conv.Input[1]];
            Assert.Equal((int)DataType.Int8, initializers[weightDq.Input[0]].DataType);
            int outChannels = (int)initializers[weightDq.Input[0]].Dims[conv.OpType == "Conv" ? 0 : 1];
            Assert.Equal([outChannels], initializers[weightDq.Input[1]].Dims);
            Assert.Equal((int)DataType.Int32, initializers[producers[conv.Input[2]].Input[0]].DataType);
            // The output is quantized and dequantized before anything else reads it.
            var consumers = graph.Node.Where(n => n.Input.Contains(conv.Output[0])).ToList();
            Assert.Equal("QuantizeLinear", Assert.Single(consumers).OpType);
        }
        // Instance norm and tanh stay float, reading dequantized convolution outputs.
        Assert.All(graph.Node.Where(n => n.OpType is "InstanceNormalization" or "Tanh"), n => Assert.Equal("DequantizeLinear", producers[n.Input[0]].OpType));
        Assert.DoesNotContain(graph.Initializer, t => t.DataType == (int)DataType.Float && t.Dims.Count == 4); // no float conv weights left

        Assert.Empty(ModelCheck.ContractProblems(model));
        var meta = Metadata(int8);
        Assert.Equal("int8-qdq", meta[ModelContract.QuantizationKey]);
        Assert.Equal("percentile 99.9985 on 6 images", meta[ModelContract.CalibrationKey]);
        Assert.Equal("7", meta[ModelContract.WeightBitsKey]);
        Assert.Equal("fp32", meta[ModelContract.PrecisionKey]);
        using (var session = new InferenceSession(int8))
            Assert.Equal(ModelContract.IoFloat32Nchw, ModelInfo.FromSession(session, "int8.onnx", int8).Io);

        // ONNX Runtime's CPU provider runs every Conv (not the two ConvTransposes: it has no int8 kernel) as QLinearConv.
        Assert.Equal(18, report.QuantizedConvolutions);
        Assert.Equal(16, report.IntegerConvolutions);
        Assert.Equal(2, report.OptimizedOps["ConvTranspose"]);
        Assert.False(report.OptimizedOps.ContainsKey("Conv"));

        // Measured on this seeded model: mean 34.7 dB, worst 34.1 dB, the same on AVX-512 VNNI and under an emulated AVX2 CPU
        // (7-bit weights keep the integer sums exact on both kernels; 8-bit weights gave 21.5 dB on AVX2). Below 30 the
        // quantization is broken, not just noisy.
        Assert.Equal(6, report.Images);
        Assert.InRange(report.WorstPsnr, 30, 80);
        Assert.InRange(report.MeanPsnr, report.WorstPsnr, 80);
    }

    /// <summary>A U-Net's first convolution reads the graph input itself (no pad before it); the encoder-decoder has 4x4 kernels.</summary>
    [Theory]
    [InlineData("unet_128")]
    [InlineData("encoder_decoder")]
    public void Other_generators_quantize_with_every_Conv_fused(string arch)
    {
        byte[] fp32 = ExportTiny(arch);
        var inputs = CalibrationSet.Load(CalibrationFolder(2), Metadata(fp32), TextWriter.Null);
        var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax, FloatEnds = false });
        foreach (string line in report.Lines()) log.WriteLine(line);
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(int8)));
        int convs = ModelProto.Parser.ParseFrom(fp32).Graph.Node.Count(n => n.OpType == "Conv");
        Assert.Equal(convs, report.IntegerConvolutions);
        Assert.InRange(report.WorstPsnr, 30, 100); // measured 36.9 (encoder_decoder) and 40.8 dB (unet_128)
    }

    /// <summary>A resize-conv generator has no ConvTranspose: every convolution, upsampling ones included, runs as int8.</summary>
    [Fact]
    public void Resize_conv_generator_runs_every_convolution_as_int8()
    {
        byte[] fp32 = ExportTiny(upsample: NetworkFactory.ResizeUpsampling);
        var inputs = CalibrationSet.Load(CalibrationFolder(4), Metadata(fp32), TextWriter.Null);
        var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { FloatEnds = false });
        foreach (string line in report.Lines()) log.WriteLine(line);
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(int8)));
        Assert.Equal(18, report.QuantizedConvolutions);
        Assert.Equal(18, report.IntegerConvolutions);
        Assert.False(report.OptimizedOps.ContainsKey("ConvTranspose"));
        Assert.Equal(2, report.OptimizedOps["Resize"]);
        Assert.InRange(report.WorstPsnr, 30, 100);
    }

    /// <summary>--float-ends (the default): the first and the last convolution stay float32; the rest is int8.</summary>
    [Fact]
    public void Float_ends_leave_the_first_and_last_convolution_in_float_and_the_rest_in_int8()
    {
        byte[] fp32 = ExportTiny(upsample: NetworkFactory.ResizeUpsampling);
        var inputs = CalibrationSet.Load(CalibrationFolder(4), Metadata(fp32), TextWriter.Null);
        Assert.True(new QuantizeOptions().FloatEnds); // the default
        var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions());
        foreach (string line in report.Lines()) log.WriteLine(line);

        var model = ModelProto.Parser.ParseFrom(int8);
        Assert.Empty(ModelCheck.ContractProblems(model));
        var graph = model.Graph;
        var floats = graph.Initializer.Where(t => t.DataType == (int)DataType.Float).ToDictionary(t => t.Name);
        var convs = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(18, convs.Count);
        // Graph order: the first reads the (padded) image, the last writes what tanh reads. Their weights stay float.
        Assert.True(floats.ContainsKey(convs[0].Input[1]));
        Assert.True(floats.ContainsKey(convs[^1].Input[1]));
        Assert.All(convs.Skip(1).SkipLast(1), c => Assert.False(floats.ContainsKey(c.Input[1])));
        Assert.Equal("Tanh", Assert.Single(graph.Node, n => n.Input.Contains(convs[^1].Output[0])).OpType);

        Assert.Equal(16, report.QuantizedConvolutions);
        Assert.Equal(16, report.IntegerConvolutions);
        Assert.Equal(2, report.OptimizedOps.Where(p => p.Key.EndsWith("Conv", StringComparison.Ordinal) && !p.Key.Contains("QLinear")).Sum(p => p.Value));
        Assert.EndsWith(", first and last convolution float", Metadata(int8)[ModelContract.CalibrationKey]);
        Assert.InRange(report.WorstPsnr, 30, 100);
    }

    [Fact]
    public void Minmax_calibration_of_the_first_convolution_input_is_the_true_pixel_range()
    {
        // The first conv reads the reflect-padded input, whose extremes are the images' own: pixels in [30, 200]
        // map to [30/127.5 - 1, 200/127.5 - 1]. The images span exactly that range (the bright square reaches 200).
        byte[] fp32 = ExportTiny();
        var inputs = CalibrationSet.Load(CalibrationFolder(4, lo: 30, hi: 200), Metadata(fp32), TextWriter.Null);
        var graph = ModelProto.Parser.ParseFrom(fp32).Graph;
        string firstConvInput = QdqRewriter.QuantizableNodes(graph).First().Input[0];
        float min = inputs.Min(i => i.Floats!.Min()), max = inputs.Max(i => i.Floats!.Max());
        Assert.Equal(30 / 127.5f - 1, min, 6);
        Assert.Equal(200 / 127.5f - 1, max, 6);

        var ranges = Int8Quantizer.Calibrate(fp32, [firstConvInput], inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax });
        Assert.Equal(new ValueRange(min, max), ranges[firstConvInput]);
    }

    [Fact]
    public void Percentile_calibration_ignores_one_outlier_pixel_that_minmax_follows()
    {
        byte[] fp32 = ExportTiny();
        string folder = CalibrationFolder(3, lo: 60, hi: 190);
        var outlier = Picture(99, lo: 60, hi: 190);
        outlier.Pixels[0] = 255; // one red value far above the rest
        File.WriteAllBytes(Path.Combine(folder, "outlier.png"), ImageCodec.Encode(outlier, ImageFormat.Png));
        var inputs = CalibrationSet.Load(folder, Metadata(fp32), TextWriter.Null);
        string firstConvInput = QdqRewriter.QuantizableNodes(ModelProto.Parser.ParseFrom(fp32).Graph).First().Input[0];

        var minmax = Int8Quantizer.Calibrate(fp32, [firstConvInput], inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax })[firstConvInput];
        var percentile = Int8Quantizer.Calibrate(fp32, [firstConvInput], inputs, new QuantizeOptions { Method = CalibrationMethod.Percentile, Percentile = 99.9 })[firstConvInput];
        Assert.Equal(1f, minmax.Max, 6);
        Assert.InRange(percentile.Max, 0.4f, 190 / 127.5f - 1 + 0.01f);
        Assert.InRange(percentile.Min, minmax.Min - 1e-6f, minmax.Min + 0.05f);
    }

    [Fact]
    public void A_uint8_io_model_quantizes_too()
    {
        byte[] fp32 = ExportTiny(io: ModelContract.IoUint8Nhwc);
        var inputs = CalibrationSet.Load(CalibrationFolder(3), Metadata(fp32), TextWriter.Null);
        Assert.All(inputs, i => Assert.Equal([1, 32, 32, 3], i.Shape));
        var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax, FloatEnds = false });
        foreach (string line in report.Lines()) log.WriteLine(line);
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(int8)));
        Assert.Equal(16, report.IntegerConvolutions);
        Assert.InRange(report.WorstPsnr, 30, 80); // of 8-bit levels; measured 34.3 dB
    }

    [Fact]
    public void A_model_that_is_already_quantized_or_fp16_is_refused()
    {
        byte[] fp32 = ExportTiny();
        var inputs = CalibrationSet.Load(CalibrationFolder(2), Metadata(fp32), TextWriter.Null);
        var (int8, _) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { Method = CalibrationMethod.MinMax });
        var again = Assert.Throws<ExportException>(() => Int8Quantizer.Quantize(int8, inputs, new QuantizeOptions()));
        Assert.Contains("already quantized", again.Message);

        var options = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(options);
        byte[] fp16 = OnnxExport.ToBytes(generator, options, new ExportOptions { Fp16 = true }, new ModelIdentity());
        Assert.Contains("needs a float32 model", Assert.Throws<ExportException>(() => Int8Quantizer.Quantize(fp16, inputs, new QuantizeOptions())).Message);
    }

    // --- the command line ---

    private sealed record Result(int ExitCode, string Out, string Err);

    private static async Task<Result> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await ExportCommand.RunAsync(args, output, error);
        return new Result(code, output.ToString(), error.ToString());
    }

    private string SaveFp32()
    {
        string path = Path.Combine(_dir, "g.onnx");
        File.WriteAllBytes(path, ExportTiny());
        return path;
    }

    [Fact]
    public async Task Cli_quantizes_an_existing_fp32_onnx_and_the_result_passes_check()
    {
        string model = SaveFp32();
        string output = Path.Combine(_dir, "g.int8.onnx");
        var result = await Run("quantize", model, "--calibration", CalibrationFolder(3), "--calibration-method", "minmax", "-o", output);
        Assert.Equal("", result.Err);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("calibrated minmax on 3 images, first and last convolution float", result.Out);
        Assert.Contains("runs 14 as int8 QLinearConv, 4 in float", result.Out); // the two ends and the two ConvTransposes
        Assert.Contains("int8 vs fp32 output on the 3 calibration images: PSNR mean", result.Out);
        Assert.Contains($"wrote {output}: int8 QDQ of {model}", result.Out);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));

        var check = await Run("check", output);
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("float32-nchw, fp32", check.Out);
    }

    [Fact]
    public async Task Cli_exports_and_quantizes_a_checkpoint_in_one_step()
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        string checkpoint = Path.Combine(_dir, "latest_net_G_A.ckpt");
        using (var generator = TinyGenerators.Create(arch))
            CycleGanEdge.Torch.Checkpoints.CheckpointFile.SaveModule(checkpoint, new CycleGanEdge.Torch.Checkpoints.CheckpointHeader
            {
                Kind = CycleGanEdge.Torch.Checkpoints.CheckpointKinds.Generator, Generator = arch, Direction = "AtoB", DomainIn = "noto", DomainOut = "twemoji", TrainSize = 32,
            }, generator);
        string output = Path.Combine(_dir, "g.int8.onnx");
        var result = await Run("export", checkpoint, "--quantize", "int8", "--calibration", CalibrationFolder(2), "--percentile", "99.9", "--float-ends", "false", "-o", output);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("parity ", result.Out); // the float export is checked against TorchSharp first
        Assert.Contains("calibrated percentile 99.9 on 2 images\n", result.Out.ReplaceLineEndings("\n")); // --float-ends false: every convolution
        Assert.Contains("runs 16 as int8 QLinearConv, 2 in float", result.Out);
        Assert.Contains($"wrote {output}: resnet_6blocks AtoB (noto -> twemoji), opset 17, int8 QDQ, float32-nchw", result.Out);
        var meta = Metadata(File.ReadAllBytes(output));
        Assert.Equal("int8-qdq", meta[ModelContract.QuantizationKey]);
        Assert.Equal("twemoji", meta[ModelContract.DomainOutKey]);
    }

    [Fact]
    public async Task Cli_bad_calibration_folders_are_one_error_line_naming_the_folder()
    {
        string model = SaveFp32();
        string output = Path.Combine(_dir, "x.onnx");

        string missing = Path.Combine(_dir, "no-such-folder");
        AssertError(await Run("quantize", model, "--calibration", missing, "-o", output), 2, $"error: {missing}: folder not found");

        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        AssertError(await Run("quantize", model, "--calibration", empty, "-o", output), 1, $"error: {empty}: no images to calibrate on");

        string notes = Directory.CreateDirectory(Path.Combine(_dir, "notes")).FullName;
        File.WriteAllText(Path.Combine(notes, "readme.txt"), "not an image");
        AssertError(await Run("quantize", model, "--calibration", notes, "-o", output), 1, $"error: {notes}: no images to calibrate on");

        string broken = Directory.CreateDirectory(Path.Combine(_dir, "broken")).FullName;
        File.WriteAllBytes(Path.Combine(broken, "a.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var result = await Run("quantize", model, "--calibration", broken, "-o", output);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"warning: {Path.Combine(broken, "a.png")}:", result.Err); // the file that failed, then the folder
        Assert.Contains($"error: {broken}: none of its images could be read", result.Err);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Cli_a_damaged_source_model_is_one_error_line_naming_it()
    {
        string model = SaveFp32();
        string truncated = Path.Combine(_dir, "truncated.onnx");
        byte[] bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        AssertError(await Run("quantize", truncated, "--calibration", CalibrationFolder(2), "-o", Path.Combine(_dir, "x.onnx")),
            1, $"error: {truncated}: not an ONNX model (damaged or truncated");
    }

    private void AssertError(Result result, int code, string startsWith)
    {
        Assert.Equal(code, result.ExitCode);
        string line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(startsWith, line);
        Assert.False(File.Exists(Path.Combine(_dir, "x.onnx")));
    }

    [Fact]
    public async Task Cli_option_mistakes_are_usage_errors()
    {
        string model = SaveFp32();
        string folder = CalibrationFolder(1);
        string output = Path.Combine(_dir, "x.onnx");
        Assert.Equal(2, (await Run("export", model, "-o", output)).ExitCode); // an .onnx to export: the quantize or check command is meant
        Assert.Contains("--calibration", (await Run("quantize", model, "-o", output)).Err);
        Assert.Equal(2, (await Run("export", model, "--calibration", folder, "-o", output)).ExitCode);
        Assert.Equal(2, (await Run("quantize", model, "--calibration", folder, "--calibration-method", "kmeans", "-o", output)).ExitCode);
        Assert.Equal(2, (await Run("quantize", model, "--calibration", folder, "--calibration-method", "minmax", "--percentile", "99", "-o", output)).ExitCode);
        Assert.Equal(2, (await Run("quantize", model, "--calibration", folder, "--percentile", "40", "-o", output)).ExitCode);
        Assert.Equal(2, (await Run("quantize", model, "--calibration", folder, "--fp16", "-o", output)).ExitCode);
        Assert.Equal(2, (await Run("quantize", model, "--calibration", folder, "--opset", "13", "-o", output)).ExitCode);
        Assert.False(File.Exists(output));
    }
}
