using System.Text;
using System.Text.RegularExpressions;

namespace CycleGanEdge.Docs.Tests;

/// <summary>One command line a doc shows: where, the command without its comment, the comment, and the block's variables.</summary>
/// <param name="Assignments">"M=models/x.onnx" lines above it in the same block (the command may use $M).</param>
internal sealed partial record DocCommand(string File, int Line, string Text, string Comment, IReadOnlyList<string> Assignments)
{
    /// <summary>cyclegan-run, cyclegan-export, cyclegan-train or ./scripts/NAME.</summary>
    public string Program => Text.Split(' ', 2)[0];

    /// <summary>The doc marks a file the reader supplies: "# placeholder: ..." or an &lt;angle-bracket&gt; name.</summary>
    public bool IsPlaceholder => Comment.Contains("placeholder", StringComparison.OrdinalIgnoreCase) || AngleName().IsMatch(Text);

    public override string ToString() => $"{File}:{Line}: {Text}";

    [GeneratedRegex(@"<[A-Za-z][^<>\s]*>")]
    private static partial Regex AngleName();
}

/// <summary>
/// Finds the command lines of the docs, so a new example is checked without anyone adding it to a test: the lines of
/// fenced sh/bash/shell blocks and the "$ " lines of console blocks whose command (also after ";", "&amp;&amp;" or "|")
/// starts with cyclegan-run, cyclegan-export, cyclegan-train or ./scripts/. "\" continuations are joined and a
/// trailing "# comment" is kept apart.
/// </summary>
internal static partial class DocCommandLines
{
    /// <summary>The docs a user reads commands from, relative to the repository root.</summary>
    public static IEnumerable<string> Docs(string root) =>
        new[] { "README.md", "runtime/README.md", "deploy/README.md" }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal))
            .Concat(Directory.GetDirectories(Path.Combine(root, "models")).Select(d => Path.Combine(d, "MODEL_CARD.md")).Where(File.Exists)
                .Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal));

    public static List<DocCommand> Extract(string root)
    {
        var commands = new List<DocCommand>();
        foreach (string doc in Docs(root))
            commands.AddRange(Extract(doc, File.ReadAllLines(Path.Combine(root, doc))));
        return commands;
    }

    public static IEnumerable<DocCommand> Extract(string file, string[] lines)
    {
        string? language = null; // inside a fenced block: its info string
        var assignments = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            var fence = Fence().Match(lines[i]);
            if (fence.Success)
            {
                language = language is null ? fence.Groups[1].Value : null;
                assignments = [];
                continue;
            }
            if (language is not ("sh" or "bash" or "shell" or "console")) continue;
            int first = i;
            string line = lines[i].Trim();
            while (line.EndsWith('\\') && i + 1 < lines.Length)
                line = line[..^1].TrimEnd() + " " + lines[++i].Trim();
            if (language == "console")
            {
                if (!line.StartsWith("$ ", StringComparison.Ordinal)) continue; // program output
                line = line[2..];
            }
            var (command, comment) = SplitComment(line);
            if (Assignment().IsMatch(command)) { assignments.Add(command); continue; }
            foreach (string part in Commands(command).Select(FromXargs))
                if (ProgramStart().IsMatch(part))
                    yield return new DocCommand(file, first + 1, part, comment, [.. assignments]);
        }
    }

    /// <summary>The line without a trailing "# comment" (a # that starts a word outside quotes), and that comment.</summary>
    public static (string Command, string Comment) SplitComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; }
            else if (c is '\'' or '"') quote = c;
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
                return (line[..i].Trim(), line[(i + 1)..].Trim());
        }
        return (line.Trim(), "");
    }

    /// <summary>"xargs -P 4 -I{} cyclegan-run ... {}/4": the command xargs runs, checked for the first input (0).</summary>
    private static string FromXargs(string part)
    {
        int program = part.IndexOf(" cyclegan-", StringComparison.Ordinal);
        return part.StartsWith("xargs ", StringComparison.Ordinal) && program > 0 ? part[(program + 1)..].Replace("{}", "0", StringComparison.Ordinal) : part;
    }

    /// <summary>The simple commands of a line: split at ";", "&amp;&amp;", "||" and "|" outside quotes and $( ).</summary>
    public static IEnumerable<string> Commands(string line)
    {
        var current = new StringBuilder();
        char quote = '\0';
        int depth = 0;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; }
            else if (c is '\'' or '"') quote = c;
            else if (c == '$' && i + 1 < line.Length && line[i + 1] == '(') depth++;
            else if (c == ')' && depth > 0) depth--;
            else if (depth == 0 && c is ';' or '|' || (depth == 0 && c == '&' && i + 1 < line.Length && line[i + 1] == '&'))
            {
                if (i + 1 < line.Length && line[i + 1] == c) i++;
                yield return current.ToString().Trim();
                current.Clear();
                continue;
            }
            current.Append(c);
        }
        yield return current.ToString().Trim();
    }

    [GeneratedRegex(@"^\s*(?:```+|~~~+)\s*([A-Za-z]*)")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^(cyclegan-(run|export|train)|\./scripts/)\S*")]
    private static partial Regex ProgramStart();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*=\S+$")]
    private static partial Regex Assignment();
}
