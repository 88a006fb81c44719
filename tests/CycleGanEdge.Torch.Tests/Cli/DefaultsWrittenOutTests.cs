using System.Runtime.CompilerServices;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Trainer;
using Xunit.Abstractions;

namespace CycleGanEdge.Torch.Tests.Cli;

/// <summary>Every default cyclegan-train's --help documents, written out, binds as leaving it out (see <see cref="WrittenOutDefaults"/>).</summary>
public class DefaultsWrittenOutTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Every_documented_default_written_out_binds_as_leaving_it_out()
    {
        using var folder = new TempFolder("defaults");
        string data = Directory.CreateDirectory(folder.Sub("data")).FullName;
        // Only parsed (validators included, no action runs): no option here documents a default.
        var bases = new Dictionary<string, string[]>
        {
            ["train"] = ["--dataroot", data],
            ["bench"] = [],
            ["data emoji"] = ["-o", folder.Sub("emoji")],
            ["data fluent"] = ["-o", folder.Sub("fluent")],
            ["data colorize"] = ["-o", folder.Sub("colorize")],
            ["data masked"] = ["-o", folder.Sub("masked")],
            ["data from"] = ["--a", data, "--b", data, "-o", folder.Sub("mine")],
            ["classifier"] = ["--dataroot", data, "-o", folder.Sub("classifier.onnx")],
        };
        var result = await WrittenOutDefaults.CheckAsync(Program.CreateRoot, bases);
        log.WriteLine($"{result.Checked.Count} documented defaults written out, {result.Descriptive.Count} described in words");
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));
        ApprovedText.AssertMatches(ApprovedFolder(), "cyclegan-train.described-defaults", string.Join('\n', result.Descriptive));
    }

    private static string ApprovedFolder([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "Approved");
}
