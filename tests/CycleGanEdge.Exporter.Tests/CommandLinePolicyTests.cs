using System.Runtime.CompilerServices;
using CycleGanEdge.Export;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Tests.Shared;
using Xunit.Abstractions;

namespace CycleGanEdge.Exporter.Tests;

/// <summary>cyclegan-export's --help texts (approved) and the bad-value sweep of every option (see <see cref="CommandLineSweep"/>).</summary>
public class CommandLinePolicyTests(ITestOutputHelper log)
{
    public static TheoryData<string> Commands() => [.. CommandLineSweep.CommandPaths(ExportCommand.Create())];

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_text_matches_the_approved_text(string command)
    {
        var output = new StringWriter();
        int code = await ExportCommand.RunAsync([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"], output, new StringWriter());
        Assert.Equal(ExitCodes.Success, code);
        ApprovedText.AssertMatches(ApprovedFolder(), string.Join('.', ["cyclegan-export", .. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "help"]), output.ToString());
    }

    [Fact]
    public async Task Every_option_of_every_command_meets_bad_values_with_one_error_line()
    {
        using var baseFolder = new TempFolder("sweep-base");
        string checkpoint = baseFolder.Sub("junk.ckpt");
        File.WriteAllBytes(checkpoint, [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 31 % 253))]);
        string model = baseFolder.Sub("junk.onnx");
        File.Copy(checkpoint, model);
        string calibration = Directory.CreateDirectory(baseFolder.Sub("calibration")).FullName;
        var bases = new Dictionary<string, string[][]>
        {
            ["export"] = [[checkpoint], ["-o", baseFolder.Sub("out.onnx")]],
            ["check"] = [[model]],
            ["quantize"] = [[model], ["--calibration", calibration], ["-o", baseFolder.Sub("out.int8.onnx")]],
        };
        using var sweep = new CommandLineSweep();
        var result = await sweep.RunAsync("cyclegan-export", ExportCommand.Create, bases, baseFolder.Path);
        log.WriteLine($"{result.Cases} cases, {result.Accepted.Count} accepted by the parser");
        // The accepted list is written (as .received.txt when it changed) even when some case failed.
        var listChanged = Record.Exception(() => ApprovedText.AssertMatches(ApprovedFolder(), "cyclegan-export.accepted-values", string.Join('\n', result.Accepted)));
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));
        Assert.Null(listChanged);
    }

    private static string ApprovedFolder([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "Approved");
}
