using System.Runtime.CompilerServices;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Trainer;
using Xunit.Abstractions;

namespace CycleGanEdge.Torch.Tests.Cli;

/// <summary>cyclegan-train's --help texts (approved) and the bad-value sweep of every option (see <see cref="CommandLineSweep"/>).</summary>
public class CommandLinePolicyTests(ITestOutputHelper log)
{
    public static TheoryData<string> Commands() => [.. CommandLineSweep.CommandPaths(Program.CreateRoot())];

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_text_matches_the_approved_text(string command)
    {
        var output = new StringWriter();
        int code = await CommandLineHost.InvokeAsync("cyclegan-train", Program.CreateRoot(), [.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"], output, new StringWriter());
        Assert.Equal(ExitCodes.Success, code);
        // The root command is named after the running executable: the test host here.
        string actual = output.ToString().Replace("testhost", "cyclegan-train", StringComparison.Ordinal);
        ApprovedText.AssertMatches(ApprovedFolder(), string.Join('.', ["cyclegan-train", .. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "help"]), actual);
    }

    [Fact]
    public async Task Every_option_of_every_command_meets_bad_values_with_one_error_line()
    {
        // Each base fails at once (an empty data root, a dataset folder that already holds one, a GPU this CPU build cannot
        // use), so no value the parser accepts starts a training run or a download.
        using var baseFolder = new TempFolder("sweep-base");
        string empty = Directory.CreateDirectory(baseFolder.Sub("empty")).FullName;
        string existing = Directory.CreateDirectory(baseFolder.Sub("existing", "trainA")).Parent!.FullName;
        string junk = baseFolder.Sub("junk-cache");
        File.WriteAllText(junk, "not a folder");
        var bases = new Dictionary<string, string[][]>
        {
            ["train"] = [["--dataroot", empty], ["--checkpoints-dir", baseFolder.Sub("checkpoints")]],
            ["bench"] = [["--device", "cuda:7"]],
            ["data emoji"] = [["-o", existing], ["--cache", junk]],
            ["data fluent"] = [["-o", existing], ["--cache", junk]],
            ["data colorize"] = [["-o", existing], ["--cache", junk], ["--from", empty]],
            ["data masked"] = [["-o", existing], ["--cache", junk], ["--from", empty]],
            ["data from"] = [["--a", empty], ["--b", empty], ["-o", existing]],
            ["classifier"] = [["--dataroot", empty], ["-o", baseFolder.Sub("classifier.onnx")]],
        };
        using var sweep = new CommandLineSweep();
        var result = await sweep.RunAsync("cyclegan-train", Program.CreateRoot, bases, baseFolder.Path, "--device cuda:7: ");
        log.WriteLine($"{result.Cases} cases, {result.Accepted.Count} accepted by the parser");
        // The accepted list is written (as .received.txt when it changed) even when some case failed.
        var listChanged = Record.Exception(() => ApprovedText.AssertMatches(ApprovedFolder(), "cyclegan-train.accepted-values", string.Join('\n', result.Accepted)));
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));
        Assert.Null(listChanged);
    }

    private static string ApprovedFolder([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "Approved");
}
