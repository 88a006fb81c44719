using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Tests;

public class ModelInfoTests
{
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu" };

    private static InvalidModelException Refused(TestModels.Spec spec)
    {
        string path = TestModels.Save(TestModels.Negate(spec));
        var e = Assert.Throws<InvalidModelException>(() => Translator.Open(path, Cpu).Dispose());
        Assert.Equal(path, e.Path);
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }

    [Fact]
    public void Reads_every_contract_key()
    {
        using var t = Translator.Open(TestModels.Save(TestModels.Negate(new() { Io = "uint8-nhwc", SpatialMultiple = 8 })), Cpu);
        Assert.Equal(("AtoB", "photos", "negatives", "uint8-nhwc", 8, 3, 3), (t.Model.Direction, t.Model.DomainIn, t.Model.DomainOut, t.Model.Io, t.Model.Descriptor.SpatialMultiple, t.Model.Descriptor.ChannelsIn, t.Model.Descriptor.ChannelsOut));
        Assert.True(t.Model.IsUint8);
        // Test graphs are written like version 1 files exported before the preprocessing and output keys existed.
        Assert.Equal(ModelContract.Keys.Count - ModelContract.PreprocessingKeys.Count - ModelContract.Version2Keys.Count - 1, t.Model.Metadata.Count);
        Assert.Equal(GeneratorOutput.Image, t.Model.Descriptor.Output);
        Assert.False(t.Model.Preprocessing.Recorded);
        Assert.False(t.Model.Preprocessing.Composites);
        Assert.Equal("cyclegan", t.Model.Method);
        Assert.Equal("cpu", t.Provider);
    }

    [Fact]
    public void The_method_is_read_and_a_missing_one_is_cyclegan()
    {
        using (var cut = Translator.Open(TestModels.Save(TestModels.Negate(new() { Metadata = { [ModelContract.MethodKey] = "cut" } })), Cpu))
            Assert.Equal("cut", cut.Model.Method);
        using (var old = Translator.Open(TestModels.Save(TestModels.Negate(new() { Metadata = { [ModelContract.MethodKey] = null } })), Cpu))
            Assert.Equal("cyclegan", old.Model.Method);
        Assert.Contains("cyclegan.method='unit' is not one of: cyclegan, cut, fastcut", Refused(new() { Metadata = { [ModelContract.MethodKey] = "unit" } }).Reason);
    }

    [Fact]
    public void Preprocessing_is_read_and_bad_values_are_refused()
    {
        var keys = Cli.AlphaTests.CompositeOnWhite;
        TestModels.Spec With(params (string Key, string? Value)[] changes)
        {
            var spec = new TestModels.Spec();
            foreach (var (k, v) in keys) spec.Metadata[k] = v;
            foreach (var (k, v) in changes) spec.Metadata[k] = v;
            return spec;
        }
        using (var t = Translator.Open(TestModels.Save(TestModels.Negate(With((ModelContract.BackgroundKey, "#FF8000")))), Cpu))
        {
            var p = t.Model.Preprocessing;
            Assert.Equal((true, true, (byte)255, (byte)128, (byte)0, "resize_and_crop", 72), (p.Recorded, p.Composites, p.BackgroundR, p.BackgroundG, p.BackgroundB, p.TrainPreprocess, p.LoadSize));
        }
        using (var t = Translator.Open(TestModels.Save(TestModels.Negate(With((ModelContract.AlphaKey, "drop"), (ModelContract.BackgroundKey, "none")))), Cpu))
            Assert.False(t.Model.Preprocessing.Composites);
        Assert.Contains("cyclegan.alpha='premultiply' is not one of: composite, drop", Refused(With((ModelContract.AlphaKey, "premultiply"))).Reason);
        Assert.Contains("cyclegan.background='white' is not a colour #rrggbb", Refused(With((ModelContract.BackgroundKey, "white"))).Reason);
        Assert.Contains("cyclegan.background='#ffffff' must be 'none' with cyclegan.alpha=drop", Refused(With((ModelContract.AlphaKey, "drop"))).Reason);
        Assert.Contains("cyclegan.color_space='linear' is not srgb", Refused(With((ModelContract.ColorSpaceKey, "linear"))).Reason);
        Assert.Contains("cyclegan.load_size='-3' is not a positive whole number", Refused(With((ModelContract.LoadSizeKey, "-3"))).Reason);
        Assert.Contains("preprocessing key(s) missing: cyclegan.color_space (they go together)", Refused(With((ModelContract.ColorSpaceKey, null))).Reason);
    }

