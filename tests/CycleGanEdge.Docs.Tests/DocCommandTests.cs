using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Export;
using Xunit.Abstractions;

namespace CycleGanEdge.Docs.Tests;

/// <summary>
/// Every command line of the docs (<see cref="DocCommandLines"/>) runs through the real program, in-process, in a
/// <see cref="DocWorkspace"/> that holds small stand-ins for the example files, doc by doc in the order written.
/// Long ones run shortened (<see cref="Shortened"/>), the data downloads are only parsed, scripts are checked for
/// syntax, and only lines the doc marks as placeholders are skipped. Any other exit than 0 fails the test with the
/// file, the line and the command.
/// </summary>
public partial class DocCommandTests(ITestOutputHelper log)
{
    private static readonly string Repo = RepoRoot();

    [Fact]
    public void The_extractor_finds_commands_in_every_kind_of_block()
    {
        string[] doc =
        [
            "```sh",
            "cyclegan-run translate -m g.onnx in/ -o out/ \\",
            "    --tile 0        # a comment with 'quotes'",
            "M=x.onnx",
            "rm -rf /tmp/o; cyclegan-run info -m $M | tail -1",
            "seq 0 3 | xargs -P 4 -I{} cyclegan-run translate -m g.onnx in/ -o out/ --shard {}/4",
            "cyclegan-run eval $(grep -v '^#' eval/args.txt) -o eval   # in this folder",
            "```",
            "    cyclegan-run info -m not-in-a-fence.onnx",
            "```console",
            "$ cyclegan-export check g.onnx",
            "cyclegan-run output line, not a command",
            "```",
            "```text",
            "cyclegan-run not shell",
            "```",
        ];
        var found = DocCommandLines.Extract("x.md", doc).ToList();
        Assert.Equal(
            ["cyclegan-run translate -m g.onnx in/ -o out/ --tile 0", "cyclegan-run info -m $M", "cyclegan-run translate -m g.onnx in/ -o out/ --shard 0/4",
             "cyclegan-run eval $(grep -v '^#' eval/args.txt) -o eval", "cyclegan-export check g.onnx"],
            found.Select(c => c.Text));
        Assert.Equal([2, 5, 6, 7, 11], found.Select(c => c.Line));
        Assert.Equal("a comment with 'quotes'", found[0].Comment);
        Assert.Equal(["M=x.onnx"], found[1].Assignments);
        Assert.Equal("in this folder", found[3].Comment);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Every_command_line_of_the_docs_runs()
    {
        var commands = DocCommandLines.Extract(Repo);
        var failures = new List<string>();
        var tally = new Dictionary<string, List<string>>();
        void Count(string kind, DocCommand c) => (tally.TryGetValue(kind, out var l) ? l : tally[kind] = []).Add(c.ToString());
        string cwd = Environment.CurrentDirectory;
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var doc in commands.GroupBy(c => c.File))
            {
                using var workspace = new DocWorkspace(Repo);
                var trainings = new Trainings();
                foreach (var c in doc)
                {
                    var step = Stopwatch.StartNew();
                    string? problem = await RunAsync(c, workspace, trainings, Count);
                    log.WriteLine($"{step.Elapsed.TotalSeconds,5:0.0} s  {c}{(problem is null ? "" : "\n        FAILED: " + problem)}");
                    if (problem is not null) failures.Add($"{c}\n    {problem}");
                }
            }
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        log.WriteLine($"{commands.Count} command lines in {clock.Elapsed.TotalSeconds:0} s: " + string.Join(", ", tally.Select(t => $"{t.Value.Count} {t.Key}")));
        foreach (var (kind, lines) in tally.Where(t => t.Key.StartsWith("skipped", StringComparison.Ordinal) || t.Key.StartsWith("parsed", StringComparison.Ordinal)))
            log.WriteLine($"{kind}:\n  " + string.Join("\n  ", lines));
        Assert.True(commands.Count >= 50, $"only {commands.Count} command lines found: is the extractor broken?");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>A doc's trainings so far: the last one's --name, and the words of the first (what a later "train ..." repeats).</summary>
    private sealed class Trainings
    {
        public string? LastName { get; set; }
        public string[]? First { get; set; }
    }

    /// <summary>Runs one doc command; null when it worked, else what went wrong.</summary>
    private static Task<string?> RunAsync(DocCommand c, DocWorkspace workspace, Trainings trainings, Action<string, DocCommand> count)
    {
        if (c.IsPlaceholder)
        {
            count("skipped (marked placeholder)", c);
            return Task.FromResult<string?>(null);
        }
        if (c.Program.StartsWith("./scripts/", StringComparison.Ordinal))
        {
            count("parsed only (scripts: exist, executable, bash -n)", c);
            return Task.FromResult(CheckScript(c.Program));
        }
        // "# in this folder": the doc's own folder (a model card's), as a copy in the workspace.
        string cwd = c.Comment.Contains("in this folder", StringComparison.Ordinal) ? Path.Combine(workspace.Root, Path.GetDirectoryName(c.File)!) : workspace.Root;
        workspace.Provide(cwd, workspace.Root);
        Directory.CreateDirectory(cwd);
        var (words, error) = ShellWords(c, cwd);
        if (error is not null) return Task.FromResult<string?>(error);
        string[] args = [.. words!.Select(workspace.Rewrite)];
        var root = Root(c.Program);
        if (c.Program == "cyclegan-train" && args.Contains("..."))
        {
            // "cyclegan-train train ... --name x --lr 0.0001" (a model card's later stage): the first training's options, then these.
            if (trainings.First is null) return Task.FromResult<string?>("'...' but no full cyclegan-train train line above it in this doc");
            args = Replaced(trainings.First, args.SkipWhile(a => a != "...").Skip(1).ToArray(), root.Subcommands.Single(s => s.Name == "train"));
        }
        for (int i = 0; i < args.Length; i++)
            if (i == 0 || args[i - 1] is not ("-o" or "--output"))
                workspace.Provide(args[i], cwd);
        string[] command = [.. args.TakeWhile(a => !a.StartsWith('-')).Take(2)];
        if (c.Program == "cyclegan-train" && command.Length > 1 && command[0] == "data" && command[1] != "from")
        {
            count("parsed only (cyclegan-train data downloads npm packages)", c);
            var parse = root.Parse(args);
            return Task.FromResult(parse.Errors.Count == 0 ? null : "parse: " + string.Join(" | ", parse.Errors.Select(e => e.Message)));
        }
        string[] run = Shortened(c.Program, command.FirstOrDefault() ?? "", args, root);
        count(run.SequenceEqual(args) ? "run as written" : "run shortened", c);
        ProvideCheckpoints(run, cwd, trainings.LastName);
        if (c.Program == "cyclegan-train" && command.FirstOrDefault() == "train")
        {
            trainings.First ??= args;
            trainings.LastName = ValueOf(args, "--name") ?? "experiment_name";
        }
        return InvokeAsync(c.Program, root, run, cwd);
    }

    private static async Task<string?> InvokeAsync(string program, Command root, string[] args, string cwd)
    {
        string before = Environment.CurrentDirectory;
        Environment.CurrentDirectory = cwd;
        var output = new StringWriter();
        var error = new StringWriter();
        int exit;
        try
        {
            exit = await CommandLineHost.InvokeAsync(program, root, args, output, error);
        }
        finally
        {
            Environment.CurrentDirectory = before; // the workspace goes away after its doc
        }
        if (exit == 0) return null;
        return $"exit {exit} ({program} {string.Join(' ', args)}): {string.Join(" | ", error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5))}";
    }

    private static Command Root(string program) => program switch
    {
        "cyclegan-run" => CycleGanEdge.Run.Program.CreateRoot(),
        "cyclegan-export" => ExportCommand.Create(),
        "cyclegan-train" => CycleGanEdge.Trainer.Program.CreateRoot(),
        _ => throw new ArgumentException($"not a program of this repository: {program}"),
    };

    /// <summary>
    /// The words after the program name as bash splits and expands them (quotes, $VARIABLES of the block, $(...)), in
    /// <paramref name="cwd"/>: the shell itself reads the line, not a parser of ours.
    /// </summary>
    private static (string[]? Words, string? Error) ShellWords(DocCommand c, string cwd)
    {
        string rest = c.Text[c.Program.Length..];
        var start = new ProcessStartInfo("bash", ["-c", string.Join('\n', [.. c.Assignments, "printf '%s\\0'" + rest])])
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var bash = Process.Start(start)!;
        string words = bash.StandardOutput.ReadToEnd();
        string error = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        if (bash.ExitCode != 0 || error.Length > 0) return (null, $"bash cannot read the line: {error.Trim()}");
        return (words.Split('\0', StringSplitOptions.RemoveEmptyEntries), null);
    }

    private static string? CheckScript(string relative)
    {
        string path = Path.Combine(Repo, relative);
        if (!File.Exists(path)) return $"{relative}: no such script";
        if (!OperatingSystem.IsWindows() && !File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute)) return $"{relative}: not executable";
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", path]) { RedirectStandardError = true })!;
        string error = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        return bash.ExitCode == 0 ? null : $"{relative}: bash -n: {error.Trim()}";
    }

