using System.Collections;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace CycleGanEdge.Tests.Shared;

/// <summary>
/// Every default an option documents in --help ("[default: X]" from its default value, or "(default: X" / "; default: X"
/// in its description), written out on the command line, must give the same bound values as leaving the option out:
/// every option and argument of the command compared after the parse (validators included). A default that is a
/// phrase ("a quarter of this machine's memory", "from the file") cannot be written out; those are listed
/// (<see cref="Result.Descriptive"/>) and kept in an approved file, so a new one is reviewed.
/// </summary>
/// <remarks>Compiled into each test project (linked from tests/Shared in its .csproj), like <see cref="CommandLineSweep"/>.</remarks>
internal static partial class WrittenOutDefaults
{
    public sealed record Case(string Command, string Option, string Value)
    {
        public override string ToString() => $"{Command} {Option} {Value}".TrimStart();
    }

    public sealed record Result(IReadOnlyList<Case> Checked, IReadOnlyList<string> Descriptive, IReadOnlyList<string> Failures);

    /// <param name="baseLines">Per command path ("translate", "data emoji"): a command line that parses without errors.</param>
    /// <param name="needs">Per "path option" ("export --percentile"): what that option only goes with, added to both sides of its case.</param>
    public static async Task<Result> CheckAsync(Func<Command> createRoot, IReadOnlyDictionary<string, string[]> baseLines, IReadOnlyDictionary<string, string[]>? needs = null)
    {
        var checkedCases = new List<Case>();
        var descriptive = new List<string>();
        var failures = new List<string>();
        foreach (string path in CommandLineSweep.CommandPaths(createRoot()))
        {
            string[] names = path.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string help = await HelpAsync(createRoot(), names);
            var command = Find(createRoot(), names);
            var documented = Documented(command, help).ToList();
            if (documented.Count == 0) continue;
            if (!baseLines.TryGetValue(path, out string[]? baseLine))
            {
                failures.Add($"'{path}' documents defaults but has no base command line in the test");
                continue;
            }
            foreach (var (option, value) in documented)
            {
                if (value.Contains(' ') || value.StartsWith('-'))
                {
                    descriptive.Add($"{path} {option.Name}: {value}".TrimStart());
                    continue;
                }
                var c = new Case(path, option.Name, value);
                checkedCases.Add(c);
                string[] line = [.. names, .. baseLine, .. needs?.GetValueOrDefault($"{path} {option.Name}".TrimStart()) ?? []];
                var (plain, plainError) = Bound(createRoot, line);
                if (plainError is not null)
                {
                    failures.Add($"{c}: the base line does not parse: {plainError}");
                    continue;
                }
                var aliases = option.Aliases.Append(option.Name).ToHashSet();
                var (written, error) = Bound(createRoot, [.. Without(line, aliases), option.Name, value]);
                if (error is not null)
                {
                    failures.Add($"{c}: refused or crashed: {error}");
                    continue;
                }
                foreach (var (symbol, left) in plain!)
                    if (!Same(left, written![symbol]))
                        failures.Add($"{c}: binds {symbol} to {Show(written[symbol])}, leaving it out to {Show(left)}");
            }
        }
        return new Result(checkedCases, descriptive, failures);
    }

    /// <summary>Each option's documented defaults, read from the command's own --help rows.</summary>
    private static IEnumerable<(Option Option, string Value)> Documented(Command command, string help)
    {
        foreach (string line in help.Split('\n'))
        {
            var row = HelpRow().Match(line);
            if (!row.Success) continue;
            var option = command.Options.FirstOrDefault(o => o is not (HelpOption or VersionOption)
                && (o.Name == row.Groups[1].Value || o.Aliases.Contains(row.Groups[1].Value)));
            if (option is null) continue;
            foreach (Match d in DefaultText().Matches(row.Groups[2].Value))
                yield return (option, d.Groups["v"].Value.Trim());
        }
    }

    /// <summary>Every option's and argument's value after the parse (what the command's action reads), or the parse's problem.</summary>
    private static (Dictionary<string, object?>? Values, string? Error) Bound(Func<Command> createRoot, string[] args)
    {
        try
        {
            var parse = createRoot().Parse(args);
            if (parse.Errors.Count > 0) return (null, string.Join(" | ", parse.Errors.Select(e => e.Message)));
            var values = new Dictionary<string, object?>();
            foreach (var option in parse.CommandResult.Command.Options.Where(o => o is not (HelpOption or VersionOption)))
                values[option.Name] = parse.GetResult(option) is OptionResult r ? r.GetValueOrDefault<object?>() : DefaultOf(option.ValueType);
            foreach (var argument in parse.CommandResult.Command.Arguments)
                values[argument.Name] = parse.GetResult(argument) is ArgumentResult r ? r.GetValueOrDefault<object?>() : DefaultOf(argument.ValueType);
            return (values, null);
        }
        catch (Exception e)
        {
            return (null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static object? DefaultOf(Type type) => type.IsValueType ? Activator.CreateInstance(type) : null;

    private static bool Same(object? a, object? b) => (a, b) switch
    {
        (FileSystemInfo x, FileSystemInfo y) => x.FullName == y.FullName,
        (string x, string y) => x == y,
        (IEnumerable x, IEnumerable y) => x.Cast<object?>().SequenceEqual(y.Cast<object?>()),
        _ => Equals(a, b),
    };

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"'{s}'",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>()) + "]",
        _ => value.ToString() ?? "",
    };

    /// <summary>The base line without an option (and its value) that the case writes out itself.</summary>
    private static string[] Without(string[] line, HashSet<string> aliases)
    {
        var result = new List<string>();
        for (int i = 0; i < line.Length; i++)
        {
            if (aliases.Contains(line[i])) { i++; continue; }
            result.Add(line[i]);
        }
        return [.. result];
    }

    private static async Task<string> HelpAsync(Command root, string[] names)
    {
        var output = new StringWriter();
        await root.Parse([.. names, "--help"]).InvokeAsync(new InvocationConfiguration { Output = output, Error = new StringWriter() });
        return output.ToString();
    }

    private static Command Find(Command root, string[] names)
    {
        var command = root;
        foreach (string name in names)
            command = command.Subcommands.Single(c => c.Name == name);
        return command;
    }

    /// <summary>"  -j, --jobs &lt;jobs&gt;   Threads ... [default: 1:auto:4]": the first name and the description.</summary>
    [GeneratedRegex(@"^\s{2}(-[^\s,]+)(?:, -[^\s,]+)*(?: <[^>]*>)?\s{2,}(.*)$")]
    private static partial Regex HelpRow();

    /// <summary>"[default: X]" (the whole bracket: "0,4,8"), or "(default: X" / "; default: X" up to ";", "," or ")"; not "cut/fastcut default: X".</summary>
    [GeneratedRegex(@"\[default: (?<v>[^\]]+)\]|(?:\(|; )default: (?<v>[^\];,)]+)")]
    private static partial Regex DefaultText();
}
