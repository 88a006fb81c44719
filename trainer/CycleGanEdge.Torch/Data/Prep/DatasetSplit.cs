namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>What is done to a source image before it is written.</summary>
public enum ImageChange { None, Gray, Mask }

/// <summary>One output file: folder (trainA, trainB, testA, testB), file name, source, change.</summary>
public sealed record OutputImage(string Folder, string Name, string Source, ImageChange Change);

/// <summary>
/// Files written together or not at all: a test pair (testA/x and testB/x) is dropped whole when either source
/// cannot be read, so every test pair keeps its known answer.
/// </summary>
public sealed record OutputUnit(IReadOnlyList<OutputImage> Images);

/// <summary>A source image of one domain: its key (the output name without extension), group, path and change.</summary>
public sealed record SourceImage(string Key, string Group, string Path, ImageChange Change = ImageChange.None);

/// <summary>
/// The seeded split shared by every data kind. Keys present in both domains are split by group (an emoji and its
/// skin tones form one group): a test fraction keeps both versions under the same name (testA/testB pairs, the
/// answer known); the remaining groups go half to trainA and half to trainB, so the training domains never show
/// the same group. Keys present in one domain only are split into that domain's test and train folders.
/// </summary>
public static class DatasetSplit
{
    public static IReadOnlyList<OutputUnit> Plan(
        IReadOnlyList<SourceImage> a, IReadOnlyList<SourceImage> b, double testFraction, int seed)
    {
        if (testFraction is < 0 or >= 1 || double.IsNaN(testFraction))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "must be in [0, 1)");
        var byKeyA = ByKey(a, "A");
        var byKeyB = ByKey(b, "B");
        var units = new List<OutputUnit>();

        var shared = byKeyA.Keys.Where(byKeyB.ContainsKey).ToArray();
        var groups = shared.GroupBy(k => byKeyA[k].Group, StringComparer.Ordinal)
            .Select(g => g.Order(StringComparer.Ordinal).ToArray())
            .OrderBy(g => byKeyA[g[0]].Group, StringComparer.Ordinal)
            .ToArray();
        Shuffle(groups, seed, stream: 0);
        int test = TestCount(groups.Length, testFraction);
        int half = test + (groups.Length - test + 1) / 2;
        for (int i = 0; i < groups.Length; i++)
        {
            foreach (var key in groups[i])
            {
                var (sa, sb) = (byKeyA[key], byKeyB[key]);
                if (i < test)
                    units.Add(new OutputUnit([Output("testA", sa), Output("testB", sb)]));
                else if (i < half)
                    units.Add(new OutputUnit([Output("trainA", sa)]));
                else
                    units.Add(new OutputUnit([Output("trainB", sb)]));
            }
        }

        AddUnshared(units, byKeyA, byKeyB, "A", testFraction, seed, stream: 1);
        AddUnshared(units, byKeyB, byKeyA, "B", testFraction, seed, stream: 2);
        return units;
    }

    private static void AddUnshared(List<OutputUnit> units, Dictionary<string, SourceImage> mine,
        Dictionary<string, SourceImage> other, string domain, double testFraction, int seed, int stream)
    {
        var only = mine.Keys.Where(k => !other.ContainsKey(k)).Order(StringComparer.Ordinal).ToArray();
        Shuffle(only, seed, stream);
        int test = TestCount(only.Length, testFraction);
        for (int i = 0; i < only.Length; i++)
            units.Add(new OutputUnit([Output((i < test ? "test" : "train") + domain, mine[only[i]])]));
    }

    private static OutputImage Output(string folder, SourceImage source) =>
        new(folder, source.Key + ".png", source.Path, source.Change);

    /// <summary>Rounded share of n; at least one when there is anything to hold out and more than one to share.</summary>
    private static int TestCount(int n, double fraction)
    {
        int count = (int)Math.Round(n * fraction, MidpointRounding.AwayFromZero);
        return fraction > 0 && n > 1 ? Math.Clamp(count, 1, n - 1) : count;
    }

    private static void Shuffle<T>(T[] items, int seed, int stream)
    {
        var random = SeededRandom.For(seed, 0, -1, stream);
        random.Shuffle(items);
    }

    private static Dictionary<string, SourceImage> ByKey(IReadOnlyList<SourceImage> sources, string domain)
    {
        var result = new Dictionary<string, SourceImage>(StringComparer.Ordinal);
        foreach (var s in sources)
            if (!result.TryAdd(s.Key, s))
                throw new ArgumentException($"Domain {domain} has the key '{s.Key}' twice ({result[s.Key].Path}, {s.Path}).");
        return result;
    }
}
