using System.Security.Cryptography;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Networks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter.Tests;

public class ContractTests
{
    private static readonly ModelIdentity Identity = new()
    {
        Direction = "BtoA", Method = "fastcut", DomainIn = "twemoji", DomainOut = "noto", TrainSize = 64,
        SourceSha256 = Convert.ToHexStringLower(SHA256.HashData("checkpoint"u8)),
        Preprocessing = ImagePreprocessing.CompositeOnWhite("scale_width_and_crop", 72),
    };

    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException(relative);
    }

    /// <summary>The first column of the "Metadata keys" table in docs/onnx-contract.md, in order.</summary>
    private static List<string> DocumentedKeys()
    {
        string doc = File.ReadAllText(RepoFile("docs/onnx-contract.md"));
        string section = doc[doc.IndexOf("## Metadata keys", StringComparison.Ordinal)..];
        int next = section.IndexOf("\n## ", StringComparison.Ordinal);
        section = next < 0 ? section : section[..next];
        return [.. Regex.Matches(section, @"^\| `([^`]+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value)];
    }

    [Fact]
    public void DocumentedKeyTableEqualsTheContractKeys()
    {
        var documented = DocumentedKeys();
        Assert.Equal(25, documented.Count);
        Assert.Equal(ModelContract.Keys, documented);
        // Only the method, the output, the preprocessing keys and the version 2 keys may be absent (models exported before them).
        Assert.Equal(ModelContract.Keys.Where(k => k != ModelContract.MethodKey && k != ModelContract.OutputKey
                && !ModelContract.PreprocessingKeys.Contains(k) && !ModelContract.Version2Keys.Contains(k)),
            ModelContract.RequiredKeys);
        Assert.Equal(ModelContract.Keys.TakeLast(ModelContract.PreprocessingKeys.Count), ModelContract.PreprocessingKeys);
    }

    /// <summary>The "Preprocessing" table of the doc lists the preprocessing keys (in order) and the values the runtime accepts.</summary>
    [Fact]
    public void DocumentedPreprocessingEqualsTheCode()
    {
        string doc = File.ReadAllText(RepoFile("docs/onnx-contract.md"));
        string section = doc[doc.IndexOf("## Preprocessing", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var keys = Regex.Matches(section, @"^\| `([^`]+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(ModelContract.PreprocessingKeys, keys);
        foreach (string value in new[] { ModelContract.AlphaComposite, ModelContract.AlphaDrop, ModelContract.BackgroundNone, ModelContract.ColorSpaceSrgb })
            Assert.Contains($"`{value}`", section);
        // The rounding the doc states is the code's: check it on every (value, alpha) pair against white and black.
        Assert.Contains("(c × a + bg × (255 − a) + 127) / 255", section);
        var white = ImagePreprocessing.CompositeOnWhite("crop", 1);
        var black = white with { BackgroundR = 0, BackgroundG = 0, BackgroundB = 0 };
        var pixel = new byte[4];
        for (int c = 0; c < 256; c++)
            for (int a = 0; a < 256; a++)
            {
                byte[] rgba = [(byte)c, (byte)c, (byte)c, (byte)a];
                white.Composite(rgba, pixel);
                Assert.Equal((c * a + 255 * (255 - a) + 127) / 255, pixel[0]);
                Assert.Equal(a, pixel[3]);
                black.Composite(rgba, pixel);
                Assert.Equal((c * a + 127) / 255, pixel[1]);
            }
    }

    [Theory]
    [InlineData(false, "float32-nchw")]
    [InlineData(true, "uint8-nhwc")]
    public void ExportedMetadataHasExactlyTheContractKeysWithConsistentValues(bool fp16, string io)
    {
        var arch = TinyGenerators.Options("resnet_6blocks", inputNc: 1, outputNc: 3);
        using var generator = TinyGenerators.Create(arch);
        byte[] onnx = OnnxExport.ToBytes(generator, arch, new ExportOptions { Fp16 = fp16, Io = io }, Identity);

        using var session = new InferenceSession(onnx);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(ModelContract.Keys.Order(), meta.Keys.Order());
        Assert.Equal(ModelContract.Keys, OnnxExport.Metadata(arch, new ExportOptions { Fp16 = fp16, Io = io }, Identity).Select(p => p.Key));
        var expected = new Dictionary<string, string>
        {
            [ModelContract.ContractVersionKey] = "2",
            [ModelContract.DirectionKey] = "BtoA",
            [ModelContract.MethodKey] = "fastcut",
            [ModelContract.DomainInKey] = "twemoji",
            [ModelContract.DomainOutKey] = "noto",
            [ModelContract.ArchKey] = "resnet_6blocks",
            [ModelContract.NgfKey] = "8",
            [ModelContract.NormKey] = "instance",
            [ModelContract.ChannelsInKey] = "1",
            [ModelContract.ChannelsOutKey] = "3",
            [ModelContract.IoKey] = io,
            [ModelContract.PixelRangeKey] = io == ModelContract.IoUint8Nhwc ? "0,255" : "-1,1",
            [ModelContract.PrecisionKey] = fp16 ? "fp16" : "fp32",
            [ModelContract.SpatialMultipleKey] = "4",
            [ModelContract.UpsampleKey] = "convtranspose",
            [ModelContract.AntialiasKey] = "none",
            [ModelContract.OutputKey] = "image",
            [ModelContract.TrainSizeKey] = "64",
            [ModelContract.SourceSha256Key] = Identity.SourceSha256,
            [ModelContract.ExporterVersionKey] = OnnxExport.ExporterVersion,
            [ModelContract.AlphaKey] = "composite",
            [ModelContract.BackgroundKey] = "#ffffff",
            [ModelContract.ColorSpaceKey] = "srgb",
            [ModelContract.TrainPreprocessKey] = "scale_width_and_crop",
            [ModelContract.LoadSizeKey] = "72",
        };
        foreach (var (key, value) in expected)
            Assert.Equal(value, meta[key]);
        Assert.Matches(@"^\d+\.\d+\.\d+", OnnxExport.ExporterVersion);

        // The graph's edges agree with the io key: names, element type, layout, channels, dynamic N/H/W.
        var input = Assert.Single(session.InputMetadata);
        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal(ModelContract.InputName, input.Key);
        Assert.Equal(ModelContract.OutputName, output.Key);
        bool uint8 = io == ModelContract.IoUint8Nhwc;
        Assert.Equal(uint8 ? TensorElementType.UInt8 : TensorElementType.Float, input.Value.ElementDataType);
        Assert.Equal(uint8 ? TensorElementType.UInt8 : TensorElementType.Float, output.Value.ElementDataType);
        Assert.Equal(uint8 ? [-1, -1, -1, 1] : [-1, 1, -1, -1], input.Value.Dimensions);
        Assert.Equal(uint8 ? [-1, -1, -1, 3] : [-1, 3, -1, -1], output.Value.Dimensions);
        Assert.Equal(uint8 ? ["batch", "height", "width", ""] : ["batch", "", "height", "width"], input.Value.SymbolicDimensions);
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(onnx)));
    }

    /// <summary>The "Versions" table lists every version this code reads, and each version 2 key says so in the key table.</summary>
    [Fact]
    public void DocumentedVersionsEqualTheCode()
    {
        string doc = File.ReadAllText(RepoFile("docs/onnx-contract.md"));
        string section = doc[doc.IndexOf("## Versions", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var versions = Regex.Matches(section, @"^\| `(\d+)` \|", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(1, ModelContract.Version), versions);
        Assert.Equal(2, ModelContract.Version);
        foreach (string key in ModelContract.Version2Keys)
            Assert.Matches($@"\| `{Regex.Escape(key)}` \| `[^`]+` \| Version 2: ", doc);
        foreach (string name in ModelDescriptor.UpsamplingNames.Concat(ModelDescriptor.AntialiasingNames).Concat(ModelDescriptor.OutputNames))
            Assert.Contains($"`{name}`", doc);
    }

    /// <summary>
    /// Version 2 files say how they upsample and whether they anti-alias; the same file rewritten as version 1 (no such
    /// keys) reads the same descriptor from its graph. Both load in the runtime, and a key that contradicts the graph is refused.
    /// </summary>
    [Theory]
    [InlineData("resnet_6blocks", NetworkFactory.ConvTransposeUpsampling, false)]
    [InlineData("resnet_6blocks", NetworkFactory.ResizeUpsampling, false)]
    [InlineData("resnet_9blocks", NetworkFactory.ConvTransposeUpsampling, true)]
    [InlineData("unet_128", NetworkFactory.ResizeUpsampling, false)]
    public void Version1AndVersion2FilesReadTheSameDescriptor(string archName, string upsample, bool antialias)
    {
        var arch = TinyGenerators.Options(archName, upsample: upsample, antialias: antialias);
        using var generator = TinyGenerators.Create(arch);
        byte[] v2 = OnnxExport.ToBytes(generator, arch, new ExportOptions(), Identity);
        var model = ModelProto.Parser.ParseFrom(v2);
        Assert.Equal("2", model.MetadataProps.Single(p => p.Key == ModelContract.ContractVersionKey).Value);
        Assert.Equal(upsample, model.MetadataProps.Single(p => p.Key == ModelContract.UpsampleKey).Value);
        Assert.Equal(antialias ? "blur" : "none", model.MetadataProps.Single(p => p.Key == ModelContract.AntialiasKey).Value);

        var v1 = model.Clone();
        foreach (var entry in v1.MetadataProps.Where(p => ModelContract.Version2Keys.Contains(p.Key)).ToList())
            v1.MetadataProps.Remove(entry);
        v1.MetadataProps.Single(p => p.Key == ModelContract.ContractVersionKey).Value = "1";

        foreach (var (file, version) in new[] { (v2, 2), (Google.Protobuf.MessageExtensions.ToByteArray(v1), 1) })
        {
            using var session = new InferenceSession(file);
            var info = Runtime.ModelInfo.FromSession(session, $"v{version}.onnx", file);
            Assert.Equal(version, info.ContractVersion);
            Assert.Equal(arch.Descriptor, info.Descriptor);
            Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(file)));
        }

        var lying = model.Clone();
        lying.MetadataProps.Single(p => p.Key == ModelContract.UpsampleKey).Value = upsample == NetworkFactory.ResizeUpsampling ? "convtranspose" : "resize";
        Assert.Contains($"metadata says upsample={(upsample == NetworkFactory.ResizeUpsampling ? "convtranspose" : "resize")} but the graph has",
            Assert.Single(ModelCheck.ContractProblems(lying)));
        var missing = model.Clone();
        missing.MetadataProps.Remove(missing.MetadataProps.Single(p => p.Key == ModelContract.AntialiasKey));
        Assert.Equal("metadata key(s) missing: cyclegan.antialias", Assert.Single(ModelCheck.ContractProblems(missing)));
    }

    /// <summary>
    /// cyclegan.output is optional: without it a file reads as an image generator. Each value must agree with the graph,
    /// so a residual graph that says image (or has no key) and an image graph that says residual are refused.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheOutputKeyAgreesWithTheGraph(bool residual)
    {
        var arch = TinyGenerators.Options("resnet_6blocks", residual: residual);
        using var generator = TinyGenerators.Create(arch);
        var model = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, new ExportOptions(), Identity));
        Assert.Empty(ModelCheck.ContractProblems(model));
        using (var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model)))
            Assert.Equal(arch.Descriptor, Runtime.ModelInfo.FromSession(session, "m.onnx", Google.Protobuf.MessageExtensions.ToByteArray(model)).Descriptor);

        var lying = model.Clone();
        lying.MetadataProps.Single(p => p.Key == ModelContract.OutputKey).Value = residual ? "image" : "residual";
        Assert.Contains($"metadata says output={(residual ? "image" : "residual")} but the graph has {(residual ? "a" : "no")} residual clip",
            Assert.Single(ModelCheck.ContractProblems(lying)));

        var keyless = model.Clone();
        keyless.MetadataProps.Remove(keyless.MetadataProps.Single(p => p.Key == ModelContract.OutputKey));
        var problems = ModelCheck.ContractProblems(keyless);
        if (residual)
            Assert.Contains("metadata says output=image but the graph has a residual clip", Assert.Single(problems));
        else
            Assert.Empty(problems);
    }

    [Fact]
    public void ASourceThatDoesNotRecordItsPreprocessingGetsNoPreprocessingKeys()
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var model = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, new ExportOptions(), Identity with { Preprocessing = null }));
        Assert.Equal(ModelContract.Keys.Except(ModelContract.PreprocessingKeys), model.MetadataProps.Select(p => p.Key));
        Assert.Empty(ModelCheck.ContractProblems(model));
    }

    [Fact]
    public void Fp16KeepsInstanceNormInFloat32BetweenCasts()
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var model = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, new ExportOptions { Fp16 = true }, Identity));
        var graph = model.Graph;
        var producers = graph.Node.ToDictionary(n => n.Output[0]);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);

        var norms = graph.Node.Where(n => n.OpType == "InstanceNormalization").ToList();
        Assert.Equal(3 + 2 * 6 + 2, norms.Count);
        foreach (var norm in norms)
        {
            var cast = producers[norm.Input[0]];
            Assert.Equal("Cast", cast.OpType);
            Assert.Equal((long)DataType.Float, cast.Attribute.Single(a => a.Name == "to").I);
            Assert.All(norm.Input.Skip(1), name => Assert.Equal((int)DataType.Float, initializers[name].DataType));
            var consumer = graph.Node.Single(n => n.Input.Contains(norm.Output[0]));
            Assert.Equal("Cast", consumer.OpType);
            Assert.Equal((long)DataType.Float16, consumer.Attribute.Single(a => a.Name == "to").I);
        }
        // Every convolution weight is half precision.
        var convWeights = graph.Node.Where(n => n.OpType is "Conv" or "ConvTranspose").Select(n => initializers[n.Input[1]]).ToList();
        Assert.NotEmpty(convWeights);
        Assert.All(convWeights, w => Assert.Equal((int)DataType.Float16, w.DataType));
    }

    [Theory]
    [InlineData(13, 7)]
    [InlineData(17, 8)]
    [InlineData(21, 10)]
    public void OpsetsLoadAndMatch(int opset, int irVersion)
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var options = new ExportOptions { Opset = opset };
        byte[] onnx = OnnxExport.ToBytes(generator, arch, options, Identity);
        var model = ModelProto.Parser.ParseFrom(onnx);
        Assert.Equal(irVersion, model.IrVersion);
        Assert.Equal(opset, Assert.Single(model.OpsetImport).Version);
        Assert.True(OnnxExport.CheckParity(generator, arch, onnx, options).Passed);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(22)]
    public void OpsetOutsideTheSupportedRangeIsRefused(int opset)
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var error = Assert.Throws<ExportException>(() => OnnxExport.ToBytes(generator, arch, new ExportOptions { Opset = opset }, Identity));
        Assert.Equal($"--opset {opset} is not supported: use 13 to 21", error.Message);
    }

    [Fact]
    public void FoldingAnInstanceNormGeneratorIsRefused()
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var error = Assert.Throws<ExportException>(() => OnnxExport.ToBytes(generator, arch, new ExportOptions { FoldBatchNorm = true }, Identity));
        Assert.Contains("no batch norm to fold", error.Message);
    }

    [Fact]
    public void FoldedBatchNormLeavesNoBatchNormalizationNode()
    {
        var arch = TinyGenerators.Options("encoder_decoder", "batch");
        using var generator = TinyGenerators.Create(arch);
        var plain = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, new ExportOptions(), Identity));
        var folded = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(generator, arch, new ExportOptions { FoldBatchNorm = true }, Identity));
        // Norms after the three downs and two ups, and two in each of the three residual blocks.
        Assert.Equal(5 + 3 * 2, plain.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.DoesNotContain(folded.Graph.Node, n => n.OpType == "BatchNormalization");
    }
}