    /// <summary>The shipped models are version 1 files: no upsample or antialias key, so the descriptor comes from their graphs.</summary>
    [Fact]
    public void The_shipped_version_1_models_load_with_their_descriptor_read_from_the_graph()
    {
        // The generators sit at the top of each model folder (eval/ holds its domain classifier).
        var files = Directory.GetDirectories(ShippedModelTests.ModelsDir).SelectMany(d => Directory.GetFiles(d, "*.onnx")).ToArray();
        Assert.True(files.Length >= 4, $"expected the shipped models in {ShippedModelTests.ModelsDir}");
        foreach (string file in files)
        {
            using var t = Translator.Open(file, Cpu);
            Assert.Equal(1, t.Model.ContractVersion);
            Assert.DoesNotContain(ModelContract.UpsampleKey, t.Model.Metadata.Keys);
            Assert.DoesNotContain(ModelContract.AntialiasKey, t.Model.Metadata.Keys);
            // Their cards say how they were trained: resnet_6blocks with --upsample resize, without anti-aliasing.
            string card = File.ReadAllText(Path.Combine(Path.GetDirectoryName(file)!, "MODEL_CARD.md"));
            Assert.Contains("--netG resnet_6blocks --ngf 32", card);
            Assert.Contains("--upsample resize", card);
            var d = t.Model.Descriptor;
            Assert.Equal((GeneratorKind.Resnet6Blocks, 32, NormKind.Instance, Upsampling.Resize, Antialiasing.None, 4, 6),
                (d.Generator, d.Ngf, d.Norm, d.Upsampling, d.Antialiasing, d.SpatialMultiple, d.ResidualBlocks));
        }
    }

    [Fact]
    public void Missing_keys_are_named()
    {
        var e = Refused(new() { Metadata = { [ModelContract.NormKey] = null, [ModelContract.TrainSizeKey] = null } });
        Assert.Contains("missing: cyclegan.norm, cyclegan.train_size", e.Reason);
    }

    [Fact]
    public void A_model_without_any_contract_metadata_is_not_a_cyclegan_model()
    {
        var spec = new TestModels.Spec();
        foreach (var k in ModelContract.RequiredKeys) spec.Metadata[k] = null;
        Assert.Contains("not a CycleGanEdge model", Refused(spec).Reason);
    }

    [Fact]
    public void Metadata_that_contradicts_the_graph_is_refused()
    {
        Assert.Contains("io=uint8-nhwc but input 'input' is Float", Refused(new() { Metadata = { [ModelContract.IoKey] = "uint8-nhwc", [ModelContract.PixelRangeKey] = "0,255" } }).Reason);
        Assert.Contains("io=float32-nchw but input 'input' is UInt8", Refused(new() { Io = "uint8-nhwc", Metadata = { [ModelContract.IoKey] = "float32-nchw", [ModelContract.PixelRangeKey] = "-1,1" } }).Reason);
        Assert.Contains("metadata says 1 input channel(s) but the graph's input has 3", Refused(new() { Metadata = { [ModelContract.ChannelsInKey] = "1" } }).Reason);
        Assert.Contains("pixel_range=0,255", Refused(new() { Metadata = { [ModelContract.PixelRangeKey] = "0,255" } }).Reason);
    }

