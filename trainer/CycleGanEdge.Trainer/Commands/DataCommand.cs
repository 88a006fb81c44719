using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.CommandLine.Parsing;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Data.Prep;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>cyclegan-train data: makes trainA/trainB/testA/testB datasets (emoji, colorize, masked, from folders).</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Make a dataset: trainA, trainB, testA, testB and DATASET.md");
        command.Subcommands.Add(Kind("emoji",
            "Two emoji styles as unpaired domains: Noto (A, Apache-2.0) and Twemoji (B, CC-BY-4.0), fetched once with npm",
            withFrom: false, (options, _, log, ct) => DataKinds.Emoji(options, log, ct)));
        command.Subcommands.Add(Kind("fluent",
            "Microsoft Fluent Emoji, flat (A) and 3D (B): the same drawings in two shading styles (MIT), fetched once with npm",
            withFrom: false, (options, _, log, ct) => DataKinds.Fluent(options, log, ct)));
        command.Subcommands.Add(Kind("colorize",
            "Gray (A) to colour (B); the test split keeps the true colour (default images: the Twemoji set)",
            withFrom: true, (options, p, log, ct) => DataKinds.Colorize(options, p.From, log, ct)));
        command.Subcommands.Add(Kind("masked",
            "Images with a seeded gray rectangle (A) to complete images (B); the test split keeps the truth (default images: the Twemoji set)",
            withFrom: true, (options, p, log, ct) => DataKinds.Masked(options, p.From, log, ct)));
        command.Subcommands.Add(FromCommand());
        return command;
    }

    private sealed record Folders(string? From, string? A, string? B);

    private delegate DatasetCounts Maker(PrepOptions options, Folders folders, TextWriter log, CancellationToken ct);

    private static Command Kind(string name, string description, bool withFrom, Maker make)
    {
        var common = new CommonOptions(downloads: true);
        var command = new Command(name, description);
        common.AddTo(command);
        Option<DirectoryInfo>? from = null;
        if (withFrom)
        {
            from = new Option<DirectoryInfo>("--from") { Description = "Folder of images to use instead of the Twemoji set" };
            command.Options.Add(from);
        }
        command.SetAction((p, ct) => Task.FromResult(
            Run(p, common.Read(p), new Folders(from is null ? null : p.GetValue(from)?.FullName, null, null), make, ct)));
        return command;
    }

    private static Command FromCommand()
    {
        var common = new CommonOptions(downloads: false);
        var a = new Option<DirectoryInfo>("--a") { Description = "Folder of domain A images" };
        var b = new Option<DirectoryInfo>("--b") { Description = "Folder of domain B images" };
        var from = new Option<DirectoryInfo>("--from") { Description = "Folder holding A and B subfolders (or exactly two subfolders, in name order)" };
        var command = new Command("from", "Any images: --a DIR --b DIR, or --from DIR; files with the same name in A and B are pairs") { a, b, from };
        common.AddTo(command);
        command.Validators.Add(result =>
        {
            bool hasA = result.GetResult(a) is not null, hasB = result.GetResult(b) is not null, hasFrom = result.GetResult(from) is not null;
            if (hasFrom ? hasA || hasB : !(hasA && hasB))
                result.AddError("Give either --a and --b, or --from.");
        });
        command.SetAction((p, ct) => Task.FromResult(Run(p, common.Read(p),
            new Folders(p.GetValue(from)?.FullName, p.GetValue(a)?.FullName, p.GetValue(b)?.FullName),
            (options, f, log, token) =>
            {
                var (dirA, dirB) = f.From is not null ? DataKinds.DomainFolders(f.From) : (f.A!, f.B!);
                return DataKinds.FromFolders(options, dirA, dirB, log, token);
            }, ct)));
        return command;
    }

    private static int Run(ParseResult parse, PrepOptions options, Folders folders, Maker make, CancellationToken ct)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            make(options with { Command = "cyclegan-train " + string.Join(' ', parse.Tokens.Select(t => Quote(t.Value))) }, folders, output, ct);
            return 0;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return ExitCodes.Interrupted;
        }
        catch (DatasetException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (IOException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (UnauthorizedAccessException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    private static string Quote(string token) => token.Any(char.IsWhiteSpace) ? $"\"{token}\"" : token;

    /// <summary>Options every kind takes; one instance per subcommand.</summary>
    private sealed class CommonOptions
    {
        private readonly bool _downloads;
        private readonly Option<DirectoryInfo> _output = new("--output", "-o") { Description = "Dataset folder to create", Required = true };
        private readonly Option<int> _seed = new("--seed") { Description = "Seed of the split (and of the masks)", DefaultValueFactory = _ => 0 };
        private readonly Option<double> _testFraction = new("--test-fraction") { Description = "Share held out as testA/testB", DefaultValueFactory = _ => 0.1 };
        private readonly Option<int> _size = new("--size") { Description = "Output images are size x size (shorter side scaled, centre square); 0 keeps sizes", DefaultValueFactory = _ => 64 };
        private readonly Option<DirectoryInfo> _cache = new("--cache") { Description = "Download cache (default $XDG_CACHE_HOME/cyclegan-edge or ~/.cache/cyclegan-edge)" };
        private readonly Option<bool> _force = new("--force") { Description = "Replace a dataset already in the output folder" };

        /// <param name="downloads">Whether the kind may fetch the emoji packages (then it takes --cache).</param>
        public CommonOptions(bool downloads)
        {
            _downloads = downloads;
            _testFraction.Validators.Add(r =>
            {
                double v = r.GetValueOrDefault<double>();
                if (v is < 0 or >= 1 || double.IsNaN(v)) r.AddError($"--test-fraction must be at least 0 and below 1, got {v}.");
            });
            _size.Validators.Add(r =>
            {
                int v = r.GetValueOrDefault<int>();
                if (v < 0) r.AddError($"--size must be 0 (keep) or positive, got {v}.");
            });
        }

        public void AddTo(Command command)
        {
            foreach (Option option in new Option[] { _output, _seed, _testFraction, _size, _force })
                command.Options.Add(option);
            if (_downloads)
                command.Options.Add(_cache);
        }

        public PrepOptions Read(ParseResult p) => new()
        {
            Output = p.GetValue(_output)!.FullName,
            Seed = p.GetValue(_seed),
            TestFraction = p.GetValue(_testFraction),
            Size = p.GetValue(_size),
            Force = p.GetValue(_force),
            Cache = p.GetValue(_cache)?.FullName ?? NpmPackage.DefaultCacheFolder(),
        };
    }
}
