using CycleGanEdge.Tests.Shared;
using System.Globalization;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

/// <summary>eval's default feature network (Microsoft.ML.DnnImageFeaturizer.ResNet18, copied beside the tests) and pytorch-fid's resize.</summary>
public class ResNet18FeatureTests
{
    private static readonly string TestSplits = Path.Combine(RepoRoot(), "models", "emoji-noto2twemoji", "test");

    private static async Task<(int Code, string Output, string Error)> Eval(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", CycleGanEdge.Run.Program.CreateRoot(), ["eval", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The report's distance from its markdown table: the third cell of the candidate's row.</summary>
    /// <summary>The FD of a row of eval's markdown table: the cell's value before its interval ("12.345 [10.1, 14.2]").</summary>
    private static double Distance(string markdown, string row) =>
        double.Parse(markdown.Split('\n').First(l => l.StartsWith($"| {row} |", StringComparison.Ordinal)).Split('|')[3].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Eval_on_the_shipped_test_splits_reports_FD_with_ResNet18_features_without_a_user_model()
    {
        string dir = TempFolder.New("cyclegan-fd");
        try
        {
            string testA = Path.Combine(TestSplits, "testA"), testB = Path.Combine(TestSplits, "testB");
            var (code, output, error) = await Eval("--translated", testA, "--translated", testB, "--real", testB,
                "--kid-subset-size", "50", "--kid-subsets", "10", "-o", Path.Combine(dir, "report"), "--cache-dir", Path.Combine(dir, "cache"));

            Assert.True(code == 0, error);
            Assert.Contains($"| {FeatureExtractor.ResNet18DistanceName} | KID |", output);
            Assert.DoesNotContain("FID", output);
            Assert.Contains("not Inception FID", error);
            // Real B against itself is at distance 0; the other domain is far from it.
            Assert.InRange(Distance(output, "testB"), -1e-3, 1e-3);
            Assert.True(Distance(output, "testA") > 10, output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_package_network_is_found_beside_the_app()
    {
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "DnnImageModels"), FeatureExtractor.FindResNet18());
    }

    /// <summary>torch's interpolate(bilinear, align_corners=False): [0, 100] to 4 pixels is [0, 25, 75, 100]; 4 to 2 averages pairs.</summary>
    [Fact]
    public void Bilinear_resize_matches_torch_interpolate_without_align_corners()
    {
        var twoByOne = new RgbaImage(2, 1, [0, 0, 0, 255, 100, 100, 100, 255], hasAlpha: false);
        var up = new float[3 * 4 * 4];
        FeatureExtractor.BilinearPlanes(twoByOne, 4, up);
        Assert.Equal([0f, 25f, 75f, 100f], up[..4]);

        var ramp = new RgbaImage(4, 4, Enumerable.Range(0, 16).SelectMany(i => new[] { (byte)(i % 4 * 40), (byte)0, (byte)0, (byte)255 }).ToArray(), hasAlpha: false);
        var down = new float[3 * 2 * 2];
        FeatureExtractor.BilinearPlanes(ramp, 2, down);
        Assert.Equal([20f, 100f, 20f, 100f], down[..4]);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln")))
                return dir.FullName;
        throw new InvalidOperationException("CycleGanEdge.sln not found above " + AppContext.BaseDirectory);
    }
}
