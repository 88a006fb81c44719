using System.Text.RegularExpressions;
using CycleGanEdge.Core;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Exporter.PyTorch;

/// <summary>
/// Reads the generator options back from a reference state_dict's keys and shapes, so a
/// latest_net_G_A.pth exports without flags. What it cannot see it leaves at the reference's default:
/// U-Net dropout sits after the last layer of a block, so it shifts no key (and is the identity in eval mode).
/// The result is only a guess until <see cref="StateDictLoader.LoadInto"/> has matched every key and shape.
/// </summary>
public static partial class ReferenceArchitecture
{
    /// <summary>The options the file was built with, or an InvalidDataException saying why they cannot be told.</summary>
    public static GeneratorOptions Infer(IReadOnlyDictionary<string, StateTensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var convs = stateDict.Where(e => e.Key.EndsWith(".weight", StringComparison.Ordinal) && e.Value.Shape.Length == 4).ToList();
        if (convs.Count == 0)
            throw new InvalidDataException("holds no convolution weights: not a generator state_dict");
        var first = convs[0].Value.Shape; // file order is module order: the first convolution reads the image

        GeneratorKind arch;
        int outputNc;
        bool dropout = false;
        // The CUT reference's anti-aliased resnet: its blur layers hold the buffers model.<i>.filt.
        bool antialias = false;
        if (stateDict.ContainsKey("model.model.0.weight"))
        {
            // Every U-Net block has one down and one up convolution: unet_128 has 7 blocks, unet_256 has 8.
            arch = convs.Count switch
            {
                14 => GeneratorKind.Unet128,
                16 => GeneratorKind.Unet256,
                _ => throw new InvalidDataException($"a U-Net with {convs.Count / 2} levels: only unet_128 (7) and unet_256 (8) are supported"),
            };
            outputNc = (int)Weight(stateDict, "model.model.3.weight")[1]; // outermost ConvTranspose2d: [in, out, k, k]
        }
        else if (stateDict.ContainsKey("model.1.weight"))
        {
            var blocks = stateDict.Keys.Select(k => ResnetBlockKey().Match(k)).Where(m => m.Success)
                .Select(m => m.Groups[1].Value).Distinct().Count();
            arch = (first[2], blocks) switch
            {
                (7, 6) => GeneratorKind.Resnet6Blocks,
                (7, 9) => GeneratorKind.Resnet9Blocks,
                (5, EncoderDecoderGenerator.ResidualBlocks) => GeneratorKind.EncoderDecoder,
                _ => throw new InvalidDataException($"a {first[2]}x{first[2]} first convolution with {blocks} residual blocks matches no supported generator"),
            };
            antialias = arch is GeneratorKind.Resnet6Blocks or GeneratorKind.Resnet9Blocks && stateDict.Keys.Any(k => k.EndsWith(".filt", StringComparison.Ordinal));
            // With dropout each block's second convolution moves from index 5 to 6 (after Dropout at 4).
            dropout = convs.Any(e => e.Key.EndsWith(".conv_block.6.weight", StringComparison.Ordinal));
            outputNc = (int)convs[^1].Value.Shape[0]; // the last layer is a Conv2d: [out, in, k, k]
        }
        else
        {
            throw new InvalidDataException($"the first key is '{stateDict.Keys.First()}': not a reference ResnetGenerator or UnetGenerator state_dict");
        }

        var generator = ModelDescriptor.Of(arch, ngf: (int)first[0], Norm(stateDict, convs[0].Key), channelsIn: (int)first[1], outputNc,
            antialiasing: antialias ? Antialiasing.Blur : Antialiasing.None);
        return GeneratorOptions.From(generator, dropout);
    }

    /// <summary>
    /// batch: affine BatchNorm2d layers (weight, bias and running statistics). Otherwise the reference gives the first
    /// convolution a bias only for instance norm, which has no keys of its own (affine=False); none has neither.
    /// Running statistics without a weight are a pre-0.4 InstanceNorm's, which the loader drops.
    /// </summary>
    static NormKind Norm(IReadOnlyDictionary<string, StateTensor> stateDict, string firstConvWeight)
    {
        bool batch = stateDict.Keys.Any(k => k.EndsWith(".running_mean", StringComparison.Ordinal)
            && stateDict.TryGetValue(k[..^"running_mean".Length] + "weight", out var w) && w.Shape.Length == 1);
        if (batch)
            return NormKind.Batch;
        return stateDict.ContainsKey(firstConvWeight[..^"weight".Length] + "bias") ? NormKind.Instance : NormKind.None;
    }

    static long[] Weight(IReadOnlyDictionary<string, StateTensor> stateDict, string key) =>
        stateDict.TryGetValue(key, out var t) && t.Shape.Length == 4
            ? t.Shape
            : throw new InvalidDataException($"'{key}' is missing or not a convolution weight");

    [GeneratedRegex(@"^model\.(\d+)\.conv_block\.")]
    private static partial Regex ResnetBlockKey();
}