    /// <summary>
    /// What the long commands run instead, the one place for it: a training of one epoch on 2 images at crop 32 with
    /// ngf/ndf 8: the epoch the doc starts at and one at decayed lr (a --continue-train starts where it says), a classifier of one epoch,
    /// bench with 1 timed run and no peak probe. Everything else runs as written.
    /// </summary>
    private static string[] Shortened(string program, string command, string[] args, Command root)
    {
        var sub = root.Subcommands.FirstOrDefault(s => s.Name == command);
        if (sub is null) return args;
        string epoch = ValueOf(args, "--epoch-count") ?? "1";
        (string, string?)[] set = (program, command) switch
        {
            ("cyclegan-train", "train") =>
            [
                ("--n-epochs", epoch), ("--n-epochs-decay", "1"), ("--max-dataset-size", "2"), ("--ngf", "8"), ("--ndf", "8"),
                ("--crop-size", "32"), ("--load-size", "36"), ("--threads", "1"), ("--workers", "1"), ("--eval-images", "2"),
            ],
            ("cyclegan-train", "classifier") => [("--epochs", "1"), ("--threads", "1")],
            ("cyclegan-run", "bench") => [("--iters", "1"), ("--warmup", "0"), ("--rounds", "1"), ("--no-peak", null)],
            _ => [],
        };
        return Replaced(args, [.. set.SelectMany(o => o.Item2 is null ? new[] { o.Item1 } : [o.Item1, o.Item2])], sub);
    }

