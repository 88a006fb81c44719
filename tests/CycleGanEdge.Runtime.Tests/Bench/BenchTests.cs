using CycleGanEdge.Core;
using CycleGanEdge.Tests.Shared;
using System.Text.Json;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Run;
using CycleGanEdge.Runtime.Bench;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Tests.Bench;

/// <summary>The bench and its cost model; the same against real exported graphs is CycleGanEdge.Exporter.Tests/InRuntime/ExportedCostTests.</summary>
public class BenchTests
{
    [Fact]
    public void Resnet_macs_at_64px_add_up_layer_by_layer()
    {
        var layers = GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3))!;
        long expected =
            49L * 3 * 8 * 64 * 64            // c7s1-8
            + 9L * 8 * 16 * 32 * 32          // down to 32x32
            + 9L * 16 * 32 * 16 * 16         // down to 16x16
            + 12 * (9L * 32 * 32 * 16 * 16)  // 6 blocks x 2 convs
            + 9L * 32 * 16 * 16 * 16         // up from 16x16
            + 9L * 16 * 8 * 32 * 32          // up from 32x32
            + 49L * 8 * 3 * 64 * 64;         // c7s1-3
        Assert.Equal(expected, GeneratorCost.MultiplyAccumulates(layers, 64, 64));
        Assert.Equal(4 * expected, GeneratorCost.MultiplyAccumulates(layers, 128, 128));
        Assert.Null(GeneratorCost.Layers(new ModelDescriptor { Arch = "mystery_net", Ngf = 8, Norm = NormKind.None, ChannelsIn = 3, ChannelsOut = 3, SpatialMultiple = 4 }));

        // --upsample resize: each up is a 3x3 conv at the upsampled size, 4x the transposed conv's work.
        long resize = expected - 9L * 32 * 16 * 16 * 16 - 9L * 16 * 8 * 32 * 32 + 9L * 32 * 16 * 32 * 32 + 9L * 16 * 8 * 64 * 64;
        Assert.Equal(resize, GeneratorCost.MultiplyAccumulates(GeneratorCost.Layers(ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3, Upsampling.Resize))!, 64, 64));

        // Anti-aliased (CUT): each down conv runs at stride 1 before its blur-downsample (4x its strided work), each up
        // is a blur-upsample then a conv at the new size, as with resize.
        long antialiased = resize - 9L * 8 * 16 * 32 * 32 - 9L * 16 * 32 * 16 * 16 + 9L * 8 * 16 * 64 * 64 + 9L * 16 * 32 * 32 * 32;
        Assert.Equal(antialiased, GeneratorCost.MultiplyAccumulates(GeneratorCost.Layers(
            ModelDescriptor.Of(GeneratorKind.Resnet6Blocks, 8, NormKind.Instance, 3, 3, Upsampling.ConvTranspose, Antialiasing.Blur))!, 64, 64));
    }

    [Fact]
    public void The_fma_kernel_runs_fused_multiply_adds_on_independent_chains()
    {
        Assert.NotNull(FmaProbe.Isa); // every x64 machine this runs on has at least AVX2+FMA
        // Chain i starts at i + 1 and does a = fma(a, 0.999, 0.001) per iteration; the kernel returns the sum of the
        // chains' first lanes. A scalar fused multiply-add loop gives exactly the same bits (unfused would round twice).
        const int iterations = 1000;
        float expected = 0;
        for (int chain = 0; chain < FmaProbe.Chains; chain++)
        {
            float a = chain + 1;
            for (int i = 0; i < iterations; i++) a = MathF.FusedMultiplyAdd(a, 0.999f, 0.001f);
            expected += a;
        }
        Assert.Equal(expected, FmaProbe.Kernel(iterations));
        Assert.Equal(FmaProbe.Chains * FmaProbe.Lanes * 2L, FmaProbe.FlopsPerIteration);
    }

    [Fact]
    public void The_fma_peak_is_lanes_times_units_times_two_times_clock_and_threads_pick_their_share()
    {
        var peak = FmaProbe.Measure(bursts: 2)!;
        Assert.Equal(FmaProbe.Lanes, peak.Lanes);
        Assert.Equal(Environment.ProcessorCount, peak.Cores);
        Assert.True(peak.FmaUnits >= 1 && peak.ClockGhz > 0 && peak.OneCoreGflops > 0 && peak.AllCoresGflops > 0);
        Assert.Equal(peak.Lanes * peak.FmaUnits * 2 * peak.ClockGhz * peak.Cores, peak.TheoreticalAllCoresGflops, 9);

        var fixedPeak = peak with { Cores = 4, OneCoreGflops = 100, AllCoresGflops = 350 };
        Assert.Equal(100, fixedPeak.For(1));
        Assert.Equal(200, fixedPeak.For(2));
        Assert.Equal(350, fixedPeak.For(4));
        Assert.Equal(350, fixedPeak.For(0)); // ONNX Runtime's choice uses every core
        Assert.Contains("theoretical", fixedPeak.Describe());
    }

    [Fact]
    public void The_int8_peak_counts_vnni_dot_products_and_threads_pick_their_share()
    {
        if (!System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            Assert.Null(FmaProbe.Measure(bursts: 1)!.Int8OneCoreGops); // no VNNI: no int8 peak, int8 rows keep the float one
            return;
        }
        // Each VPDPBUSD adds 4 products of 1 x 1 to every 32-bit lane; the kernel returns the 12 chains' first lanes summed.
        Assert.Equal(FmaProbe.Chains * 4f * 1000, FmaProbe.Int8Kernel(1000));
        var peak = FmaProbe.Measure(bursts: 2)!;
        Assert.True(peak.Int8OneCoreGops > 0 && peak.Int8AllCoresGops > 0);
        var fixedPeak = peak with { Cores = 2, Int8OneCoreGops = 500, Int8AllCoresGops = 900 };
        Assert.Equal(500, fixedPeak.Int8For(1));
        Assert.Equal(900, fixedPeak.Int8For(0));
        Assert.Null((peak with { Int8OneCoreGops = null }).Int8For(1));
        Assert.Contains("int8 peak", fixedPeak.Describe());
        Assert.Contains("measured x 2: one core's 512-bit FMAs ran at", (fixedPeak with { Int8WidthFactor = 2, Fma256OneCoreGflops = 140 }).Describe());
        Assert.Contains("its 256-bit ones at 140.0", (fixedPeak with { Int8WidthFactor = 2, Fma256OneCoreGflops = 140 }).Describe());
        Assert.Equal(peak.Int8WidthFactor == 2, peak.Describe().Contains("AVX-512 VNNI"));
    }

    /// <summary>Zen 4 splits a 512-bit FMA into two halves (same flops as 256-bit); Zen 5 and Intel run it whole (twice).</summary>
    [Theory]
    [InlineData(289.4, 289.3, 1)]
    [InlineData(578.2, 289.1, 2)]
    [InlineData(540.0, 300.0, 2)] // a preempted 512-bit burst still tells a full-width core
    [InlineData(320.0, 289.0, 1)]
    public void The_int8_width_factor_follows_the_512_against_256_bit_fma_rate(double gflops512, double gflops256, int factor) =>
        Assert.Equal(factor, FmaProbe.WidthFactor(gflops512, gflops256));

    [Fact]
    public void Percentiles_interpolate_between_ranks()
    {
        double[] sorted = [10, 20, 30, 40, 50];
        Assert.Equal(30, ModelBenchmark.Percentile(sorted, 0.5));
        Assert.Equal(46, ModelBenchmark.Percentile(sorted, 0.9), 9);
        Assert.Equal(50, ModelBenchmark.Percentile(sorted, 1.0));
        Assert.Equal(7, ModelBenchmark.Percentile([7], 0.99));
    }

    [Fact]
    public async Task The_command_prints_json_with_the_peak_and_rejects_bad_lists()
    {
        string model = TestModels.Save(TestModels.SmallConvNet("instance", metadata: TestModels.Resnet6Ngf8));
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(),
            ["bench", "-m", model, "--sizes", "16", "--batch", "1,2", "--threads", "1", "--iters", "2", "--warmup", "0", "--json"],
            output, error);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output.ToString());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        foreach (var r in results)
        {
            double peak = r.GetProperty("peakGflops").GetDouble();
            Assert.True(peak > 0);
            // threads 1: the one-core figure of the FMA probe, reported beside it
            Assert.Equal(r.GetProperty("fmaPeak").GetProperty("oneCoreGflops").GetDouble(), peak, 9);
            Assert.Equal(r.GetProperty("gflops").GetDouble() / peak, r.GetProperty("peakFraction").GetDouble(), 9);
        }

        var badError = new StringWriter();
        int badCode = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(), ["bench", "-m", model, "--sizes", "16,x"], new StringWriter(), badError);
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Usage, badCode);
        Assert.Contains("'x'", badError.ToString());
        Assert.DoesNotContain("   at ", badError.ToString());
    }
}
