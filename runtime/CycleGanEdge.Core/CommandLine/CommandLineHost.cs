using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace CycleGanEdge.Core.CommandLine;

/// <summary>
/// Parses and runs a command tree the same way for all three programs: a usage error is one
/// "error: &lt;option&gt;: &lt;reason&gt;" line on stderr and <see cref="ExitCodes.Usage"/>;
/// an exception nobody expected is one "error:" line and <see cref="ExitCodes.Failed"/>, never a stack trace.
/// </summary>
public static partial class CommandLineHost
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
        catch (Exception e)
        {
            // A parser or validator bug (a custom parser that throws): still one line, never an unhandled crash.
            return await UnexpectedAsync(e, error);
        }
        if (parse.Errors.Count > 0 && parse.CommandResult.Command == root && root.Subcommands.Count > 0)
        {
            // No command, or a word that is none: one line naming the commands beats a line per leftover token
            // (and tells a user of the old `cyclegan-export MODEL.ckpt` form what to type now).
            string commands = string.Join(", ", root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            string what = args.Count == 0 ? "missing command" : $"{args[0]}: not a command";
            await error.WriteLineAsync($"error: {what}; {programName} takes one of: {commands} (see {programName} --help)");
            return ExitCodes.Usage;
        }
        if (parse.Errors.Count > 0)
        {
            // One line per mistake and nothing else, so scripts and tests can rely on the shape; --help lists the choices.
            var flagValues = MisspelledFlagValues(parse, args);
            foreach (var e in parse.Errors)
                await error.WriteLineAsync($"error: {(flagValues.TryGetValue(e.Message, out string? said) ? said : Describe(e))}");
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
            return await UnexpectedAsync(e, error);
        }
    }

    /// <summary>A bug, not a user mistake: still one line, with the stack trace only on request.</summary>
    private static async Task<int> UnexpectedAsync(Exception e, TextWriter error)
    {
        await error.WriteLineAsync($"error: unexpected {e.GetType().Name}: {FirstLine(e.Message)} (please report it; {StackTraceVariable}=1 prints the stack trace)");
        if (Environment.GetEnvironmentVariable(StackTraceVariable) == "1")
            await error.WriteLineAsync(e.ToString());
        return ExitCodes.Failed;
    }

    /// <summary>
    /// "--float-ends maybe": the parser leaves a word that is not true or false after a flag and calls it an unknown argument.
    /// Keyed by that message, the line to print instead: the flag and the values it takes.
    /// </summary>
    private static Dictionary<string, string> MisspelledFlagValues(ParseResult parse, IReadOnlyList<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var c = parse.CommandResult; c is not null; c = c.Parent as CommandResult)
            foreach (var option in c.Command.Options.Where(o => o.ValueType == typeof(bool)))
                foreach (string alias in option.Aliases.Append(option.Name))
                    flags.TryAdd(alias, option.Name);
        var unmatched = parse.UnmatchedTokens.ToHashSet(StringComparer.Ordinal);
        var lines = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Count; i++)
            if (flags.TryGetValue(args[i], out string? flag) && unmatched.Contains(args[i + 1]) && !args[i + 1].StartsWith('-'))
                lines.TryAdd($"Unrecognized command or argument '{args[i + 1]}'.", $"{flag}: takes true or false (or nothing, for true), not '{args[i + 1]}'");
        return lines;
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
        // One line: the parser's enum message lists its choices on the lines below "Must be one of:".
        string message = string.Join(' ', e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // AcceptExistingOnly says "File does not exist: '/x/y.onnx'."; the policy's shape is "/x/y.onnx: file not found".
        var missing = MissingPath().Match(message);
        if (missing.Success)
            return $"{missing.Groups[2].Value}: {(missing.Groups[1].Value == "Directory" ? "folder" : "file")} not found";
        if (name is null || Path.IsPathRooted(message)) return message; // "/path/x.onnx: reason" names its file already
        if (message.StartsWith(name + " ", StringComparison.Ordinal))
            message = message[(name.Length + 1)..];
        else if (message.StartsWith(name + ": ", StringComparison.Ordinal))
            message = message[(name.Length + 2)..];
        return $"{name}: {message}";
    }

    [GeneratedRegex(@"^(File|Directory|File or directory) does not exist: '(.*)'\.?$")]
    private static partial Regex MissingPath();

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();
}