    [Fact]
    public void Bad_values_names_and_versions_are_refused()
    {
        Assert.Contains("cyclegan.spatial_multiple='four'", Refused(new() { Metadata = { [ModelContract.SpatialMultipleKey] = "four" } }).Reason);
        Assert.Contains("cyclegan.io='float16-nchw'", Refused(new() { Metadata = { [ModelContract.IoKey] = "float16-nchw" } }).Reason);
        Assert.Contains("contract version 3 is newer than this version of CycleGanEdge understands (2)", Refused(new() { Metadata = { [ModelContract.ContractVersionKey] = "3" } }).Reason);
        // Version 2 needs its keys; version 1 (the test graphs) reads them from the graph.
        Assert.Contains("metadata key(s) missing: cyclegan.upsample, cyclegan.antialias", Refused(new() { Metadata = { [ModelContract.ContractVersionKey] = "2" } }).Reason);
        Assert.Contains("metadata cyclegan.upsample='bilinear' is not one of: convtranspose, resize",
            Refused(new() { Metadata = { [ModelContract.UpsampleKey] = "bilinear", [ModelContract.AntialiasKey] = "none" } }).Reason);
        Assert.Contains("metadata says precision=fp16 but the graph has no float16 weights", Refused(new() { Metadata = { [ModelContract.PrecisionKey] = "fp16" } }).Reason);
        Assert.Contains("no input named 'input' (it has: image)", Refused(new() { InputName = "image" }).Reason);
        Assert.Contains("input 'input' has rank 3, expected 4", Refused(new() { InputRank = 3 }).Reason);
    }

    [Fact]
    public void Missing_or_non_onnx_files_are_refused_with_their_path()
    {
        var missing = Assert.Throws<InvalidModelException>(() => Translator.Open("/nonexistent/g.onnx", Cpu));
        Assert.Equal("/nonexistent/g.onnx: model file not found", missing.Message);
        string garbage = Path.Combine(TestFiles.TempFolder(), "g.onnx");
        File.WriteAllText(garbage, "this is not a model");
        var e = Assert.Throws<InvalidModelException>(() => Translator.Open(garbage, Cpu));
        Assert.Contains("not an ONNX model (damaged or truncated", e.Reason);
    }

    [Fact]
    public void Gpu_providers_on_a_cpu_build_fail_with_how_to_build_for_them()
    {
        string path = TestModels.Save(TestModels.Negate(new()));
        Assert.Equal("cpu", SessionFactory.BuildAccelerator);
        foreach (var provider in new[] { "cuda", "directml" })
        {
            var e = Assert.Throws<ProviderUnavailableException>(() => Translator.Open(path, Cpu with { Provider = provider }));
            Assert.Contains($"The {provider} provider is not in this build", e.Message);
            Assert.Contains($"-p:Accelerator={provider}", e.Message);
        }
        Assert.Contains("Unknown provider 'tpu'", Assert.Throws<ProviderUnavailableException>(() => Translator.Open(path, Cpu with { Provider = "tpu" })).Message);
        using var auto = Translator.Open(path, Cpu with { Provider = "auto" });
        Assert.Equal("cpu", auto.Provider);
    }

    [Fact]
    public void Optimised_model_is_cached_beside_the_original_and_reused()
    {
        string path = TestModels.Save(TestModels.SmallConvNet("none"));
        string cached = SessionFactory.OptimizedModelPath(path, "cpu");
        var img = TestImages.Random(16, 12);
        byte[] first;
        using (var t = Translator.Open(path, Cpu with { CacheOptimizedModel = true }))
            first = t.Translate(img).Pixels;
        Assert.True(File.Exists(cached));
        DateTime stamp = File.GetLastWriteTimeUtc(cached);
        using (var t = Translator.Open(path, Cpu with { CacheOptimizedModel = true }))
        {
            Assert.Equal(NormKind.None, t.Model.Descriptor.Norm); // metadata survives in the optimised file
            Assert.Equal(first, t.Translate(img).Pixels);
        }
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(cached));
    }
}
