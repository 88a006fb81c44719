using System.Globalization;
using System.Runtime.InteropServices;
using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
using Google.Protobuf;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class EvalCommandTests
{
    /// <summary>
    /// A tiny random feature network: 3x3 conv 3→6 with ReLU ("map", [N,6,H,W]) and its global average
    /// ("pooled", [N,6,1,1]).
    /// </summary>
    internal static string FeatureNet(string folder)
    {
        var rng = new Random(9);
        var graph = new GraphProto { Name = "features" };
        graph.Input.Add(Value("image", "N", 3, "H", "W"));
        var w = Enumerable.Range(0, 6 * 3 * 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var weights = new TensorProto { Name = "w", DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(w.AsSpan())) };
        weights.Dims.AddRange([6, 3, 3, 3]);
        graph.Initializer.Add(weights);
        var conv = new NodeProto { OpType = "Conv", Input = { "image", "w" }, Output = { "conv" } };
        conv.Attribute.Add(new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } });
        graph.Node.Add(conv);
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "conv" }, Output = { "map" } });
        graph.Node.Add(new NodeProto { OpType = "GlobalAveragePool", Input = { "map" }, Output = { "pooled" } });
        graph.Output.Add(Value("map", "N", 6, "H", "W"));
        graph.Output.Add(Value("pooled", "N", 6, 1, 1));
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return TestModels.Save(model.ToByteArray(), folder, "features.onnx");
    }

    private static ValueInfoProto Value(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is int v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = (string)d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }

    internal static string Folder(string root, string name, IEnumerable<(string Name, RgbaImage Image)> images)
    {
        string dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        foreach (var (n, img) in images) File.WriteAllBytes(Path.Combine(dir, n + ".png"), ImageCodec.Encode(img, ImageFormat.Png));
        return dir;
    }

    internal static RgbaImage Negative(RgbaImage img) =>
        new(img.Width, img.Height, img.Pixels.Select((v, i) => i % 4 == 3 ? v : (byte)(255 - v)).ToArray(), img.HasAlpha);

    private static async Task<(int Code, string Output, string Error)> Eval(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", CycleGanEdge.Run.Program.CreateRoot(), ["eval", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Several_models_in_one_report_with_fid_kid_paired_metrics_cycle_and_a_cached_real_set()
    {
        string root = TestFiles.TempFolder();
        var inputs = Enumerable.Range(0, 6).Select(i => ($"img{i}", TestImages.Random(32, 32, seed: i))).ToList();
        string inputDir = Folder(root, "inputs", inputs);
        string truthDir = Folder(root, "truth", inputs.Select(x => (x.Item1, Negative(x.Item2))));
        string realDir = Folder(root, "real", inputs.Select(x => (x.Item1, Negative(x.Item2)))); // the negatives are the "real" B set
        string negate = TestModels.Save(TestModels.Negate(new()), root, "negate.onnx");
        string conv = TestModels.Save(TestModels.SmallConvNet("none"), root, "convnet.onnx");
        string features = FeatureNet(root);
        string cache = Path.Combine(root, "cache"), report = Path.Combine(root, "report");
        string[] args =
        [
            "-m", negate, "-m", conv, "--input", inputDir, "--translated", inputDir, "--ground-truth", truthDir,
            "--real", realDir, "--features", features, "--layer", "map", "--image-size", "32", "--normalize", "minus1to1",
            "--batch", "4", "--kid-subsets", "10", "--model-a2b", negate, "--model-b2a", negate,
            "--cache-dir", cache, "-o", report, "--grid", "3", "--provider", "cpu", "--bootstrap", "0", // no intervals: the classic columns
        ];

        var (code, output, error) = await Eval(args);
        Assert.True(code == 0, error);
        var csv = File.ReadAllLines(Path.Combine(report, "results.csv"));
        Assert.Equal("name,images,FID,KID,KID std,PSNR dB,SSIM,L1,cycle L1", csv[0]);
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToDictionary(c => c[0]);
        Assert.Equal(["negate", "convnet", "inputs", "cycle negate → negate", "negate − inputs", "convnet − inputs"], rows.Keys);
        // negate matches the truth exactly: its paired L1 difference to the unchanged inputs is minus the inputs' L1, and no PSNR difference (infinite).
        Assert.Equal((-double.Parse(rows["inputs"][7], CultureInfo.InvariantCulture)).ToString("F4", CultureInfo.InvariantCulture), rows["negate − inputs"][7]);
        Assert.Equal("", rows["negate − inputs"][5]);

        // negate reproduces the real set and the ground truth exactly.
        Assert.Equal(0, double.Parse(rows["negate"][2], CultureInfo.InvariantCulture), 3);
        Assert.Equal(("inf", "1.0000", "0.0000"), (rows["negate"][5], rows["negate"][6], rows["negate"][7]));
        // The untranslated inputs are far from the negatives by every measure.
        // (The random 6-feature net barely tells an image from its negative: FID 0.003, but not 0.)
        Assert.True(double.Parse(rows["inputs"][2], CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(rows["convnet"][2], CultureInfo.InvariantCulture) > 0.1);
        Assert.True(double.Parse(rows["inputs"][5], CultureInfo.InvariantCulture) < 20);
        double expectedL1 = inputs.Average(x => ImageMetrics.L1(x.Item2, Negative(x.Item2)));
        Assert.Equal(expectedL1, double.Parse(rows["inputs"][7], CultureInfo.InvariantCulture), 4);
        // Negating twice gives the input back.
        Assert.Equal("0.0000", rows["cycle negate → negate"][8]);

        Assert.Contains("| negate | 6 |", output);
        string html = File.ReadAllText(Path.Combine(report, "index.html"));
        Assert.Contains("grid/c1_img2.png", html);
        Assert.Equal(3 * 5, Directory.GetFiles(Path.Combine(report, "grid")).Length); // 3 inputs x (input + 3 candidates + truth)
        Assert.Contains("grid/truth_img2.png", html);
        var sheet = ImageCodec.Decode(Path.Combine(report, "grid.png")); // the same grid as one picture: 3 rows, 5 columns
        Assert.Equal((4 + 5 * 100, 4 + 3 * 100), (sheet.Width, sheet.Height));
        Assert.Single(Directory.GetFiles(cache));

        // Second run: the real set's features come from the cache, with the same numbers.
        var (code2, _, error2) = await Eval(args);
        Assert.Equal(0, code2);
        Assert.Contains("from cache", error2);
        Assert.Equal(csv, File.ReadAllLines(Path.Combine(report, "results.csv")));
    }

    /// <summary>
    /// Issue 27: eval reads files as translate feeds a model, composited onto the model's background (white without a
    /// model), so two RGBA files that differ only in the RGB under transparent pixels score as identical, and a model
    /// trained on white-composited images translates them alike.
    /// </summary>
    [Fact]
    public async Task Raw_rgba_files_are_scored_composited_onto_the_background()
    {
        string root = TestFiles.TempFolder();
        var shapes = Enumerable.Range(0, 3).Select(i => ($"s{i}", TestImages.Shape(32, 32, seed: i))).ToList();
        string raw = Folder(root, "raw", shapes);
        string otherGarbage = Folder(root, "truth", shapes.Select(x => (x.Item1, WithGarbage(x.Item2, seed: 99))));
        string model = TestModels.Save(TestModels.SmallConvNet("instance", seed: 3, metadata: Cli.AlphaTests.CompositeOnWhite), root, "conv.onnx");

        var (code, _, error) = await Eval("--translated", raw, "--ground-truth", otherGarbage, "-o", Path.Combine(root, "r1"), "--provider", "cpu", "--bootstrap", "0");
        Assert.True(code == 0, error);
        var row = File.ReadAllLines(Path.Combine(root, "r1", "results.csv"))[1].Split(',');
        Assert.Equal(("raw", "inf", "0.0000"), (row[0], row[5], row[7]));

        // The model through eval on files with other garbage against translate's outputs for the raw files: identical,
        // because both composite the input onto white before the model.
        string fromRaw = Path.Combine(root, "from-raw");
        var translate = await Cli.CliRunner.RunAsync("translate", "-m", model, raw, "-o", fromRaw);
        Assert.True(translate.ExitCode == 0, translate.Error);
        (code, _, error) = await Eval("-m", model, "--input", otherGarbage, "--ground-truth", fromRaw, "-o", Path.Combine(root, "r2"), "--provider", "cpu", "--bootstrap", "0");
        Assert.True(code == 0, error);
        row = File.ReadAllLines(Path.Combine(root, "r2", "results.csv"))[1].Split(',');
        Assert.Equal(("conv", "inf", "0.0000"), (row[0], row[5], row[7]));
    }

    /// <summary>The image with new random RGB wherever alpha is 0.</summary>
    private static RgbaImage WithGarbage(RgbaImage image, int seed)
    {
        var rng = new Random(seed);
        var px = (byte[])image.Pixels.Clone();
        for (int i = 0; i < px.Length; i += 4)
            if (px[i + 3] == 0)
                for (int c = 0; c < 3; c++) px[i + c] = (byte)rng.Next(256);
        return new RgbaImage(image.Width, image.Height, px, image.HasAlpha);
    }

    [Fact]
    public async Task A_provider_this_build_lacks_is_a_usage_error_that_says_how_to_build_for_it()
    {
        // Exit 2, as cyclegan-train --device cuda on a CPU build; nothing is written.
        string root = TestFiles.TempFolder();
        string dir = Folder(root, "in", [("x", TestImages.Random(16, 16))]);
        string model = TestModels.Save(TestModels.Negate(new()), root, "negate.onnx");
        var (code, output, error) = await Eval("-m", model, "--input", dir, "-o", Path.Combine(root, "report"), "--provider", "cuda");
        Assert.Equal(2, code); // the user guide's exit code for a command line this build cannot serve
        Assert.StartsWith("error: The cuda provider is not in this build of cyclegan-run", error);
        Assert.Contains("dotnet build -p:Accelerator=cuda", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", output);
        Assert.False(Directory.Exists(Path.Combine(root, "report")));
    }

    [Fact]
    public async Task Feature_layer_and_usage_mistakes_are_clear_errors()
    {
        string root = TestFiles.TempFolder();
        string dir = Folder(root, "a", [("x", TestImages.Random(16, 16)), ("y", TestImages.Random(16, 16, seed: 2))]);
        File.WriteAllText(Path.Combine(dir, "broken.png"), "not a png");
        string features = FeatureNet(root);

        var (code, _, error) = await Eval("--translated", dir, "--real", dir, "--features", features, "--layer", "nope", "--image-size", "16", "-o", Path.Combine(root, "r"), "--cache-dir", Path.Combine(root, "c"));
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Failed, code); // the feature network cannot give that layer
        Assert.Contains("no output named 'nope' (outputs: map, pooled)", error);
        Assert.Contains("broken.png", error); // reported and skipped, the rest goes on
        Assert.DoesNotContain("   at ", error);

        // --real alone now means FD/KID with the default ResNet-18 (ResNet18FeatureTests); --features needs --real.
        var (code2, _, error2) = await Eval("--translated", dir, "--features", features);
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Usage, code2);
        Assert.Contains("--real", error2);

        // pooled ([N,6,1,1]) and map ([N,6,H,W] averaged) give the same features.
        using var pooled = FeatureExtractor.Open(features, "pooled", 16, FeatureNormalization.Imagenet);
        using var map = FeatureExtractor.Open(features, "map", 16, FeatureNormalization.Imagenet, batchSize: 1);
        var images = new[] { TestImages.Random(16, 16), TestImages.Random(20, 12, seed: 4) };
        var a = pooled.Extract(images);
        var b = map.Extract(images);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 6; j++) Assert.Equal(a[i][j], b[i][j], 4);
    }
}
