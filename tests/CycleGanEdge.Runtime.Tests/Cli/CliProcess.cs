using System.Diagnostics;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>The real cyclegan-run executable in its own process, for tests that SIGKILL it.</summary>
internal static class CliProcess
{
    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-run.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        // Drain both pipes so a chatty process never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs to the end and returns exit code, stdout and stderr.</summary>
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-run.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliResult(process.ExitCode, await output, await error);
    }

    /// <summary>Waits until <paramref name="done"/> holds or the process exits (bounded, so a hung test ends).</summary>
    public static async Task WaitUntilAsync(Process process, Func<bool> done, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!process.HasExited && !done() && clock.Elapsed < limit)
            await Task.Delay(2);
    }

    /// <summary>SIGKILL: no chance to clean up. Returns false if the process had already ended by itself.</summary>
    public static async Task<bool> KillAsync(Process process)
    {
        process.Kill(entireProcessTree: true); // does nothing if it has already exited
        await process.WaitForExitAsync();
        return process.ExitCode == 128 + 9; // .NET reports a signal as 128 + its number, as shells do
    }
}
