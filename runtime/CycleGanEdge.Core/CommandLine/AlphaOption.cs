using System.CommandLine;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Core.CommandLine;

/// <summary>--alpha, the alpha of RGBA output: one definition for translate, eval and cyclegan-serve.</summary>
public static class AlphaOption
{
    public static Option<string> Create() => new Option<string>("--alpha")
    {
        Description = "Alpha of RGBA output: model (the input's shape extended by what the model drew off its background; laid on that background it is the model's output), input (cut to the input's alpha) or opaque",
        DefaultValueFactory = _ => "model",
    }.AcceptOnlyFromAmong("model", "input", "opaque");

    public static OutputAlpha Parse(string value) => Enum.Parse<OutputAlpha>(value, ignoreCase: true);
}
