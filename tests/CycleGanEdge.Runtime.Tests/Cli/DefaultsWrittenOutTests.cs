using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Run;
using CycleGanEdge.Tests.Shared;
using Xunit.Abstractions;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>Every default cyclegan-run's --help documents, written out, means what leaving it out means (see <see cref="WrittenOutDefaults"/>).</summary>
public partial class DefaultsWrittenOutTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Every_documented_default_written_out_binds_as_leaving_it_out_and_translate_runs_the_same()
    {
        using var folder = new TempFolder("defaults");
        string model = folder.Sub("negate.onnx");
        File.WriteAllBytes(model, TestModels.Negate(new TestModels.Spec()));
        string input = Directory.CreateDirectory(folder.Sub("in")).FullName;
        File.WriteAllBytes(Path.Combine(input, "a.png"), ImageCodec.Encode(TestImages.Random(16, 12), ImageFormat.Png));
        // No option here documents a default: the case adds it, so base and case differ only in that option.
        var bases = new Dictionary<string, string[]>
        {
            ["translate"] = ["-m", model, input, "-o", folder.Sub("out")],
            ["info"] = ["-m", model],
            ["video"] = ["-m", model, folder.Sub("in.mp4"), "-o", folder.Sub("out.mp4")],
            ["bench"] = ["-m", model],
            ["eval"] = ["-m", model, "--input", input],
        };
        var result = await WrittenOutDefaults.CheckAsync(Program.CreateRoot, bases);
        log.WriteLine($"{result.Checked.Count} documented defaults written out, {result.Descriptive.Count} described in words");
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));

        // translate prints the settings it ended with: the same line (measured times aside) and the same images.
        var plain = await TranslateAsync(bases["translate"], folder.Sub("plain"));
        Assert.Equal(0, plain.ExitCode);
        var differences = new List<string>();
        foreach (var c in result.Checked.Where(c => c.Command == "translate"))
        {
            var written = await TranslateAsync([.. bases["translate"], c.Option, c.Value], folder.Sub("written-" + c.Option.TrimStart('-')));
            if (written.ExitCode != 0 || written.Settings != plain.Settings || !written.Image.SequenceEqual(plain.Image))
                differences.Add($"translate {c.Option} {c.Value}: exit {written.ExitCode}, {written.Settings} against {plain.Settings}");
        }
        Assert.True(differences.Count == 0, string.Join('\n', differences));
        ApprovedText.AssertMatches(Path.Combine(ThisFolder(), "Approved"), "cyclegan-run.described-defaults", string.Join('\n', result.Descriptive));
    }

    private static async Task<(int ExitCode, string Settings, byte[] Image)> TranslateAsync(string[] line, string output)
    {
        string[] args = ["translate", .. line];
        args[Array.IndexOf(args, "-o") + 1] = output;
        var r = await CliRunner.RunAsync(args);
        string settings = r.Error.Split('\n').FirstOrDefault(l => l.StartsWith("settings: ", StringComparison.Ordinal)) ?? r.Error;
        string image = Path.Combine(output, "a.png");
        return (r.ExitCode, MeasuredNumber().Replace(settings, "#"), File.Exists(image) ? File.ReadAllBytes(image) : []);
    }

    /// <summary>The settings line's reason quotes measured times ("~0.4 ms", "= 2.8%"): not settings.</summary>
    [GeneratedRegex(@"\d+(\.\d+)?(?= ?(ms|%))")]
    private static partial Regex MeasuredNumber();

    private static string ThisFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
