using CycleGanEdge.Runtime.Evaluation;
using static CycleGanEdge.Runtime.Tests.Evaluation.EvalCommandTests;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

/// <summary>The evaluation as a library call: an options record in, typed rows and progress steps out, no command line.</summary>
public class EvalRunTests
{
    [Fact]
    public void A_library_call_returns_the_rows_it_writes_and_reports_each_long_step_to_its_total()
    {
        string root = TestFiles.TempFolder();
        var inputs = Enumerable.Range(0, 5).Select(i => ($"img{i}", TestImages.Random(24, 24, seed: i))).ToList();
        string inputDir = Folder(root, "inputs", inputs);
        string truthDir = Folder(root, "truth", inputs.Select(x => (x.Item1, Negative(x.Item2))));
        // Two folders of the same name: the second row gets a number, so the report's names stay keys.
        string sameA = Folder(Path.Combine(root, "a"), "out", inputs);
        string sameB = Folder(Path.Combine(root, "b"), "out", inputs);
        var steps = new List<(string Description, int Total, int LastDone)>();
        var log = new StringWriter();

        var result = EvalRun.Run(new EvalOptions
        {
            Models = [TestModels.Save(TestModels.Negate(new()), root, "negate.onnx")],
            Input = inputDir,
            Translated = [sameA, sameB],
            Real = truthDir,
            GroundTruth = truthDir,
            Features = FeatureNet(root),
            Layer = "pooled",
            ImageSize = 24,
            KidSubsets = 5,
            OutputDirectory = Path.Combine(root, "report"),
            CacheDirectory = Path.Combine(root, "cache"),
            Sessions = new TranslatorOptions { Provider = "cpu" },
        }, log, (description, total, work) =>
        {
            int last = -1;
            work(done => last = done);
            steps.Add((description, total, last));
        });

        // The model against each other candidate, pair by pair (an infinite PSNR leaves the PSNR difference out).
        Assert.Equal(["negate", "out", "out (2)", "negate − out", "negate − out (2)"], result.Rows.Select(r => r.Name));
        var diff = result.Rows[3];
        Assert.Null(diff.Psnr);
        Assert.Equal(result.Rows[0].L1!.Value - result.Rows[1].L1!.Value, diff.L1!.Value, 12);
        Assert.True(diff.Ci!.L1!.Value.Low <= diff.L1 && diff.L1 <= diff.Ci.L1.Value.High, $"{diff.Ci.L1}");
        Assert.Equal(EvalReport.Fid, result.DistanceName);
        var negate = result.Rows[0];
        Assert.Equal((double.PositiveInfinity, 1.0, 0.0), (negate.Psnr, negate.Ssim, negate.L1));
        Assert.Equal(0, negate.Fid!.Value, 3);
        Assert.Equal(result.Rows[1] with { Name = "out (2)" }, result.Rows[2]);
        Assert.Equal(Path.Combine(root, "report", "index.html"), result.ReportPath);
        Assert.Equal(EvalReport.Csv(result.Rows, result.DistanceName), File.ReadAllText(Path.Combine(root, "report", "results.csv")));
        // Intervals: two more CSV columns per score, one cell "value [low, high]" in the markdown.
        Assert.StartsWith("name,images,FID,FID low,FID high,KID,KID std,PSNR dB,PSNR dB low,PSNR dB high,SSIM,SSIM low,SSIM high,L1,L1 low,L1 high,cycle L1",
            File.ReadAllText(Path.Combine(root, "report", "results.csv")));
        var l1 = result.Rows[1];
        Assert.Contains($"| {l1.L1:F4} [{l1.Ci!.L1!.Value.Low:F4}, {l1.Ci.L1.Value.High:F4}] |", File.ReadAllText(Path.Combine(root, "report", "results.md")));

        // Every long step ran inside the scope and reported up to its total: translation, the real set, each candidate.
        Assert.Equal(["translate negate.onnx", "features real", "features negate", "features out", "features out (2)"], steps.Select(s => s.Description));
        Assert.All(steps, s => Assert.Equal((5, 5), (s.Total, s.LastDone)));
        Assert.Equal("", log.ToString());
    }
}
