using System.Text;
using CycleGanEdge.Run.Batch;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime.Tests.Cli;

namespace CycleGanEdge.Runtime.Tests.Sharding;

[Trait("Category", "Slow")]
public class ShardTests
{
    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("3/4", 3, 4)]
    [InlineData("0/4", 0, 4)]
    public void Parses_zero_based_index_of_count(string value, int index, int count) =>
        Assert.Equal(new Shard(index, count), Shard.Parse(value));

    [Theory]
    [InlineData("3/3")]
    [InlineData("0/0")]
    [InlineData("x/y")]
    [InlineData("-1/2")]
    [InlineData("1/")]
    [InlineData("/2")]
    [InlineData("1/2/3")]
    [InlineData(" 1/2")]
    [InlineData("1")]
    public void Rejects_anything_but_i_of_n_with_i_below_n(string value) => Assert.Null(Shard.Parse(value));

    [Theory]
    [InlineData("", 0xcbf29ce484222325UL)]      // FNV-1a 64 reference values
    [InlineData("a", 0xaf63dc4c8601ec8cUL)]
    [InlineData("foobar", 0x85944171f73967e8UL)]
    public void Hash_is_64_bit_fnv1a_of_the_utf8_path(string path, ulong expected) => Assert.Equal(expected, Shard.Hash(path));

    [Fact]
    public void Every_path_belongs_to_exactly_one_of_n_shards_and_shares_are_even()
    {
        const int n = 4, paths = 4000;
        var shards = Enumerable.Range(0, n).Select(i => new Shard(i, n)).ToArray();
        var perShard = new int[n];
        for (int p = 0; p < paths; p++)
        {
            string path = $"folder{p % 17}/img_{p:00000}.png";
            var owners = shards.Where(s => s.Owns(path)).ToArray();
            perShard[Assert.Single(owners).Index]++;
        }
        foreach (int share in perShard)
            Assert.InRange(share, paths / n * 0.9, paths / n * 1.1);
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("0/0")]
    [InlineData("x/y")]
    public async Task A_bad_shard_is_a_usage_error(string value)
    {
        string dir = TestFiles.TempFolder();
        var r = await CliRunner.RunAsync("translate", "-m", TestModels.Save(TestModels.Negate(new()), dir), dir, "-o", Path.Combine(dir, "out"), "--shard", value);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: --shard: {Shard.Usage["--shard ".Length..]}", r.Error.Trim()); // the policy's "option: reason" shape
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public async Task Shards_run_one_after_another_translate_every_image_exactly_once()
    {
        string dir = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.Negate(new()), dir);
        const int count = 30, n = 3;
        for (int i = 0; i < count; i++)
        {
            string path = Path.Combine(dir, "in", i % 2 == 0 ? "even" : "", $"{i}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, ImageCodec.Encode(TestImages.Random(12, 8, seed: i), ImageFormat.Png, 1));
        }
        string outDir = Path.Combine(dir, "out");
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            var before = OutputFolder.VisibleFiles(outDir);
            var r = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-r", "-o", outDir, "--shard", $"{i}/{n}");
            Assert.Equal(0, r.ExitCode);
            var written = OutputFolder.VisibleFiles(outDir).Except(before).ToArray();
            Assert.All(written, f => Assert.True(new Shard(i, n).Owns(f), $"{f} is not shard {i}'s"));
            Assert.Contains($"done: {written.Length}, skipped: 0, failed: 0", r.Output);
            Assert.Contains($"shard {i}/{n}: {written.Length} of {count} images", r.Error);
            total += written.Length;
        }
        Assert.Equal(count, total);
        Assert.Equal(count, OutputFolder.VisibleFiles(outDir).Length);
    }

    [Fact]
    public async Task A_shard_that_owns_no_image_succeeds()
    {
        string dir = TestFiles.TempFolder();
        File.WriteAllBytes(Path.Combine(dir, "only.png"), ImageCodec.Encode(TestImages.Random(8, 8), ImageFormat.Png, 1));
        int owner = (int)(Shard.Hash("only.png") % 2);
        var r = await CliRunner.RunAsync("translate", "-m", TestModels.Save(TestModels.Negate(new()), dir), Path.Combine(dir, "only.png"),
            "-o", Path.Combine(dir, "out"), "--shard", $"{1 - owner}/2");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("done: 0, skipped: 0, failed: 0", r.Output);
    }
}
