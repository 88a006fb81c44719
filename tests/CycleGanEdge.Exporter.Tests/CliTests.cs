using CycleGanEdge.Core;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Export;
using System.CommandLine;
using System.Security.Cryptography;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Runtime;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CycleGanEdge.Exporter.Tests;

/// <summary>cyclegan-export through its command's Parse(...).InvokeAsync with output captured.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = TempFolder.New("cyclegan-export-cli");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathIn(string name) => Path.Combine(_dir, name);

    private sealed record Result(int ExitCode, string Out, string Err);

    private static async Task<Result> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await ExportCommand.RunAsync(args, output, error);
        return new Result(code, output.ToString(), error.ToString());
    }

    private static void AssertOneErrorLine(Result result, int exitCode, string startsWith)
    {
        Assert.Equal(exitCode, result.ExitCode);
        string line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(startsWith, line);
        Assert.DoesNotContain("   at ", result.Err);
    }

    private string SaveCheckpoint(string name, string norm = "instance", string? model = null, ImagePreprocessing? preprocessing = null)
    {
        var arch = TinyGenerators.Options("resnet_6blocks", norm);
        using var generator = TinyGenerators.Create(arch);
        string path = PathIn(name);
        var extra = model is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["model"] = model };
        if (preprocessing is not null) TrainingPreprocessing.AddTo(extra, preprocessing);
        CheckpointFile.SaveModule(path, new CheckpointHeader
        {
            Kind = CheckpointKinds.Generator, Generator = arch, Direction = "AtoB", DomainIn = "noto", DomainOut = "twemoji", TrainSize = 32,
            Extra = extra,
        }, generator);
        return path;
    }

    private static IReadOnlyDictionary<string, string> Metadata(string onnx)
    {
        using var session = new InferenceSession(onnx);
        return new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap);
    }

    [Fact]
    public async Task TheTrainersPreprocessingRecordReachesTheMetadataAndAnOldCheckpointGetsNone()
    {
        string recorded = PathIn("recorded.onnx");
        var result = await Run("export", SaveCheckpoint("r.ckpt", preprocessing: ImagePreprocessing.CompositeOnWhite("resize_and_crop", 40)), "-o", recorded);
        Assert.True(result.ExitCode == 0, result.Err);
        var meta = Metadata(recorded);
        Assert.Equal(("composite", "#ffffff", "srgb", "resize_and_crop", "40"),
            (meta[ModelContract.AlphaKey], meta[ModelContract.BackgroundKey], meta[ModelContract.ColorSpaceKey], meta[ModelContract.TrainPreprocessKey], meta[ModelContract.LoadSizeKey]));
        using (var t = Translator.Open(recorded, new TranslatorOptions { Provider = "cpu" }))
            Assert.True(t.Model.Preprocessing.Composites);

        string old = PathIn("old.onnx");
        result = await Run("export", SaveCheckpoint("old.ckpt"), "-o", old);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("does not record how training treated transparency", result.Out);
        Assert.DoesNotContain(ModelContract.AlphaKey, Metadata(old).Keys);
        Assert.Equal(0, (await Run("check", old)).ExitCode);
    }

    [Fact]
    public async Task StampAppendsThePreprocessingKeysAndLeavesEveryOtherByteAlone()
    {
        string old = PathIn("old.onnx");
        Assert.Equal(0, (await Run("export", SaveCheckpoint("old.ckpt"), "-o", old)).ExitCode);
        string stamped = PathIn("stamped.onnx");
        var result = await Run("stamp", old, "--alpha", "composite", "--load-size", "72", "-o", stamped);
        Assert.True(result.ExitCode == 0, result.Err);
        byte[] before = File.ReadAllBytes(old), after = File.ReadAllBytes(stamped);
        Assert.Equal(before, after[..before.Length]);
        var meta = Metadata(stamped);
        Assert.Equal(("composite", "#ffffff", "srgb", "resize_and_crop", "72"),
            (meta[ModelContract.AlphaKey], meta[ModelContract.BackgroundKey], meta[ModelContract.ColorSpaceKey], meta[ModelContract.TrainPreprocessKey], meta[ModelContract.LoadSizeKey]));
        // Same graph and weights: the parsed models differ only in their metadata.
        var a = ModelProto.Parser.ParseFrom(before);
        var b = ModelProto.Parser.ParseFrom(after);
        Assert.Equal(a.Graph, b.Graph);
        Assert.Equal(0, (await Run("check", stamped)).ExitCode);

        AssertOneErrorLine(await Run("stamp", stamped, "--alpha", "drop", "--load-size", "72", "-o", PathIn("again.onnx")), 1,
            $"error: {stamped}: already records its preprocessing (cyclegan.alpha=composite)");
        AssertOneErrorLine(await Run("stamp", old, "--alpha", "drop", "--background", "#000000", "--load-size", "72", "-o", PathIn("x.onnx")), 2,
            "error: --background goes with --alpha composite");
        AssertOneErrorLine(await Run("stamp", old, "--alpha", "composite", "--background", "white", "--load-size", "72", "-o", PathIn("x.onnx")), 2,
            "error: --background 'white' is not a colour #rrggbb");
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Theory]
    [InlineData(null, "cyclegan")] // checkpoints written before CUT carry no model name
    [InlineData("cyclegan", "cyclegan")]
    [InlineData("cut", "cut")]
    [InlineData("fastcut", "fastcut")]
    public async Task TheMethodThatTrainedTheGeneratorReachesTheMetadataAndTheRuntime(string? model, string method)
    {
        string checkpoint = SaveCheckpoint("latest_net_G.ckpt", model: model);
        string output = PathIn("method.onnx");
        Assert.Equal(0, (await Run("export", checkpoint, "-o", output)).ExitCode);

        using (var session = new InferenceSession(output))
            Assert.Equal(method, session.ModelMetadata.CustomMetadataMap[ModelContract.MethodKey]);
        using var translator = Translator.Open(output, new TranslatorOptions { Provider = "cpu" });
        Assert.Equal(method, translator.Model.Method);
        Assert.Equal(0, (await Run("check", output)).ExitCode);
    }

    [Fact]
    public async Task AReferenceCutGeneratorImportsFromPyTorchAsCut()
    {
        string output = PathIn("cut_ref.onnx");
        var result = await Run("export", "--from-pytorch", PyTorch.Fixtures.Path("resnet_6blocks_ngf4_antialias.pth"), "-o", output);
        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains("resnet_6blocks, ngf 4, instance norm", result.Out);
        using var session = new InferenceSession(output);
        Assert.Equal("cut", session.ModelMetadata.CustomMetadataMap[ModelContract.MethodKey]);
        // Two blur-downsamplings (depthwise Conv) and two blur-upsamplings (depthwise ConvTranspose).
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(output)).Graph;
        Assert.Equal(2, graph.Node.Count(n => n.OpType == "ConvTranspose"));
    }

    [Fact]
    public async Task AnUnknownMethodIsAnErrorOnBothSides()
    {
        string checkpoint = SaveCheckpoint("latest_net_G.ckpt", model: "unit");
        AssertOneErrorLine(await Run("export", checkpoint, "-o", PathIn("unit.onnx")), 1, $"error: {checkpoint}: method 'unit' is not one of: cyclegan, cut, fastcut");

        string good = PathIn("good.onnx");
        Assert.Equal(0, (await Run("export", SaveCheckpoint("g.ckpt", model: "cut"), "-o", good)).ExitCode);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(good));
        model.MetadataProps.Single(e => e.Key == ModelContract.MethodKey).Value = "unit";
        string bad = PathIn("bad-method.onnx");
        File.WriteAllBytes(bad, Google.Protobuf.MessageExtensions.ToByteArray(model));
        AssertOneErrorLine(await Run("check", bad), 1, $"error: {bad}: breaks the model contract: metadata cyclegan.method='unit' is not one of: cyclegan, cut, fastcut");
    }

    [Fact]
    public async Task ExportsACheckpointWithParityReportAndMetadata()
    {
        string checkpoint = SaveCheckpoint("latest_net_G_A.ckpt");
        string output = PathIn("model.onnx");
        var result = await Run("export", checkpoint, "-o", output, "--domain-out", "emoji", "--name", "tiny");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Err);
        Assert.Equal(2, result.Out.Split('\n').Count(l => l.StartsWith("parity ", StringComparison.Ordinal)));
        Assert.Contains($"wrote {output}: resnet_6blocks AtoB (noto -> emoji)", result.Out);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));

        using var session = new InferenceSession(output);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(checkpoint))), meta[ModelContract.SourceSha256Key]);
        Assert.Equal("emoji", meta[ModelContract.DomainOutKey]);
        Assert.Equal("noto", meta[ModelContract.DomainInKey]);
        Assert.Equal("32", meta[ModelContract.TrainSizeKey]);
        Assert.Equal("tiny", ModelProto.Parser.ParseFrom(File.ReadAllBytes(output)).Graph.Name);

        var check = await Run("check", output);
        Assert.Equal(0, check.ExitCode);
        Assert.StartsWith($"ok: {output}: resnet_6blocks AtoB (noto -> emoji), float32-nchw, fp32, opset 17", check.Out);
    }

    [Fact]
    public async Task ExportsFp16Uint8AndFoldedBatchNorm()
    {
        string checkpoint = SaveCheckpoint("g.ckpt", norm: "batch");
        string output = PathIn("model.onnx");
        var result = await Run("export", checkpoint, "-o", output, "--fp16", "--io", "uint8-nhwc", "--fold-batchnorm", "--opset", "21", "--direction", "BtoA");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("levels", result.Out);
        Assert.Contains("batch norm folded", result.Out);
        var check = await Run("check", output);
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("resnet_6blocks BtoA", check.Out);
        Assert.Contains("uint8-nhwc, fp16, opset 21", check.Out);
    }

    /// <summary>The reference's own output for its fixture generator, through --from-pytorch and ONNX Runtime.</summary>
    [Fact]
    public async Task ExportsAReferencePyTorchStateDict()
    {
        string pth = PathIn("latest_net_G_B.pth");
        File.Copy(PyTorch.Fixtures.Path("resnet_6blocks_ngf4.pth"), pth);
        string output = PathIn("reference.onnx");
        var result = await Run("export", "--from-pytorch", pth, "-o", output);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("resnet_6blocks BtoA (B -> A)", result.Out);

        float[] input = PyTorch.Fixtures.ReadFloats("resnet_6blocks_ngf4.input.f32");
        float[] expected = PyTorch.Fixtures.ReadFloats("resnet_6blocks_ngf4.output.f32");
        int side = (int)Math.Sqrt(input.Length / 3);
        using var session = new InferenceSession(output);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, side, side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ModelContract.InputName], [value], [ModelContract.OutputName]);
        float[] actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.InRange(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max(), 0, 1e-4);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(pth))),
            session.ModelMetadata.CustomMetadataMap[ModelContract.SourceSha256Key]);
        // The reference loads images with PIL convert('RGB'): alpha dropped, no compositing; its default sizes.
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(("drop", "none", "srgb", "resize_and_crop", "286"),
            (meta[ModelContract.AlphaKey], meta[ModelContract.BackgroundKey], meta[ModelContract.ColorSpaceKey], meta[ModelContract.TrainPreprocessKey], meta[ModelContract.LoadSizeKey]));
    }

    /// <summary>
    /// Files PyTorch wrote for every architecture (tests/fixtures/pytorch/make_arch_fixtures.py) export with no flag
    /// but the file, and ONNX Runtime reproduces PyTorch's own output.
    /// </summary>
    [Theory]
    [InlineData("resnet_9blocks_ngf4_none_dropout", "resnet_9blocks, ngf 4, none norm, dropout, 3 -> 3 channels")]
    [InlineData("unet_128_ngf4", "unet_128, ngf 4, instance norm, no dropout, 3 -> 3 channels")]
    [InlineData("unet_256_ngf2_batch_dropout_gray", "unet_256, ngf 2, batch norm, no dropout, 1 -> 1 channels")]
    [InlineData("encoder_decoder_ngf4_batch", "encoder_decoder, ngf 4, batch norm, no dropout, 3 -> 1 channels")]
    public async Task ExportsEveryArchitectureFromTheFileAlone(string name, string inferred)
    {
        string pth = PathIn("latest_net_G_A.pth");
        File.Copy(PyTorch.Fixtures.Path(name + ".pth"), pth);
        string output = PathIn("g.onnx");
        var result = await Run("export", "--from-pytorch", pth, "-o", output);
        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains($"latest_net_G_A.pth: {inferred}", result.Out);

        float[] input = PyTorch.Fixtures.ReadFloats(name + ".input.f32");
        float[] expected = PyTorch.Fixtures.ReadFloats(name + ".output.f32");
        using var session = new InferenceSession(output);
        int channelsIn = (int)session.InputMetadata[ModelContract.InputName].Dimensions[1];
        int side = (int)Math.Sqrt(input.Length / channelsIn);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, channelsIn, side, side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ModelContract.InputName], [value], [ModelContract.OutputName]);
        float[] actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.InRange(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max(), 0, 1e-4);
    }

    [Fact]
    public async Task FlagsThatContradictThePyTorchFileAreAUsageError()
    {
        string pth = PathIn("g.pth");
        File.Copy(PyTorch.Fixtures.Path("resnet_9blocks_ngf4_none_dropout.pth"), pth);
        var result = await Run("export", "--from-pytorch", pth, "--arch", "resnet_9blocks", "--ngf", "8", "--no-dropout", "-o", PathIn("x.onnx"));
        AssertOneErrorLine(result, 2, $"error: {pth}: --ngf 8 but the file holds ngf 4; --no-dropout but the file's residual blocks have dropout (leave the flag out");
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Fact]
    public async Task AnUnrecognisedPyTorchFileNeedsArchAndIsThenLoadedStrictly()
    {
        string pth = PathIn("g.pth");
        File.Copy(PyTorch.Fixtures.Path("views.pth"), pth);
        AssertOneErrorLine(await Run("export", "--from-pytorch", pth, "-o", PathIn("x.onnx")), 1,
            $"error: {pth}: cannot tell the generator architecture: holds no convolution weights");
        var result = await Run("export", "--from-pytorch", pth, "--arch", "resnet_6blocks", "--ngf", "4", "-o", PathIn("x.onnx"));
        AssertOneErrorLine(result, 1, $"error: {pth}: does not fit the ResnetGenerator network");
        Assert.Contains("--no-dropout must match the options the reference trained it with", result.Err);
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Fact]
    public async Task MissingCheckpointIsAUsageError()
    {
        string missing = PathIn("nope.ckpt");
        AssertOneErrorLine(await Run("export", missing, "-o", PathIn("x.onnx")), 2, $"error: {missing}: file not found");
    }

    [Fact]
    public async Task CorruptCheckpointIsOneLineNamingTheFile()
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        byte[] bytes = File.ReadAllBytes(checkpoint);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(checkpoint, bytes);
        var result = await Run("export", checkpoint, "-o", PathIn("x.onnx"));
        AssertOneErrorLine(result, 1, $"error: {checkpoint}: ");
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Fact]
    public async Task FoldingWithoutBatchNormIsRefused()
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        AssertOneErrorLine(await Run("export", checkpoint, "-o", PathIn("x.onnx"), "--fold-batchnorm"), 1,
            $"error: {checkpoint}: --fold-batchnorm: the generator has no batch norm to fold (its norm is 'instance')");
    }

    [Theory]
    [InlineData("--opset 12 -o OUT", "error: --opset: must be 13 to 21, not 12")]
    [InlineData("", "error: -o/--output OUT.onnx is required")]
    [InlineData("--ngf 8 -o OUT", "error: --arch, --ngf, --norm, --input-nc, --output-nc and --no-dropout go with --from-pytorch")]
    [InlineData("--fp16 maybe -o OUT", "error: --fp16: takes true or false (or nothing, for true), not 'maybe'")]
    public async Task BadCommandLinesAreUsageErrors(string extra, string message)
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        var args = new List<string> { "export", checkpoint };
        args.AddRange(extra.Replace("CKPT", checkpoint).Replace("OUT", PathIn("x.onnx")).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        AssertOneErrorLine(await Run([.. args]), 2, message);
    }

    [Fact]
    public async Task NothingToExportIsAUsageError() =>
        AssertOneErrorLine(await Run("export", "-o", PathIn("x.onnx")), 2, "error: give either a CHECKPOINT or --from-pytorch FILE");

    /// <summary>The commands before the export/check/quantize split: one line that names the commands, not a line per token.</summary>
    [Theory]
    [InlineData("CKPT -o OUT", "error: CKPT: not a command; cyclegan-export takes one of: export, check, quantize")]
    [InlineData("--check CKPT", "error: --check: not a command; cyclegan-export takes one of: export, check, quantize")]
    [InlineData("", "error: missing command; cyclegan-export takes one of: export, check, quantize")]
    public async Task TheFormerCommandLinesNameTheCommands(string line, string message)
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        string[] args = line.Replace("CKPT", checkpoint).Replace("OUT", PathIn("x.onnx")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        AssertOneErrorLine(await Run(args), 2, message.Replace("CKPT", checkpoint));
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Fact]
    public async Task SyntaxErrorsExitWithUsageCode()
    {
        var error = new StringWriter();
        int code = await ExportCommand.RunAsync(["export", "--opset", "seventeen", "g.ckpt", "-o", "x.onnx"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("error: ", error.ToString());
        Assert.Contains("seventeen", error.ToString());
    }

    [Fact]
    public async Task CheckRejectsTruncatedAndRandomFiles()
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        string good = PathIn("good.onnx");
        Assert.Equal(0, (await Run("export", checkpoint, "-o", good)).ExitCode);
        byte[] bytes = File.ReadAllBytes(good);

        string truncated = PathIn("truncated.onnx");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        AssertOneErrorLine(await Run("check", truncated), 1, $"error: {truncated}: ");

        string noise = PathIn("noise.onnx");
        File.WriteAllBytes(noise, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251))]);
        AssertOneErrorLine(await Run("check", noise), 1, $"error: {noise}: ");

        string missing = PathIn("missing.onnx");
        AssertOneErrorLine(await Run("check", missing), 2, $"error: {missing}: file not found");
    }

    [Fact]
    public async Task CheckRejectsMissingOrContradictoryMetadata()
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        string good = PathIn("good.onnx");
        Assert.Equal(0, (await Run("export", checkpoint, "-o", good)).ExitCode);

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(good));
        var noNgf = model.Clone();
        noNgf.MetadataProps.Remove(noNgf.MetadataProps.Single(e => e.Key == ModelContract.NgfKey));
        string noNgfPath = PathIn("no-ngf.onnx");
        File.WriteAllBytes(noNgfPath, Google.Protobuf.MessageExtensions.ToByteArray(noNgf));
        AssertOneErrorLine(await Run("check", noNgfPath), 1, $"error: {noNgfPath}: breaks the model contract: metadata key(s) missing: cyclegan.ngf");

        var wrongIo = model.Clone();
        wrongIo.MetadataProps.Single(e => e.Key == ModelContract.IoKey).Value = ModelContract.IoUint8Nhwc;
        string wrongIoPath = PathIn("wrong-io.onnx");
        File.WriteAllBytes(wrongIoPath, Google.Protobuf.MessageExtensions.ToByteArray(wrongIo));
        var result = await Run("check", wrongIoPath);
        AssertOneErrorLine(result, 1, $"error: {wrongIoPath}: breaks the model contract: ");
        Assert.Contains("metadata says io=uint8-nhwc but pixel_range=-1,1 (expected 0,255)", result.Err);
        Assert.Contains("metadata says io=uint8-nhwc but input 'input' is Float, not UInt8", result.Err);

        var wrongChannels = model.Clone();
        wrongChannels.MetadataProps.Single(e => e.Key == ModelContract.ChannelsOutKey).Value = "1";
        string wrongChannelsPath = PathIn("wrong-channels.onnx");
        File.WriteAllBytes(wrongChannelsPath, Google.Protobuf.MessageExtensions.ToByteArray(wrongChannels));
        AssertOneErrorLine(await Run("check", wrongChannelsPath), 1,
            $"error: {wrongChannelsPath}: breaks the model contract: metadata says 1 output channel(s) but the graph's output has 3");
    }
}
