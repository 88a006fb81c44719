using Xunit.Abstractions;
using System.Runtime.CompilerServices;
using CycleGanEdge.Run;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>Every option and argument of every cyclegan-run command with bad values (see <see cref="CommandLineSweep"/>).</summary>
public class CommandLineSweepTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Every_option_of_every_command_meets_bad_values_with_one_error_line()
    {
        using var baseFolder = new TempFolder("sweep-base");
        string model = baseFolder.Sub("junk.onnx");
        File.WriteAllBytes(model, [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 31 % 253))]);
        string input = Directory.CreateDirectory(baseFolder.Sub("in")).FullName;
        File.WriteAllBytes(Path.Combine(input, "a.png"), ImageCodec.Encode(TestImages.Random(16, 16), ImageFormat.Png));
        string video = baseFolder.Sub("in.mp4");
        File.WriteAllBytes(video, [1, 2, 3]);
        var bases = new Dictionary<string, string[][]>
        {
            ["translate"] = [["-m", model], [input], ["-o", baseFolder.Sub("out")]],
            ["info"] = [["-m", model]],
            ["video"] = [["-m", model], [video], ["-o", baseFolder.Sub("out.mp4")]],
            ["bench"] = [["-m", model], ["--no-peak"]],
            ["eval"] = [["-m", model], ["--input", input], ["-o", baseFolder.Sub("report")]],
        };
        using var sweep = new CommandLineSweep();
        var result = await sweep.RunAsync("cyclegan-run", Program.CreateRoot, bases, baseFolder.Path);
        log.WriteLine($"{result.Cases} cases, {result.Accepted.Count} accepted by the parser");
        // The accepted list is written (as .received.txt when it changed) even when some case failed.
        var listChanged = Record.Exception(() => ApprovedText.AssertMatches(Path.Combine(ThisFolder(), "Approved"), "cyclegan-run.accepted-values", string.Join('\n', result.Accepted)));
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));
        Assert.Null(listChanged);
    }

    private static string ThisFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
