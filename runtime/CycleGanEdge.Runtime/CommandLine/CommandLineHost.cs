using System.CommandLine;
using System.CommandLine.Parsing;

namespace CycleGanEdge.Runtime.CommandLine;

/// <summary>
/// Parses and runs a command tree the same way for all three programs: a usage error is one
/// "error: &lt;option&gt;: &lt;reason&gt;" line on stderr (plus a pointer to --help) and <see cref="ExitCodes.Usage"/>;
/// an exception nobody expected is one "error:" line and <see cref="ExitCodes.Failed"/>, never a stack trace.
/// </summary>
public static class CommandLineHost
{
    /// <summary>Set to 1 to print the stack trace of an unexpected exception (for a bug report).</summary>
    public const string StackTraceVariable = "CYCLEGAN_STACK_TRACE";

    public static async Task<int> InvokeAsync(string programName, Command root, IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken ct = default)
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
            return ExitCodes.Usage;
        }
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                await error.WriteLineAsync($"error: {Describe(e)}");
            await error.WriteLineAsync($"See '{CommandPath(parse, programName)} --help'.");
            return ExitCodes.Usage;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            // A bug, not a user mistake: still one line, with the stack trace only on request.
            await error.WriteLineAsync($"error: unexpected {e.GetType().Name}: {FirstLine(e.Message)} (please report it; {StackTraceVariable}=1 prints the stack trace)");
            if (Environment.GetEnvironmentVariable(StackTraceVariable) == "1")
                await error.WriteLineAsync(e.ToString());
            return ExitCodes.Failed;
        }
    }

    /// <summary>"--tile: must be at least 64": the option or argument first, then the reason.</summary>
    private static string Describe(ParseError e)
    {
        string? name = e.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult a => a.Argument.Name,
            _ => null,
        };
        string message = FirstLine(e.Message);
        if (name is null) return message;
        if (message.StartsWith(name + " ", StringComparison.Ordinal))
            message = message[(name.Length + 1)..];
        else if (message.StartsWith(name + ": ", StringComparison.Ordinal))
            message = message[(name.Length + 2)..];
        return $"{name}: {message}";
    }

    private static string CommandPath(ParseResult parse, string programName)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as CommandResult)
            names.Insert(0, r.Parent is null ? programName : r.Command.Name);
        return string.Join(' ', names);
    }

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();
}