    /// <summary><paramref name="args"/> with the options of <paramref name="given"/> in place of their own (and the rest of <paramref name="given"/> added).</summary>
    private static string[] Replaced(string[] args, string[] given, Command command)
    {
        var result = args.ToList();
        foreach (string name in given.Where(g => g.StartsWith("--", StringComparison.Ordinal)))
        {
            var option = command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
            int at = result.IndexOf(name);
            if (option is null || at < 0) continue;
            bool flagAlone = option.ValueType == typeof(bool) && (at + 1 == result.Count || result[at + 1].StartsWith('-'));
            result.RemoveRange(at, flagAlone ? 1 : 2);
        }
        return [.. result, .. given];
    }

    /// <summary>
    /// The checkpoints a full run would have left and a shortened one did not: a --continue-train --epoch N starts from
    /// the previous training's last weights (the docs copy them there by hand), and a checkpoints/NAME/EPOCH_net_X.ckpt
    /// the doc exports is that run's latest_net_X.ckpt.
    /// </summary>
    private static void ProvideCheckpoints(string[] args, string cwd, string? lastTraining)
    {
        string checkpoints = Path.Combine(cwd, ValueOf(args, "--checkpoints-dir") ?? "checkpoints");
        if (args.Contains("--continue-train") && lastTraining is not null && ValueOf(args, "--epoch") is { } epoch && ValueOf(args, "--name") is { } name)
        {
            string folder = Directory.CreateDirectory(Path.Combine(checkpoints, name)).FullName;
            foreach (string latest in Directory.GetFiles(Path.Combine(checkpoints, lastTraining), "latest_net_*.ckpt"))
            {
                string target = Path.Combine(folder, epoch + Path.GetFileName(latest)["latest".Length..]);
                if (!File.Exists(target)) File.Copy(latest, target);
            }
        }
        foreach (string arg in args)
        {
            var m = EpochCheckpoint().Match(arg);
            string path = Path.GetFullPath(arg, cwd);
            string latest = Path.Combine(Path.GetDirectoryName(path)!, $"latest_net_{m.Groups[1].Value}.ckpt");
            if (m.Success && !File.Exists(path) && File.Exists(latest)) File.Copy(latest, path);
        }
    }

    private static string? ValueOf(string[] args, string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    [GeneratedRegex(@"(?:^|/)\d+_net_(\w+)\.ckpt$")]
    private static partial Regex EpochCheckpoint();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (CycleGanEdge.sln) is not above the test folder");
    }
}
