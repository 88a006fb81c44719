using System.Runtime.CompilerServices;
using CycleGanEdge.Run;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>
/// Approved --help text for every command, so option drift shows up in review. When an option changes on
/// purpose, update the approved file by hand in the same commit (a mismatch writes a .received.txt beside it).
/// </summary>
public class HelpTextTests
{
    public static TheoryData<string> Commands() => [.. CommandLineSweep.CommandPaths(Program.CreateRoot())];

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_text_matches_the_approved_text(string command)
    {
        var r = await CliRunner.RunAsync([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        // The root command is named after the running executable: the test host here.
        string actual = r.Output.Replace("testhost", "cyclegan-run", StringComparison.Ordinal);
        ApprovedText.AssertMatches(Path.Combine(ThisFolder(), "Approved"), string.Join('.', ["cyclegan-run", .. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "help"]), actual);
    }

    private static string ThisFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
