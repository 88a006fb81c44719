using System.Runtime.CompilerServices;
using CycleGanEdge.Torch.Networks;
using static CycleGanEdge.Torch.Networks.NetworkFactory;

namespace CycleGanEdge.Torch.Tests.NetworkTests;

/// <summary>
/// Our state_dict keys and shapes must equal the golden lists in Golden/*.txt, which were derived from the
/// reference networks.py (see each file's first line), so a reference checkpoint maps key for key.
/// </summary>
public class GoldenStateDictTests
{
    public static TheoryData<string> Archs() => new(GeneratorArchs.Concat(DiscriminatorArchs));

    [Theory]
    [MemberData(nameof(Archs))]
    public void State_dict_matches_the_golden_list(string arch)
    {
        var sections = ReadGolden(arch);
        Assert.NotEmpty(sections);
        foreach (var (config, expected) in sections)
        {
            using var net = GeneratorArchs.Contains(arch)
                ? (TorchSharp.torch.nn.Module)CreateGenerator(GeneratorFrom(arch, config))
                : CreateDiscriminator(DiscriminatorFrom(arch, config));
            var actual = net.state_dict()
                .Select(kv => $"{kv.Key} [{string.Join(",", kv.Value.shape)}]")
                .ToList();
            var missing = expected.Except(actual).ToList();
            var extra = actual.Except(expected).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0,
                $"{arch} [{string.Join(" ", config.Select(kv => $"{kv.Key}={kv.Value}"))}]\n" +
                $"missing: {string.Join("; ", missing)}\nunexpected: {string.Join("; ", extra)}");
            Assert.Equal(expected.Count, actual.Count);
        }
    }

    private static GeneratorOptions GeneratorFrom(string arch, Dictionary<string, string> c) => new()
    {
        Arch = arch,
        InputNc = int.Parse(c["input_nc"]),
        OutputNc = int.Parse(c["output_nc"]),
        Ngf = int.Parse(c["ngf"]),
        Norm = c["norm"],
        UseDropout = bool.Parse(c["dropout"]),
    };

    private static DiscriminatorOptions DiscriminatorFrom(string arch, Dictionary<string, string> c) => new()
    {
        Arch = arch,
        InputNc = int.Parse(c["input_nc"]),
        Ndf = int.Parse(c["ndf"]),
        NLayers = int.Parse(c["n_layers"]),
        Norm = c["norm"],
    };

    /// <summary>Sections "[key=value ...]" each followed by "name [d0,d1,...]" lines; "#" lines are comments.</summary>
    private static List<(Dictionary<string, string> Config, List<string> Keys)> ReadGolden(string arch)
    {
        var sections = new List<(Dictionary<string, string>, List<string>)>();
        foreach (var line in File.ReadLines(Path.Combine(GoldenFolder(), arch + ".txt")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line.StartsWith('['))
            {
                var config = line.Trim('[', ']').Split(' ')
                    .Select(pair => pair.Split('='))
                    .ToDictionary(p => p[0], p => p[1]);
                sections.Add((config, new List<string>()));
            }
            else
            {
                sections[^1].Item2.Add(line);
            }
        }
        return sections;
    }

    // The golden files live beside the test sources (the test project's csproj is not ours to add copy items to).
    private static string GoldenFolder([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "Golden");
}
