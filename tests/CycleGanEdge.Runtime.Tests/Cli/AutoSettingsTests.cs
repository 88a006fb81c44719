using CycleGanEdge.Core;
using CycleGanEdge.Run.Batch;
using CycleGanEdge.Runtime.Bench;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Tests.Cli;

public class AutoSettingsTests
{
    /// <summary>A model whose metadata says resnet_6blocks, ngf 8: its work per image is counted from that (GeneratorCost).</summary>
    private static string Resnet(string folder) => TestModels.Save(TestModels.SmallConvNet("instance", metadata: TestModels.Resnet6Ngf8), folder);

    [Theory]
    [InlineData(2, 0.15, 0.40, 2, 1)]   // emoji model at 64 px: decode+encode ~13% of the model's time, keep a core for them
    [InlineData(2, 3.10, 0.40, 2, 2)]   // resnet_9blocks ngf 64 at 64 px: 0.6%
    [InlineData(2, 49.5, 3.00, 2, 2)]   // the same at 256 px: 0.1%
    [InlineData(2, 49.5, 3.00, 1, 1)]   // ... while another process keeps a core busy
    [InlineData(2, 0.15, 0.40, 1, 1)]
    [InlineData(8, 49.5, 3.00, 8, 8)]
    [InlineData(8, 0.15, 0.40, 5, 4)]
    [InlineData(1, 49.5, 3.00, 1, 1)]
    public void Threads_go_to_the_model_when_decode_and_encode_are_a_small_share_of_its_work(int cores, double gmacs, double ioMs, int free, int expected)
    {
        Assert.Equal(expected, AutoSettings.Threads(cores, new ImageWork(gmacs, ioMs), free));
        Assert.Equal(Math.Max(1, cores - 1), AutoSettings.Threads(cores, null, free));
    }

    [Fact]
    public void A_single_image_gets_every_free_core_and_small_jobs_skip_the_free_core_probe()
    {
        var emoji64 = new ImageWork(0.15, 0.40); // decode+encode ~13% of the model's time: a spare core for a folder
        Assert.Equal(1, AutoSettings.Threads(2, emoji64, 2));
        Assert.Equal(2, AutoSettings.Threads(2, emoji64, 2, images: 1));
        Assert.False(AutoSettings.WorthProbing(emoji64, 1));      // ~3 ms of model work: not worth 100 ms of probing
        Assert.True(AutoSettings.WorthProbing(emoji64, 1000));
        Assert.True(AutoSettings.WorthProbing(new ImageWork(49.5, 3.0), 2)); // resnet_9blocks at 256 px: ~1 s an image
        Assert.False(AutoSettings.WorthProbing(null, 1000));
    }

    [Theory]
    [InlineData(2, 90, 1_000_000L, 6_000_000_000L, 2)]   // a folder: one session per free core
    [InlineData(8, 3, 1_000_000L, 6_000_000_000L, 3)]    // no more sessions than images
    [InlineData(2, 1, 1_000_000L, 6_000_000_000L, 1)]    // one image: one session with every thread
    [InlineData(1, 90, 1_000_000L, 6_000_000_000L, 1)]   // one free core
    [InlineData(4, 90, 2_500_000_000L, 6_000_000_000L, 2)] // only two whole runs fit the budget
    [InlineData(4, 90, 7_000_000_000L, 6_000_000_000L, 1)] // not even one: the one session tiles
    public void Several_images_get_one_single_thread_session_per_free_core_within_the_memory_budget(int free, int images, long runBytes, long budget, int expected)
    {
        Assert.Equal(expected, AutoSettings.Sessions(free, images, new ImageWork(3.1, 0.4, runBytes), budget));
        Assert.Equal(1, AutoSettings.Sessions(free, images, null, budget)); // unknown model cost
    }

    [Fact]
    public void Free_cores_are_between_one_and_all()
    {
        int free = AutoSettings.FreeCores(Environment.ProcessorCount, milliseconds: 10);
        Assert.InRange(free, 1, Environment.ProcessorCount);
    }

    [Theory]
    [InlineData(2, 2, 100, 100, 2)]   // an idle 2-CPU machine: both free
    [InlineData(2, 2, 100, 50, 1)]    // one CPU kept busy by another process
    [InlineData(2, 2, 100, 80, 2)]    // a fifth of one CPU busy: still both
    [InlineData(2, 8, 100, 100, 2)]   // a container limited to 2 of the host's 8 idle CPUs
    [InlineData(4, 4, 100, 0, 1)]     // everything busy: at least one
    public void Free_cores_are_the_idle_share_of_the_cpus(int cores, int cpus, long total, long idle, int expected)
    {
        var before = new CpuTimes(1000, 400, cpus);
        var after = new CpuTimes(1000 + total, 400 + idle, cpus);
        Assert.Equal(expected, AutoSettings.FreeCores(cores, before, after));
    }

