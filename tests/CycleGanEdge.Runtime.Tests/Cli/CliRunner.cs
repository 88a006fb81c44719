using CycleGanEdge.Run;

namespace CycleGanEdge.Runtime.Tests.Cli;

internal sealed record CliResult(int ExitCode, string Output, string Error);

internal static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", Program.CreateRoot(), args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }
}
