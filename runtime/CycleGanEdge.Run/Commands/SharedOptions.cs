using System.CommandLine;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Run.Commands;

/// <summary>Options every command that runs a model shares (also used by the video and bench commands).</summary>
public static class SharedOptions
{
    public static Option<FileInfo> Model() => new Option<FileInfo>("--model", "-m")
    {
        Description = "Exported generator (.onnx) from cyclegan-export",
        Required = true,
    }.AcceptExistingOnly();

    public static Option<string> Provider() => new Option<string>("--provider")
    {
        Description = "Execution provider: auto (best available), cpu, cuda or directml",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong(SessionFactory.ProviderNames);

    public static Option<int> DeviceId() => NonNegative(new Option<int>("--device-id") { Description = "GPU index for cuda/directml" });

    public static Option<int> Threads() => NonNegative(new Option<int>("--threads") { Description = "Threads per model run (0 = ONNX Runtime decides)" });

    /// <summary>--tile, --tile-overlap, --max-memory and --tile-norm: how images too large for memory run (translate and video).</summary>
    /// <param name="defaultNorm">exact for translate; video defaults to thumbnail, one pass per frame.</param>
    public sealed class Tiling(string defaultNorm = "exact")
    {
        public Option<TileSide> Tile { get; } = new("--tile")
        {
            Description = "Tile side in pixels; 0 = always the whole image; auto = tiles only when the whole image would need more than --max-memory",
            DefaultValueFactory = _ => TileSide.Auto,
            // Never throws and never returns null: System.CommandLine 3.0 cannot hand a null back as a value type.
            CustomParser = r =>
            {
                string value = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (TileSide.Parse(value) is { } side) return side;
                r.AddError($"--tile must be auto or a whole number of pixels (0 = whole image), not '{value}'.");
                return TileSide.Auto;
            },
        };
        public Option<int> Overlap { get; } = NonNegative(new Option<int>("--tile-overlap") { Description = "Pixels shared by neighbouring tiles", DefaultValueFactory = _ => new TranslatorOptions().TileOverlap });
        public Option<long> MaxMemory { get; } = AtLeastOne(new Option<long>("--max-memory")
        {
            Description = "Memory budget of one model run in MB (estimated from the model's ngf); larger images run in tiles [default: a quarter of this machine's memory]",
        });
        public Option<string> Norm { get; } = new Option<string>("--tile-norm")
        {
            Description = "Statistics of instance norms in tiles: exact (the whole image's, in one pass: the model runs segment by segment between its norms, " +
                          "keeping activations in --scratch files; models that cannot be cut use image), " +
                          "image (the whole image's: exact, up to one pass over the tiles per norm layer), " +
                          "thumbnail (a downscaled copy's: one pass, colours can shift), tile (each tile's own: seams)",
            DefaultValueFactory = _ => defaultNorm,
        }.AcceptOnlyFromAmong("exact", "image", "thumbnail", "tile");
        public Option<DirectoryInfo> Scratch { get; } = new Option<DirectoryInfo>("--scratch")
        {
            Description = "Folder for --tile-norm exact's stored activations (memory-mapped files that the system caches in free memory, removed when done) [default: the system temp folder]",
        }.AcceptExistingOnly();
        public Option<bool> ScratchHalf { get; } = new Option<bool>("--scratch-fp16")
        {
            Description = "Store --tile-norm exact's activations as fp16: half the scratch, within about a level of fp32 scratch (benchmarks/TILES.md)",
        };

        public IEnumerable<Option> All => [Tile, Overlap, MaxMemory, Norm, Scratch, ScratchHalf];

        /// <summary>Adds the options and their cross-check to a command.</summary>
        public void AddTo(Command command)
        {
            foreach (var o in All) command.Options.Add(o);
            command.Validators.Add(r =>
            {
                int t = r.GetValue(Tile).Pixels ?? 0, o = r.GetValue(Overlap);
                if (t > 0 && o * 2 >= t) r.AddError($"--tile-overlap ({o}) must be less than half of --tile ({t}).");
            });
        }

        public TranslatorOptions Apply(ParseResult parse, TranslatorOptions options) => options with
        {
            Tile = parse.GetValue(Tile).Pixels,
            TileOverlap = parse.GetValue(Overlap),
            MaxMemory = parse.GetResult(MaxMemory) is { Implicit: false } ? parse.GetValue(MaxMemory) << 20 : TranslatorOptions.DefaultMaxMemory,
            TileNorm = Enum.Parse<TileNorm>(parse.GetValue(Norm)!, ignoreCase: true),
            ScratchFolder = parse.GetValue(Scratch)?.FullName,
            ScratchHalf = parse.GetValue(ScratchHalf),
        };
    }

    public static Option<T> NonNegative<T>(Option<T> option) where T : System.Numerics.INumber<T>
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() < T.Zero)
                r.AddError($"{r.IdentifierToken?.Value ?? option.Name} cannot be negative.");
        });
        return option;
    }

    public static Option<T> AtLeastOne<T>(Option<T> option) where T : System.Numerics.INumber<T>
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() < T.One)
                r.AddError($"{r.IdentifierToken?.Value ?? option.Name} must be at least 1.");
        });
        return option;
    }
}

/// <summary>The value of --tile: a side in pixels (0 = the whole image) or auto (<see cref="Pixels"/> null), as <see cref="TranslatorOptions.Tile"/>.</summary>
public readonly record struct TileSide(int? Pixels)
{
    public static readonly TileSide Auto = new(null);

    /// <summary>"auto" or a whole number >= 0; null for anything else.</summary>
    public static TileSide? Parse(string value) =>
        value == "auto" ? Auto
        : int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int side) ? new TileSide(side)
        : null;

    /// <summary>As the command line writes it (--help shows the default this way).</summary>
    public override string ToString() => Pixels?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "auto";
}
