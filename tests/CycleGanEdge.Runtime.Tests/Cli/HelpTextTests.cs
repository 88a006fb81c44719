using System.Runtime.CompilerServices;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>
/// Approved --help text per command, so option drift shows up in review. When an option changes on
/// purpose, update the approved file by hand in the same commit.
/// </summary>
public class HelpTextTests
{
    [Theory]
    [InlineData("translate")]
    [InlineData("info")]
    [InlineData("video")]
    public async Task Help_text_matches_the_approved_text(string command)
    {
        var r = await CliRunner.RunAsync(command, "--help");
        Assert.Equal(0, r.ExitCode);
        string approved = File.ReadAllText(Path.Combine(ThisFolder(), "Approved", $"{command}.help.txt"));
        // The root command is named after the running executable: the test host here.
        string actual = r.Output.Replace("testhost ", "cyclegan-run ", StringComparison.Ordinal);
        Assert.Equal(approved.ReplaceLineEndings().TrimEnd(), actual.ReplaceLineEndings().TrimEnd());
    }

    private static string ThisFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
