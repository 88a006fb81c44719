using System.CommandLine;
using System.CommandLine.Help;
using CycleGanEdge.Core.CommandLine;

namespace CycleGanEdge.Tests.Shared;

/// <summary>
/// Runs every option and argument of every command with bad values, in-process through <see cref="CommandLineHost"/>
/// (the programs' own entry), and checks the policy: exit 2 (or 1 for a file that cannot be used), exactly one
/// "error:" line on stderr and nothing else there, no stack trace. Each command starts from a base command line
/// that is valid but fails at once (on a junk input file, or a GPU this build lacks), so a value the parser accepts never starts real work; such
/// values are listed (<see cref="Result.Accepted"/>) and kept in an approved file, so a new one shows up in review,
/// as are values the parser let through that the work then refused as a usage mistake with exit 1 instead of 2.
/// </summary>
/// <remarks>Compiled into each test project (linked from tests/Shared in its .csproj).</remarks>
internal sealed class CommandLineSweep : IDisposable
{
    private readonly TempFolder _values = new("sweep-values");

    public CommandLineSweep()
    {
        Junk = _values.Sub("junk.bin");
        File.WriteAllBytes(Junk, [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 7919 % 251))]);
        Missing = _values.Sub("missing", "nothing-here.onnx");
    }

    /// <summary>A file of random bytes and a path that does not exist: two of the bad values.</summary>
    public string Junk { get; }
    public string Missing { get; }

    /// <summary>Unknown word, negative, zero, huge, NaN, empty, a missing file, a junk file.</summary>
    public IReadOnlyList<string> BadValues => ["nonsense-word", "-1", "0", "99999999999999999999", "NaN", "", Missing, Junk];

    public sealed record Result(int Cases, IReadOnlyList<string> Failures, IReadOnlyList<string> Accepted);

    /// <param name="baseLines">Per command path ("translate", "data emoji"): the base command line in groups, an option with its
    /// value or a flag per group, positional arguments as one-token groups in order.</param>
    /// <param name="baseFailures">What the base's own failure says (the folder of its input files, say): an exit-1 error
    /// containing one of them means the swept value was accepted.</param>
    public async Task<Result> RunAsync(string program, Func<Command> createRoot, IReadOnlyDictionary<string, string[][]> baseLines, params string[] baseFailures)
    {
        var failures = new List<string>();
        var accepted = new List<string>();
        int cases = 0;
        string cwd = Environment.CurrentDirectory;
        using var scratch = new TempFolder("sweep-cwd");
        try // a relative value ("0", "nonsense-word") lands in scratch, not in the repo
        {
            foreach (var (path, groups) in baseLines)
            {
                string[] names = path.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var command = Find(createRoot(), names);
                var targets = new List<(string Label, Func<string, string[][]> With)>();
                // A flag takes no value: "--force nonsense-word" tests the positional arguments, not the flag.
                foreach (var option in command.Options.Where(o => o is not (HelpOption or VersionOption) && o.ValueType != typeof(bool)))
                {
                    var aliases = option.Aliases.Append(option.Name).ToHashSet();
                    targets.Add((option.Name, value => [.. groups.Where(g => !aliases.Contains(g[0])), [option.Name, value]]));
                }
                for (int i = 0; i < command.Arguments.Count; i++)
                {
                    int index = i;
                    targets.Add((command.Arguments[i].Name, value => ReplacePositional(groups, index, value)));
                }
                foreach (var (label, with) in targets)
                    foreach (string value in BadValues)
                    {
                        cases++;
                        // Each case in its own empty folder: a relative folder one case creates must not exist for the next.
                        Environment.CurrentDirectory = Directory.CreateDirectory(Path.Combine(scratch.Path, cases.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
                        string[] args = [.. names, .. with(value).SelectMany(g => g)];
                        var output = new StringWriter();
                        var error = new StringWriter();
                        int exit = await CommandLineHost.InvokeAsync(program, createRoot(), args, output, error);
                        if (Directory.Exists(Path.GetDirectoryName(Missing))) Directory.Delete(Path.GetDirectoryName(Missing)!, recursive: true); // an output made there
                        string shown = $"{program} {path} {label} '{Shorten(value)}'";
                        string[] lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                        if (exit is not (1 or 2))
                            failures.Add($"{shown}: exit {exit} ({Shorten(string.Join(" | ", lines))})");
                        else if (lines.Length != 1 || !lines[0].StartsWith("error: ", StringComparison.Ordinal))
                            failures.Add($"{shown}: stderr is not one error line: {Shorten(string.Join(" | ", lines), 400)}");
                        else if (lines[0].Contains("   at ", StringComparison.Ordinal) || lines[0].Contains("Exception", StringComparison.Ordinal))
                            failures.Add($"{shown}: {lines[0]}");
                        // The base's own failure may be a usage error too (a device this build lacks): exit 1 or 2.
                        else if (baseFailures.Any(b => lines[0].Contains(b, StringComparison.Ordinal)) && !lines[0].Contains(_values.Path, StringComparison.Ordinal))
                            accepted.Add($"{path} {label} {Shorten(value)}".TrimStart());
                        else if (exit == 1 && !lines[0].Contains(_values.Path, StringComparison.Ordinal))
                            accepted.Add($"{path} {label} {Shorten(value)}: refused only by the work, exit 1: {Shorten(lines[0][7..], 120)}".TrimStart());
                    }
            }
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        return new Result(cases, failures, accepted);
    }

    /// <summary>The missing and junk paths differ per run: the approved list names them by role.</summary>
    private string Shorten(string value, int max = 200)
    {
        value = value.Replace(Missing, "MISSING-FILE", StringComparison.Ordinal).Replace(Junk, "JUNK-FILE", StringComparison.Ordinal);
        return value.Length <= max ? value : value[..max] + "...";
    }

    private static string[][] ReplacePositional(string[][] groups, int index, string value)
    {
        var result = new List<string[]>();
        int seen = 0;
        foreach (var g in groups)
        {
            bool positional = g.Length == 1 && !g[0].StartsWith('-');
            result.Add(positional && seen++ == index ? [value] : g);
        }
        return [.. result];
    }

    private static Command Find(Command root, string[] names)
    {
        var command = root;
        foreach (string name in names)
            command = command.Subcommands.Single(c => c.Name == name);
        return command;
    }

    /// <summary>Every command of the tree as its path below the root ("" for the root, "data emoji"), root first.</summary>
    public static IEnumerable<string> CommandPaths(Command root, string prefix = "")
    {
        yield return prefix;
        foreach (var sub in root.Subcommands)
            foreach (string path in CommandPaths(sub, (prefix + " " + sub.Name).TrimStart()))
                yield return path;
    }

    public void Dispose() => _values.Dispose();
}
