using CycleGanEdge.Runtime.Video;

namespace CycleGanEdge.Runtime.Tests.Video;

/// <summary>
/// Video frames too large for one pass (issue 28, item 4): exact segments per frame, and with --temporal the statistics
/// carried from the previous frame (one pass through all segments per tile). Frames come from
/// <see cref="FlickerMeasure.GeneratedClip"/> straight into the frame API, so no video codec blurs the comparison.
/// </summary>
public class SegmentedVideoTests
{
    private const int Width = 64, Height = 48;
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu", Threads = 1, Tile = 0 };

    public static TheoryData<string> Models => ["convstack", "resnet"];

    /// <summary>A conv stack with 4 instance norms, or the shipped resnet_6blocks (17 norms, ngf 32: cheap at 64x48).</summary>
    private static string Model(string name) => name == "convstack"
        ? TestModels.Save(TestModels.ConvStack(depth: 4, width: 8))
        : Path.Combine(RepoRoot(), "models", "emoji-noto2twemoji", "noto2twemoji.onnx");

    private static List<byte[]> Translate(Translator translator, IReadOnlyList<byte[]> frames, List<bool>? carried = null)
    {
        var outputs = new List<byte[]>();
        foreach (var frame in frames)
        {
            var output = new byte[frame.Length];
            translator.Translate(frame, output, Width, Height, PixelLayout.Rgb24);
            carried?.Add(translator.LastUsedCarriedStatistics);
            outputs.Add(output);
        }
        return outputs;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Exact_segmented_frames_equal_untiled_frames_and_leave_no_scratch(string name)
    {
        string model = Model(name);
        var clip = FlickerMeasure.GeneratedClip(Width, Height, frames: 3, dx: 2);
        using var whole = Translator.Open(model, Cpu);
        var expected = Translate(whole, clip);
        string scratch = TestFiles.TempFolder();
        var notes = new List<string>();
        // A budget of 1 byte: the stored activations go to scratch files, one store for all frames.
        using (var tiled = Translator.Open(model, Cpu with { Tile = 16, TileOverlap = 4, MaxMemory = 1, ScratchFolder = scratch }))
        {
            tiled.Note = notes.Add;
            var actual = Translate(tiled, clip);
            for (int t = 0; t < clip.Count; t++)
            {
                double mean = TestImages.MeanDifference(expected[t], actual[t]);
                int max = TestImages.MaxDifference(expected[t], actual[t]);
                Console.WriteLine($"{name} frame {t + 1}, exact segments: mean {mean:0.0000} max {max}");
                Assert.True(mean <= 0.05 && max <= 2, $"frame {t + 1}: mean {mean:0.0000}, max {max}");
            }
            Assert.False(tiled.LastUsedCarriedStatistics);
            Assert.Equal(clip.Count, notes.Count(n => n.Contains($"in {scratch}")));
        }
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Carried_statistics_on_a_static_clip_equal_the_exact_result_from_frame_2(string name)
    {
        string model = Model(name);
        var still = FlickerMeasure.GeneratedClip(Width, Height, frames: 1, dx: 0)[0];
        byte[][] clip = [still, still, still];
        using var whole = Translator.Open(model, Cpu);
        var expected = Translate(whole, [still])[0];
        var carried = new List<bool>();
        using var tiled = Translator.Open(model, Cpu with { Tile = 16, TileOverlap = 4, CarryStatistics = true });
        var actual = Translate(tiled, clip, carried);
        Assert.Equal([false, true, true], carried);
        for (int t = 0; t < clip.Length; t++)
        {
            double mean = TestImages.MeanDifference(expected, actual[t]);
            int max = TestImages.MaxDifference(expected, actual[t]);
            Console.WriteLine($"{name} static frame {t + 1}, carried: mean {mean:0.0000} max {max}");
            Assert.True(mean <= 0.05 && max <= 2, $"frame {t + 1}: mean {mean:0.0000}, max {max}");
        }
    }

    /// <summary>The view panning right over a wider still scene by <paramref name="dx"/> px a frame.</summary>
    private static List<byte[]> Pan(int frames, int dx)
    {
        int sceneWidth = Width + dx * frames;
        var scene = FlickerMeasure.GeneratedClip(sceneWidth, Height, frames: 1, dx: 0)[0];
        var clip = new List<byte[]>();
        for (int t = 0; t < frames; t++)
        {
            var f = new byte[Width * Height * 3];
            for (int y = 0; y < Height; y++) Array.Copy(scene, (y * sceneWidth + t * dx) * 3, f, y * Width * 3, Width * 3);
            clip.Add(f);
        }
        return clip;
    }

    /// <summary>Carried against exact, frame by frame (from frame 2), and which frames kept their carried statistics.</summary>
    private static (double Worst, double ExactChange, int Carried) CarriedAgainstExact(string name, string clipName, List<byte[]> clip)
    {
        string model = Model(name);
        using var whole = Translator.Open(model, Cpu);
        var exact = Translate(whole, clip);
        using var tiled = Translator.Open(model, Cpu with { Tile = 16, TileOverlap = 4, CarryStatistics = true });
        var kept = new List<bool>();
        var carried = Translate(tiled, clip, kept);
        Assert.True(TestImages.MeanDifference(exact[0], carried[0]) <= 0.05, "the first frame runs exactly");
        double worst = 0, change = 0;
        for (int t = 1; t < clip.Count; t++)
        {
            double d = TestImages.MeanDifference(exact[t], carried[t]);
            Console.WriteLine($"{name} {clipName} frame {t + 1}: carried vs exact {d:0.000} levels ({(kept[t] ? "carried" : "drift too large: ran exactly")})");
            if (!kept[t]) Assert.True(d <= 0.05, $"frame {t + 1} ran exactly but is {d:0.000} off");
            worst = Math.Max(worst, d);
            change += TestImages.MeanDifference(exact[t], exact[t - 1]) / (clip.Count - 1);
        }
        int n = kept.Count(k => k);
        Console.WriteLine($"{name} {clipName}: worst frame {worst:0.000} levels off exact, {n} of {clip.Count - 1} frames carried; exact frame-to-frame change {change:0.000}");
        return (worst, change, n);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Carried_statistics_on_a_panning_clip_stay_bounded(string name)
    {
        var (worst, change, _) = CarriedAgainstExact(name, "pan 1 px/frame", Pan(frames: 12, dx: 1));
        // Measured: the conv stack carries about half its frames at up to ~1 level; the resnet's drift (0.12-0.25 at
        // 64x48) sends every frame back to exact. Without the drift check the resnet's frames reached 150 levels off.
        Assert.True(worst <= 1.5, $"carried statistics: worst frame {worst:0.000} levels off exact");
        Assert.True(change > 5, $"the clip should move ({change:0.000})");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_flashing_square_is_caught_by_the_drift_check_and_runs_exactly(string name)
    {
        // A square whose colour jumps every frame moves every norm's statistics each frame (like a scene cut).
        var (worst, _, carried) = CarriedAgainstExact(name, "flashing square", FlickerMeasure.GeneratedClip(Width, Height, frames: 6, dx: 0));
        Assert.Equal(0, carried);
        Assert.True(worst <= 0.05, $"exact fallback frames: {worst:0.000}");
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
