using System.Text;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Run.Batch;

/// <summary>One image to translate: where it is, how to name it in messages, where its result goes.</summary>
public sealed record WorkItem(string Source, string Display, string Output);

/// <summary>An input that cannot be processed, with the reason (one line in the summary).</summary>
public sealed record Failure(string Input, string Reason);

public sealed record ScanResult(IReadOnlyList<WorkItem> Items, IReadOnlyList<Failure> Failures, int IgnoredFiles);

/// <summary>
/// Turns files, folders and glob patterns into work items whose outputs mirror the input tree under the
/// output folder. Outputs never land outside that folder (no "..", absolute names or symlinked folders).
/// </summary>
public static class InputScanner
{
    public static ScanResult Scan(IReadOnlyList<string> inputs, string outputRoot, ImageFormat format, bool recursive)
    {
        string root = Path.GetFullPath(outputRoot);
        var items = new List<WorkItem>();
        var failures = new List<Failure>();
        var seenSources = new HashSet<string>(StringComparer.Ordinal);
        var outputOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        int ignored = 0;

        void Add(string source, string relative)
        {
            string full = Path.GetFullPath(source);
            if (!seenSources.Add(full)) return;
            string display = source;
            string relativeOutput = Path.ChangeExtension(relative, ImageCodec.Extension(format));
            if (!OutputPath.TryResolve(root, relativeOutput, out string output, out string reason))
            {
                failures.Add(new Failure(display, reason));
                return;
            }
            if (outputOwners.TryGetValue(output, out string? owner))
            {
                failures.Add(new Failure(display, $"its output {output} is also the output of {owner}"));
                return;
            }
            outputOwners[output] = display;
            items.Add(new WorkItem(source, display, output));
        }

        foreach (string input in inputs)
        {
            if (IsGlob(input))
            {
                var (baseFolder, matches) = ExpandGlob(input, root);
                if (matches.Count == 0)
                    failures.Add(new Failure(input, "no files match this pattern"));
                foreach (string file in matches)
                {
                    if (ImageCodec.IsSupportedExtension(file)) Add(file, Path.GetRelativePath(baseFolder, file));
                    else ignored++;
                }
            }
            else if (Directory.Exists(input))
            {
                var options = new EnumerationOptions { RecurseSubdirectories = recursive, AttributesToSkip = FileAttributes.Hidden, MatchType = MatchType.Simple };
                foreach (string file in Directory.EnumerateFiles(input, "*", options).Order(StringComparer.Ordinal))
                {
                    if (IsInside(Path.GetFullPath(file), root)) continue; // earlier outputs are not inputs
                    if (ImageCodec.IsSupportedExtension(file)) Add(file, Path.GetRelativePath(input, file));
                    else ignored++;
                }
            }
            else if (File.Exists(input))
            {
                Add(input, Path.GetFileName(input));
            }
            else
            {
                failures.Add(new Failure(input, "no such file or folder"));
            }
        }
        return new ScanResult(items, failures, ignored);
    }

    private static bool IsGlob(string input) => input.IndexOfAny(['*', '?', '[']) >= 0 && !File.Exists(input) && !Directory.Exists(input);

    /// <summary>Files matching a pattern with * (within a folder), ** (any folders) and ? (one character).</summary>
    private static (string BaseFolder, List<string> Matches) ExpandGlob(string pattern, string outputRoot)
    {
        string[] parts = pattern.Replace('\\', '/').Split('/');
        int firstWild = Array.FindIndex(parts, p => p.IndexOfAny(['*', '?', '[']) >= 0);
        string baseFolder = firstWild == 0 ? "." : string.Join('/', parts[..firstWild]);
        if (baseFolder.Length == 0) baseFolder = "/";
        string rest = string.Join('/', parts[firstWild..]);
        if (!Directory.Exists(baseFolder)) return (baseFolder, []);

        var regex = new Regex("^" + GlobToRegex(rest) + "$", RegexOptions.CultureInvariant);
        bool deep = parts.Length - firstWild > 1 || rest.Contains("**", StringComparison.Ordinal);
        var options = new EnumerationOptions { RecurseSubdirectories = deep, AttributesToSkip = FileAttributes.Hidden };
        var matches = Directory.EnumerateFiles(baseFolder, "*", options)
            .Where(f => !IsInside(Path.GetFullPath(f), outputRoot))
            .Where(f => regex.IsMatch(Path.GetRelativePath(baseFolder, f).Replace('\\', '/')))
            .Order(StringComparer.Ordinal)
            .ToList();
        return (baseFolder, matches);
    }

    private static string GlobToRegex(string glob)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                bool slash = i + 2 < glob.Length && glob[i + 2] == '/';
                sb.Append(slash ? "(.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[')
            {
                int end = glob.IndexOf(']', i + 1);
                if (end < 0) { sb.Append(@"\["); continue; }
                string set = glob[(i + 1)..end];
                sb.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = end;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.ToString();
    }

    internal static bool IsInside(string path, string folder) =>
        path.StartsWith(folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}

/// <summary>Checks that a relative output name stays inside the output folder.</summary>
public static class OutputPath
{
    public static bool TryResolve(string outputRoot, string relative, out string fullPath, out string reason)
    {
        fullPath = "";
        string root = Path.GetFullPath(outputRoot);
        if (Path.IsPathRooted(relative))
        {
            reason = $"output name '{relative}' is absolute";
            return false;
        }
        string candidate = Path.GetFullPath(Path.Combine(root, relative));
        if (!InputScanner.IsInside(candidate, root))
        {
            reason = $"output name '{relative}' would leave the output folder";
            return false;
        }
        // A symlinked folder (or file) on the way could point anywhere: refuse instead of following it.
        for (string? p = candidate; p is not null && p.Length > root.Length; p = Path.GetDirectoryName(p))
        {
            if (new FileInfo(p).LinkTarget is not null) // readlink: set for links to files and folders alike
            {
                reason = $"output path {p} is a symbolic link; refusing to write through it";
                return false;
            }
        }
        fullPath = candidate;
        reason = "";
        return true;
    }
}
