using CycleGanEdge.Core;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Runtime.Bench;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Exporter.Tests.InRuntime;

/// <summary>The runtime's analytic generator cost and its bench and profile, against real exported graphs.</summary>
public class ExportedCostTests
{
    private static byte[] Export(string arch, int seed = 2, string upsample = NetworkFactory.ConvTransposeUpsampling)
    {
        TorchSharp.torch.random.manual_seed(seed);
        var options = new GeneratorOptions { Arch = arch, Ngf = 8, Upsample = upsample };
        return OnnxExport.ToBytes(NetworkFactory.CreateGenerator(options), options, new ExportOptions(), new ModelIdentity());
    }

    [Theory]
    [InlineData("resnet_6blocks")]
    [InlineData("resnet_9blocks")]
    [InlineData("encoder_decoder")]
    [InlineData("unet_128")]
    [InlineData("resnet_9blocks", NetworkFactory.ResizeUpsampling)]
    [InlineData("encoder_decoder", NetworkFactory.ResizeUpsampling)]
    public void The_counted_layers_have_exactly_the_exported_graphs_convolution_weights(string arch, string upsample = NetworkFactory.ConvTransposeUpsampling)
    {
        // Kernels and channels of the analytic layer list against the real graph: each Conv/ConvTranspose's
        // weight initializer, in graph order (the exporter writes nodes in forward order, and the U-Net's
        // forward runs every down before the ups: so compare as multisets).
        var graph = ModelProto.Parser.ParseFrom(Export(arch, upsample: upsample)).Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var exported = graph.Node
            .Where(n => n.OpType is "Conv" or "ConvTranspose")
            .Select(n =>
            {
                var dims = initializers[n.Input[1]].Dims;
                // Conv weights are [out, in, k, k], ConvTranspose weights [in, out, k, k].
                return n.OpType == "Conv" ? (k: dims[2], cin: dims[1], cout: dims[0], t: false) : (k: dims[2], cin: dims[0], cout: dims[1], t: true);
            })
            .OrderBy(x => x.ToString()).ToList();
        var counted = GeneratorCost.Layers(ModelDescriptor.Of(ModelDescriptor.KindOf(arch), 8, NormKind.Instance, 3, 3, upsample == NetworkFactory.ResizeUpsampling ? Upsampling.Resize : Upsampling.ConvTranspose))!
            .Select(l => (k: (long)l.Kernel, cin: (long)l.InChannels, cout: (long)l.OutChannels, t: l.Transposed))
            .OrderBy(x => x.ToString()).ToList();
        Assert.Equal(exported, counted);
    }

    /// <summary>The metadata is the same for both upsamplings; the bench reads the graph (a Resize node) to count the right work.</summary>
    [Theory]
    [InlineData(NetworkFactory.ConvTransposeUpsampling, false)]
    [InlineData(NetworkFactory.ResizeUpsampling, true)]
    public void The_cost_of_an_exported_file_follows_its_upsampling(string upsample, bool resize)
    {
        string path = ExportedModels.Save(Export("resnet_6blocks", upsample: upsample));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        var fromFile = GeneratorCost.Layers(Runtime.ModelInfo.FromSession(session, path).Descriptor)!;
        Assert.Equal(GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3, resize ? Upsampling.Resize : Upsampling.ConvTranspose))!, fromFile);
    }

    [Fact]
    public void Bench_covers_every_configuration_and_rates_it_against_the_model_cost()
    {
        string model = ExportedModels.Save(Export("resnet_6blocks"));
        var settings = new BenchSettings { Sizes = [30, 32], Batches = [1, 2], Threads = [1], Iterations = 3, Warmup = 1, MeasurePeak = false };
        var results = ModelBenchmark.Run(model, settings).ToList();

        Assert.Equal([(32, 1), (32, 2), (32, 1), (32, 2)], results.Select(r => (r.Size, r.Batch))); // 30 rounds up to 32
        long macs = GeneratorCost.MultiplyAccumulates(GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3))!, 32, 32);
        foreach (var r in results)
        {
            Assert.Equal(("cpu", 1, 3), (r.Provider, r.Threads, r.Iterations));
            Assert.True(r.P50Ms > 0 && r.P50Ms <= r.P90Ms && r.P90Ms <= r.P99Ms);
            Assert.Equal(macs / 1e9, r.GigaMacsPerImage!.Value, 12);
            Assert.Equal(r.Batch * 1000 / r.MeanMs, r.ImagesPerSecond, 9);
            Assert.Equal(2 * macs / 1e9 * r.ImagesPerSecond, r.Gflops!.Value, 6);
            Assert.Null(r.PeakFraction);
        }
    }

    [Fact]
    public void The_profile_counts_every_convolution_run_with_the_generators_macs()
    {
        string model = ExportedModels.Save(Export("resnet_6blocks"));
        string folder = TempFolder.New("cyclegan-profile");
        try
        {
            var settings = new BenchSettings { Sizes = [32], Threads = [1], Iterations = 2, Warmup = 1, MeasurePeak = false, ProfileDirectory = folder };
            _ = ModelBenchmark.Run(model, settings).ToList();
            var layers = GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3))!;
            var ops = OrtProfile.Summarize(Assert.Single(Directory.GetFiles(folder, "*.json")), layers, 32, 1);

            // 3 runs (warm-up included) of every layer, each op type rated with its own layers' MACs.
            var conv = Assert.Single(ops, o => o.OpType == "Conv");
            Assert.Equal(3 * layers.Count(l => !l.Transposed), conv.Calls);
            Assert.Equal(3 * GeneratorCost.MultiplyAccumulates([.. layers.Where(l => !l.Transposed)], 32, 32) / 1e9, conv.GigaMacs!.Value, 12);
            var up = Assert.Single(ops, o => o.OpType == "ConvTranspose");
            Assert.Equal(3 * GeneratorCost.MultiplyAccumulates([.. layers.Where(l => l.Transposed)], 32, 32) / 1e9, up.GigaMacs!.Value, 12);
            Assert.Null(Assert.Single(ops, o => o.OpType == "InstanceNormalization").GigaMacs);
            Assert.Equal(1.0, ops.Sum(o => o.Share), 9);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
