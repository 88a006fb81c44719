using CycleGanEdge.Core;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Run.Batch;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>translate decides (a pure <see cref="TranslatePlan"/>), then does; --dry-run prints the decision and stops.</summary>
public class TranslatePlanTests
{
    private static readonly ImageWork Work = new(ModelGigaMacs: 0.5, DecodeEncodeMs: 1, RunBytes: 100 << 20);

    [Fact]
    public void Automatic_sessions_and_threads_follow_the_work_and_share_the_memory_budget()
    {
        var options = new TranslatorOptions { MaxMemory = 1L << 30 };
        var plan = TranslatePlan.Make("m.onnx", options, autoThreads: true, sessions: 0, new PipelineSettings(), images: 10, Work, cores: 4, freeCores: 3);
        Assert.Equal(AutoSettings.Sessions(3, 10, Work, 1L << 30), plan.Sessions);
        Assert.Equal(3, plan.Sessions);
        Assert.Equal(1, plan.Options.Threads);
        Assert.Equal((1L << 30) / 3, plan.Options.MaxMemory);
        Assert.Equal(AutoSettings.Reason(Work, 1, 4, 3, 3), plan.ThreadsReason);

        // One image: one session with every free core.
        var single = TranslatePlan.Make("m.onnx", options, autoThreads: true, sessions: 0, new PipelineSettings(), images: 1, Work, cores: 4, freeCores: 3);
        Assert.Equal((1, 3, 1L << 30), (single.Sessions, single.Options.Threads, single.Options.MaxMemory));
    }

    [Fact]
    public void Given_threads_and_sessions_are_kept_and_no_reason_is_made_up()
    {
        var options = new TranslatorOptions { Threads = 2, MaxMemory = 1000, Tile = 0 };
        var plan = TranslatePlan.Make("m.onnx", options, autoThreads: false, sessions: 2, new PipelineSettings(), images: 10, work: null, cores: 4, freeCores: 4);
        Assert.Equal((2, 2, 500L), (plan.Sessions, plan.Options.Threads, plan.Options.MaxMemory));
        Assert.Null(plan.ThreadsReason);
        Assert.Equal("no tiles with exact statistics", plan.Tiles);
        Assert.Equal("tiles of 256 px with tile statistics", (plan with { Options = plan.Options with { Tile = 256, TileNorm = TileNorm.Tile } }).Tiles);
    }

    [Fact]
    public async Task Dry_run_prints_the_plan_and_writes_nothing()
    {
        string dir = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.SmallConvNet("instance", metadata: TestModels.Resnet6Ngf8, resize: true), dir);
        string input = Path.Combine(dir, "a.png");
        File.WriteAllBytes(input, ImageCodec.Encode(TestImages.Random(20, 12), ImageFormat.Png));
        string output = Path.Combine(dir, "out");

        var r = await CliRunner.RunAsync("translate", "-m", model, input, "-o", output, "--dry-run", "--tile", "16", "--tile-norm", "tile", "--threads", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.False(Directory.Exists(output));
        var lines = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"plan: model {model}: photos -> negatives, resnet_6blocks (ngf 8, norm instance, upsample resize, antialias none, multiple of 4), contract version 1", lines[0]);
        Assert.Equal("plan: 1 image(s) found", lines[1]);
        // auto names the order it would try this build's providers in (this CPU build has only cpu).
        Assert.Equal($"plan: 1 session(s) on provider auto (tries {string.Join(", then ", SessionFactory.AvailableProviders())}), threads 1 (--threads)", lines[2]);
        Assert.Contains("cpu)", lines[2]);
        Assert.Equal("plan: jobs 1:1:4, batch 1, tiles of 16 px with tile statistics", lines[3]);
        Assert.StartsWith("plan: note: --tile-norm tile", lines[4]);

        // A bad model fails the dry run as it fails the run.
        string bad = TestModels.Save(TestModels.Negate(new() { Metadata = { [ModelContract.IoKey] = null } }), dir, "bad.onnx");
        var refused = await CliRunner.RunAsync("translate", "-m", bad, input, "-o", output, "--dry-run");
        Assert.Equal(ExitCodes.Failed, refused.ExitCode); // as translate and info say it of a bad model
        Assert.Contains("metadata key(s) missing: cyclegan.io", refused.Error);
    }

    [Fact]
    public async Task Verbose_prints_the_plan_before_the_run()
    {
        string dir = TestFiles.TempFolder();
        string input = Path.Combine(dir, "a.png");
        File.WriteAllBytes(input, ImageCodec.Encode(TestImages.Random(20, 12), ImageFormat.Png));
        var r = await CliRunner.RunAsync("translate", "-m", TestModels.Save(TestModels.Negate(new()), dir), input, "-o", Path.Combine(dir, "out"), "-v");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("plan: 1 image(s) found", r.Error);
        Assert.True(r.Error.IndexOf("plan: ", StringComparison.Ordinal) < r.Error.IndexOf("settings: ", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(dir, "out", "a.png")));
    }
}
