using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>Inputs, a small generator-like model and output checks shared by the kill and shard tests.</summary>
internal static class OutputFolder
{
    /// <summary>A stack of convolutions with a tiny resnet's work per image: slow enough that a run can be caught mid-way.</summary>
    public static string TinyGenerator(string dir) => TestModels.Save(TestModels.ConvStack(), dir);

    /// <summary><paramref name="count"/> noise PNGs, spread over two subfolders.</summary>
    public static string Inputs(string dir, int count, int side)
    {
        string input = Path.Combine(dir, "in");
        for (int i = 0; i < count; i++)
        {
            string path = Path.Combine(input, i % 3 == 0 ? "sub" : "", $"{i:000}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, ImageCodec.Encode(TestImages.Random(side, side, seed: i), ImageFormat.Png, 0));
        }
        return input;
    }

    /// <summary>Files a user or a later run would take for outputs: everything but hidden temp files, relative to <paramref name="root"/>.</summary>
    public static string[] VisibleFiles(string root) =>
        Directory.Exists(root)
            ? [.. Directory.GetFiles(root, "*", SearchOption.AllDirectories)
                .Where(f => !Path.GetFileName(f).StartsWith('.'))
                .Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>Every visible file in <paramref name="actual"/> is a complete output, byte-identical to the uninterrupted run's.</summary>
    public static void AssertOnlyCompleteOutputs(string reference, string actual)
    {
        var expected = VisibleFiles(reference).ToHashSet();
        foreach (string file in VisibleFiles(actual))
        {
            Assert.True(expected.Contains(file), $"unexpected visible file {file}");
            Assert.True(File.ReadAllBytes(Path.Combine(reference, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, file))),
                $"{file} differs from the uninterrupted run (partial or wrong)");
        }
    }

    /// <summary>The same files as the uninterrupted run, each byte-identical.</summary>
    public static void AssertSameOutputs(string reference, string actual)
    {
        Assert.Equal(VisibleFiles(reference), VisibleFiles(actual));
        AssertOnlyCompleteOutputs(reference, actual);
    }
}
