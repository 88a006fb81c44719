using System.CommandLine;

namespace CycleGanEdge.Run;

public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>Some inputs failed; the others were done.</summary>
    public const int SomeFailed = 1;
    /// <summary>Bad option, missing or unusable model: nothing was done.</summary>
    public const int UsageError = 2;
    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells do).</summary>
    public const int Interrupted = 130;
}

public static class Cli
{
    /// <summary>Parses and runs; parse errors are printed one per line and give <see cref="ExitCodes.UsageError"/>.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args, TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        ParseResult parse;
        try
        {
            parse = root.Parse(args);
        }
        catch (InvalidOperationException e)
        {
            // System.CommandLine runs validators even on values it could not convert, and reading such a
            // value throws: that is a usage error ("Cannot parse argument 'abc' for option '--tile' ..."), not a crash.
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.UsageError;
        }
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                await error.WriteLineAsync($"error: {e.Message}");
            await error.WriteLineAsync($"See '{CommandPath(parse)} --help'.");
            return ExitCodes.UsageError;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command is RootCommand ? "cyclegan-run" : r.Command.Name);
        return string.Join(' ', names);
    }
}