    [Fact]
    public void Proc_stat_is_read_as_ticks_and_cpus()
    {
        string path = Path.Combine(TestFiles.TempFolder(), "stat");
        File.WriteAllLines(path,
        [
            "cpu  100 5 50 800 20 1 2 3 0 0",
            "cpu0 50 2 25 400 10 0 1 1 0 0",
            "cpu1 50 3 25 400 10 1 1 2 0 0",
            "intr 12345",
        ]);
        Assert.Equal(new CpuTimes(981, 820, 2), CpuTimes.Read(path));
        Assert.Null(CpuTimes.Read(Path.Combine(Path.GetDirectoryName(path)!, "missing")));
    }

    [Fact]
    public void Metadata_is_read_from_the_file_as_onnx_runtime_reads_it_and_a_damaged_file_is_a_format_error()
    {
        string folder = TestFiles.TempFolder();
        string model = Resnet(folder);
        using var session = new InferenceSession(model);
        Assert.Equal(session.ModelMetadata.CustomMetadataMap.OrderBy(kv => kv.Key), ModelFileCheck.ReadMetadata(model).OrderBy(kv => kv.Key));

        string truncated = Path.Combine(folder, "truncated.onnx");
        File.WriteAllBytes(truncated, File.ReadAllBytes(model)[..1000]);
        Assert.Throws<FormatException>(() => ModelFileCheck.ReadMetadata(truncated));
        Assert.Throws<FormatException>(() => ModelFileCheck.ReadGraphFacts(File.ReadAllBytes(truncated)));
    }

    [Fact]
    public void The_work_per_image_counts_the_models_macs_at_the_padded_image_size()
    {
        string folder = TestFiles.TempFolder();
        string model = Resnet(folder);
        string image = Path.Combine(folder, "a.png");
        File.WriteAllBytes(image, ImageCodec.Encode(TestImages.Random(30, 20), ImageFormat.Png));
        var settings = new PipelineSettings();

        var work = AutoSettings.Measure(model, image, settings, maxSide: 0)!;
        var layers = GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3))!;
        Assert.Equal(GeneratorCost.MultiplyAccumulates(layers, 32, 20) / 1e9, work.ModelGigaMacs, 12); // 30 pads to 32 (multiple 4)
        Assert.True(work.DecodeEncodeMs > 0);
        Assert.Equal(32L * 20 * (8 * 24 + 4 * 6), work.RunBytes); // Translator's estimate at the padded size
        Assert.Equal(GeneratorCost.MultiplyAccumulates(layers, 16, 12) / 1e9, AutoSettings.Measure(model, image, settings, maxSide: 15)!.ModelGigaMacs, 12);

        Assert.Null(AutoSettings.Measure(model, Path.Combine(folder, "missing.png"), settings, 0));
        Assert.Null(AutoSettings.Measure(TestModels.Save(TestModels.Negate(new()), folder, "negate.onnx"), image, settings, 0)); // no counted architecture
        Assert.Null(AutoSettings.Measure(model, null, settings, 0));
    }

    [Fact]
    public void A_resize_upsampling_graph_is_counted_with_its_convolutions_at_the_upsampled_size()
    {
        string folder = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.SmallConvNet("instance", metadata: TestModels.Resnet6Ngf8, resize: true), folder);
        string image = Path.Combine(folder, "a.png");
        File.WriteAllBytes(image, ImageCodec.Encode(TestImages.Random(32, 32), ImageFormat.Png));

        var work = AutoSettings.Measure(model, image, new PipelineSettings(), maxSide: 0)!;
        var resizeLayers = GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3, Upsampling.Resize))!;
        var transposedLayers = GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3))!;
        Assert.Equal(GeneratorCost.MultiplyAccumulates(resizeLayers, 32, 32) / 1e9, work.ModelGigaMacs, 12);
        Assert.True(work.ModelGigaMacs > GeneratorCost.MultiplyAccumulates(transposedLayers, 32, 32) / 1e9);

        // The graph scan finds what the full protobuf parse finds.
        foreach (var path in new[] { model, TestModels.Save(TestModels.SmallConvNet("instance"), folder, "plain.onnx") })
            Assert.Equal(Text(GraphFacts.Of(ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)))), Text(ModelFileCheck.ReadGraphFacts(File.ReadAllBytes(path))));
        Assert.True(ModelFileCheck.ReadGraphFacts(File.ReadAllBytes(model)).HasResize);

        static string Text(GraphFacts f) => $"{f.HasResize} {f.HasBlurFilters} {f.HasHalfWeights} {f.HasResidualOutput} " +
            string.Join(" ", f.Inputs.Concat(f.Outputs).Select(e => $"{e.Name}:{e.ElementType}[{string.Join(",", e.Dimensions)}]"));
    }
}
