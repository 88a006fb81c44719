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

        Assert.Equal(["negate", "out", "out (2)"], result.Rows.Select(r => r.Name));
        Assert.Equal(EvalReport.Fid, result.DistanceName);
        var negate = result.Rows[0];
        Assert.Equal((double.PositiveInfinity, 1.0, 0.0), (negate.Psnr, negate.Ssim, negate.L1));
        Assert.Equal(0, negate.Fid!.Value, 3);
        Assert.Equal(result.Rows[1] with { Name = "out (2)" }, result.Rows[2]);
        Assert.Equal(Path.Combine(root, "report", "index.html"), result.ReportPath);
        Assert.Equal(EvalReport.Csv(result.Rows, result.DistanceName), File.ReadAllText(Path.Combine(root, "report", "results.csv")));

        // Every long step ran inside the scope and reported up to its total: translation, the real set, each candidate.
        Assert.Equal(["translate negate.onnx", "features real", "features negate", "features out", "features out (2)"], steps.Select(s => s.Description));
        Assert.All(steps, s => Assert.Equal((5, 5), (s.Total, s.LastDone)));
        Assert.Equal("", log.ToString());
    }
}
