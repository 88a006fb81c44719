using CycleGanEdge.Core;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Core.Onnx;

namespace CycleGanEdge.Exporter.Tests;

public class ExportParityTests
{
    private static readonly ModelIdentity Identity = new() { SourceSha256 = new string('0', 64) };

    private static ParityReport ExportAndCheck(string arch, string norm, ExportOptions options, bool dropout = false, int channels = 3,
        string upsample = NetworkFactory.ConvTransposeUpsampling, bool antialias = false, bool residual = false)
    {
        var arch_ = TinyGenerators.Options(arch, norm, inputNc: channels, outputNc: channels, dropout: dropout, upsample: upsample, antialias: antialias,
            residual: residual);
        using var generator = TinyGenerators.Create(arch_);
        var (std, saturated) = TinyGenerators.OutputSpread(generator, arch_);
        Console.WriteLine($"{arch}/{norm}: reference output std {std:G3}, saturated {saturated:P1}");
        Assert.InRange(std, 0.01, 1);
        Assert.InRange(saturated, 0, 0.2);
        byte[] onnx = OnnxExport.ToBytes(generator, arch_, options, Identity);
        var report = OnnxExport.CheckParity(generator, arch_, onnx, options);
        foreach (var line in report.Lines())
            Console.WriteLine($"{arch}/{norm}/{options}: {line}");
        return report;
    }

