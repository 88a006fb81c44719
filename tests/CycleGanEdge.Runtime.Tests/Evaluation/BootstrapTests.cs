using CycleGanEdge.Runtime.Evaluation;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class BootstrapTests
{
    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Theory]
    [InlineData("1f44b-1f3fb.png", "1f44b")]
    [InlineData("1f44b.png", "1f44b")]
    [InlineData("1f44b-1f3ff", "1f44b")]
    [InlineData("1f9d1-1f3fd-200d-1f91d-200d-1f9d1-1f3fb.png", "1f9d1-200d-1f91d-200d-1f9d1")]
    [InlineData("1f1ef-1f1f5.png", "1f1ef-1f1f5")]
    [InlineData("cat.jpg", "cat")]
    public void Skin_tone_variants_are_one_group_with_their_emoji(string file, string group) => Assert.Equal(group, Bootstrap.Group(file));

    /// <summary>Over many samples of a known distribution the 95 % interval of the mean covers the true mean about 95 % of the time.</summary>
    [Fact]
    public void The_interval_covers_the_true_mean_at_about_the_nominal_rate()
    {
        const int trials = 300, n = 80;
        const double mean = 0.5;
        int covered = 0;
        double width = 0;
        for (int t = 0; t < trials; t++)
        {
            var rng = new Random(1000 + t);
            double[] values = [.. Enumerable.Range(0, n).Select(_ => mean + 0.1 * Normal(rng))];
            string[] names = [.. Enumerable.Range(0, n).Select(i => $"img{i}")];
            var ci = Bootstrap.Mean(values, names, resamples: 400, seed: t);
            if (ci.Low <= mean && mean <= ci.High) covered++;
            width += ci.High - ci.Low;
        }
        double rate = (double)covered / trials;
        // The percentile bootstrap of a mean undercovers slightly at this n; binomial noise over 300 trials is ±2.5 %.
        Assert.InRange(rate, 0.89, 0.985);
        // And it is no trivially wide interval: about 2 × 1.96 × 0.1 / √80 = 0.044.
        Assert.InRange(width / trials, 0.036, 0.050);
    }

    [Fact]
    public void A_group_is_drawn_whole()
    {
        string[] names = ["1f44b.png", "1f44b-1f3fb.png", "1f44b-1f3ff.png", "2764.png", "1f600.png", "1f600-1f3fc.png"];
        var groups = Bootstrap.Groups(names);
        Assert.Equal(3, groups.Length);
        int[][] expected = [[0, 1, 2], [3], [4, 5]];
        Assert.Equal(expected, groups);
        int resamples = 0;
        Bootstrap.Percentile(groups, names.Length, counts =>
        {
            resamples++;
            Assert.Equal(counts[0], counts[1]);
            Assert.Equal(counts[0], counts[2]);
            Assert.Equal(counts[4], counts[5]);
            Assert.Equal(3, counts[0] + counts[3] + counts[4]); // one count per draw of a group, as many draws as groups
            return 0;
        }, resamples: 200);
        Assert.Equal(200, resamples);
    }

    /// <summary>Four copies of each value grouped together give the interval of the values alone: copies are no new evidence.</summary>
    [Fact]
    public void Grouped_copies_give_the_interval_of_one_copy_each()
    {
        var rng = new Random(5);
        double[] values = [.. Enumerable.Range(0, 40).Select(_ => rng.NextDouble())];
        var single = Bootstrap.Mean(values, [.. values.Select((_, i) => $"{i:x}")]);
        var copies = Bootstrap.Mean([.. values.SelectMany(v => new[] { v, v, v, v })],
            [.. values.SelectMany((_, i) => new[] { $"{i:x}", $"{i:x}-1f3fb", $"{i:x}-1f3fc", $"{i:x}-1f3fd" })]);
        Assert.Equal(single.Low, copies.Low, 12);
        Assert.Equal(single.High, copies.High, 12);
        // Treated as independent the copies would claim about half the width.
        var independent = Bootstrap.Mean([.. values.SelectMany(v => new[] { v, v, v, v })], [.. Enumerable.Range(0, 160).Select(i => $"n{i}")]);
        Assert.True(independent.High - independent.Low < 0.7 * (single.High - single.Low), $"{independent} vs {single}");
    }

    [Fact]
    public void The_paired_difference_of_identical_scores_is_exactly_zero()
    {
        var rng = new Random(3);
        double[] a = [.. Enumerable.Range(0, 50).Select(_ => rng.NextDouble())];
        double[] diff = [.. a.Zip(a, (x, y) => x - y)];
        var ci = Bootstrap.Mean(diff, [.. a.Select((_, i) => $"e{i}")]);
        Assert.Equal(new Interval(0, 0), ci);
    }

    [Fact]
    public void The_same_seed_gives_the_same_interval()
    {
        double[] v = [.. Enumerable.Range(0, 30).Select(i => Math.Sin(i))];
        string[] names = [.. v.Select((_, i) => $"x{i}")];
        Assert.Equal(Bootstrap.Mean(v, names, seed: 7), Bootstrap.Mean(v, names, seed: 7));
        Assert.NotEqual(Bootstrap.Mean(v, names, seed: 7), Bootstrap.Mean(v, names, seed: 8));
    }

    private static List<float[]> Features(int n, int d, int seed, double shift)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(k => (float)(Normal(rng) * (1 + 0.1 * k) + shift)).ToArray())];
    }

    /// <summary>A resample's FD from the Gram matrices equals FD computed the direct way on the images repeated that often (to the eigen solvers' 1e-7).</summary>
    [Fact]
    public void A_resamples_frechet_distance_equals_the_direct_one()
    {
        var x = Features(30, 12, 1, 0.3);
        var reference = GaussianStats.FromFeatures(Features(50, 12, 2, 0));
        var gram = new Bootstrap.FrechetGram(x, reference);
        int[] ones = [.. Enumerable.Repeat(1, x.Count)];
        double direct = Fid.Distance(GaussianStats.FromFeatures(x), reference);
        Assert.Equal(direct, gram.Distance(ones), 1e-6 * Math.Max(1, direct));

        var rng = new Random(4);
        int[] counts = [.. Enumerable.Range(0, x.Count).Select(_ => rng.Next(3))];
        var repeated = x.SelectMany((f, i) => Enumerable.Repeat(f, counts[i])).ToList();
        double expected = Fid.Distance(GaussianStats.FromFeatures(repeated), reference);
        Assert.Equal(expected, gram.Distance(counts), 1e-6 * Math.Max(1, expected));
    }

    [Fact]
    public void The_frechet_interval_holds_the_estimate_and_shrinks_with_more_images()
    {
        var reference = GaussianStats.FromFeatures(Features(400, 8, 2, 0));
        Interval Ci(int n, out double estimate)
        {
            var x = Features(n, 8, 9, 0.5);
            estimate = Fid.Distance(GaussianStats.FromFeatures(x), reference);
            return Bootstrap.FrechetDistance(x, [.. x.Select((_, i) => $"f{i}")], reference, resamples: 300);
        }
        var small = Ci(40, out double smallFd);
        var large = Ci(320, out double largeFd);
        Assert.InRange(smallFd, small.Low, small.High);
        Assert.InRange(largeFd, large.Low, large.High);
        Assert.True(large.High - large.Low < small.High - small.Low, $"{large} vs {small}");
    }
}