    [Theory]
    [InlineData("resnet_6blocks", "instance")]
    [InlineData("resnet_9blocks", "instance")]
    [InlineData("unet_128", "instance")]
    [InlineData("encoder_decoder", "batch")]
    [InlineData("resnet_6blocks", "none")]
    public void Float32ExportMatchesTorchSharp(string arch, string norm)
    {
        var report = ExportAndCheck(arch, norm, new ExportOptions());
        Assert.Equal(Parity.Float32MaxBound, report.MaxBound);
        Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));
        Assert.True(report.Passed);
    }

    /// <summary>
    /// The CUT reference's anti-aliased resnet (blur-downsample after stride-1 convs, blur-upsample before convs)
    /// exports as Pad + depthwise Conv / ConvTranspose with the fixed filters, within the usual bounds at both sizes.
    /// </summary>
    [Theory]
    [InlineData("resnet_6blocks", "instance", false, ModelContract.IoFloat32Nchw)]
    [InlineData("resnet_9blocks", "batch", false, ModelContract.IoFloat32Nchw)]
    [InlineData("resnet_6blocks", "instance", true, ModelContract.IoFloat32Nchw)]
    [InlineData("resnet_6blocks", "instance", false, ModelContract.IoUint8Nhwc)]
    public void AntialiasedResnetMatchesTorchSharp(string arch, string norm, bool fp16, string io)
    {
        var options = new ExportOptions { Fp16 = fp16, Io = io };
        var report = ExportAndCheck(arch, norm, options, antialias: true);
        Assert.True(report.Passed, string.Join("; ", report.Lines()));
        Assert.Equal(2, report.Samples.Select(s => (s.Height, s.Width)).Distinct().Count());
        if (!fp16 && io == ModelContract.IoFloat32Nchw)
            Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));

        var generatorOptions = TinyGenerators.Options(arch, norm, antialias: true);
        using var generator = TinyGenerators.Create(generatorOptions);
        var graph = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, generatorOptions, options, Identity)).Graph;
        // Two blur-downs (depthwise Conv, stride 2) and two blur-ups (the only ConvTransposes, depthwise).
        Assert.Equal(2, graph.Node.Count(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I > 1)));
        var ups = graph.Node.Where(n => n.OpType == "ConvTranspose").ToList();
        Assert.Equal(2, ups.Count);
        Assert.All(ups, n => Assert.Contains(n.Attribute, a => a.Name == "group" && a.I > 1));
    }

    /// <summary>
    /// A residual resnet (--residual) exports as Add(input, Tanh(...)) then Clip(-1, 1) and matches TorchSharp in every
    /// precision and I/O; the clip's bounds carry the names the runtime's contract check looks for.
    /// </summary>
    [Theory]
    [InlineData(false, ModelContract.IoFloat32Nchw)]
    [InlineData(true, ModelContract.IoFloat32Nchw)]
    [InlineData(false, ModelContract.IoUint8Nhwc)]
    public void ResidualResnetMatchesTorchSharp(bool fp16, string io)
    {
        var options = new ExportOptions { Fp16 = fp16, Io = io };
        var report = ExportAndCheck("resnet_6blocks", "instance", options, upsample: NetworkFactory.ResizeUpsampling, residual: true);
        Assert.True(report.Passed, string.Join("; ", report.Lines()));
        if (!fp16 && io == ModelContract.IoFloat32Nchw)
            Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));

        var arch = TinyGenerators.Options("resnet_6blocks", upsample: NetworkFactory.ResizeUpsampling, residual: true);
        using var generator = TinyGenerators.Create(arch);
        var model = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, options, Identity));
        var nodes = model.Graph.Node;
        var clip = nodes.Single(n => n.OpType == "Clip" && n.Input.Contains(GraphFacts.ResidualMin));
        var add = nodes.Single(n => n.Output.Contains(clip.Input[0]));
        Assert.Equal("Add", add.OpType);
        // One addend is the network's input as the body sees it (the graph input, or its conversion for uint8/fp16).
        string body = nodes.First(n => n.OpType == "Pad").Input[0];
        Assert.Contains(body, add.Input);
        Assert.Equal("Tanh", nodes.Single(n => n.Output.Contains(add.Input.Single(i => i != body))).OpType);
        Assert.Equal("residual", model.MetadataProps.Single(p => p.Key == ModelContract.OutputKey).Value);
        Assert.Empty(ModelCheck.ContractProblems(model));
    }

    /// <summary>
    /// Resize-conv decoders export as ONNX Resize (nearest, asymmetric, floor) + Conv and match TorchSharp at the
    /// parity check's two sizes (square, and wider than tall), with no ConvTranspose left in the graph.
    /// </summary>
    [Theory]
    [InlineData("resnet_6blocks", "instance")]
    [InlineData("unet_128", "instance")]
    [InlineData("encoder_decoder", "batch")]
    public void ResizeConvUpsamplingMatchesTorchSharpAtTwoSizes(string arch, string norm)
    {
        var report = ExportAndCheck(arch, norm, new ExportOptions(), upsample: NetworkFactory.ResizeUpsampling);
        Assert.Equal(2, report.Samples.Select(s => (s.Height, s.Width)).Distinct().Count());
        Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));

        var options = TinyGenerators.Options(arch, norm, upsample: NetworkFactory.ResizeUpsampling);
        using var generator = TinyGenerators.Create(options);
        var graph = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, options, new ExportOptions(), Identity)).Graph;
        int ups = arch.StartsWith("unet", StringComparison.Ordinal) ? 7 : 2;
        Assert.Equal(ups, graph.Node.Count(n => n.OpType == "Resize"));
        Assert.DoesNotContain(graph.Node, n => n.OpType == "ConvTranspose");
    }

    [Fact]
    public void ResizeConvFp16ExportStaysWithinItsBound()
    {
        var report = ExportAndCheck("resnet_6blocks", "instance", new ExportOptions { Fp16 = true }, upsample: NetworkFactory.ResizeUpsampling);
        Assert.True(report.Passed);
    }

    /// <summary>The same weights with the other upsampling give another function: the option is really in the graph.</summary>
    [Fact]
    public void UpsamplingChoiceChangesTheNetwork()
    {
        var transposed = TinyGenerators.Options("resnet_6blocks");
        var resize = transposed with { Upsample = NetworkFactory.ResizeUpsampling };
        using var a = TinyGenerators.Create(transposed);
        using var b = TinyGenerators.Create(resize);
        var keysA = a.state_dict().Keys.Where(k => k.StartsWith("model.19", StringComparison.Ordinal)).ToList();
        var keysB = b.state_dict().Keys.Where(k => k.StartsWith("model.19", StringComparison.Ordinal)).ToList();
        Assert.Equal(["model.19.weight", "model.19.bias"], keysA);
        Assert.Equal(["model.19.1.weight", "model.19.1.bias"], keysB);
        Assert.Equal([16L, 8, 3, 3], a.state_dict()["model.19.weight"].shape); // ConvTranspose: [in, out, k, k]
        Assert.Equal([8L, 16, 3, 3], b.state_dict()["model.19.1.weight"].shape); // Conv: [out, in, k, k]
    }

    [Fact]
    public void UnetWithDropoutAndBatchNormMatches()
    {
        var report = ExportAndCheck("unet_128", "batch", new ExportOptions(), dropout: true);
        Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));
    }

    [Theory]
    [InlineData("resnet_6blocks", "instance")]
    [InlineData("encoder_decoder", "batch")]
    public void Fp16ExportStaysWithinItsBound(string arch, string norm)
    {
        var report = ExportAndCheck(arch, norm, new ExportOptions { Fp16 = true });
        Assert.True(report.Passed);
        // Half precision really is in the graph: the outputs are close to float32 but not identical.
        Assert.Contains(report.Samples, s => s.MaxAbsDiff > 1e-5);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Uint8IoMatchesQuantizedTorchSharpWithinOneLevel(bool fp16)
    {
        var report = ExportAndCheck("resnet_6blocks", "instance", new ExportOptions { Io = ModelContract.IoUint8Nhwc, Fp16 = fp16 });
        Assert.True(report.Passed);
        if (!fp16)
            Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1));
    }

    [Theory]
    [InlineData("resnet_6blocks")]
    [InlineData("unet_128")]
    [InlineData("encoder_decoder")]
    public void FoldedBatchNormMatches(string arch)
    {
        var report = ExportAndCheck(arch, "batch", new ExportOptions { FoldBatchNorm = true });
        Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));
    }

    /// <summary>The check can fail: the ONNX of one generator against the weights of another.</summary>
    [Fact]
    public void ParityFailsForADifferentGenerator()
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var exported = TinyGenerators.Create(arch, seed: 1);
        using var other = TinyGenerators.Create(arch, seed: 2);
        byte[] onnx = OnnxExport.ToBytes(exported, arch, new ExportOptions(), Identity);
        var report = OnnxExport.CheckParity(other, arch, onnx, new ExportOptions());
        Assert.False(report.Passed);
        Assert.All(report.Samples, s => Assert.True(s.MaxAbsDiff > 0.01));
        Assert.Equal([(2, 32, 32), (1, 32, 40)], report.Samples.Select(s => (s.Batch, s.Height, s.Width)));
    }

    [Theory]
    [InlineData("float32-nchw")]
    [InlineData("uint8-nhwc")]
    public void GrayscaleGeneratorMatches(string io)
    {
        var report = ExportAndCheck("encoder_decoder", "instance", new ExportOptions { Io = io }, channels: 1);
        Assert.True(report.Passed);
    }
}
