using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

/// <summary>eval --classifier with a hand-set red (A) / blue (B) classifier: known rates of 1 and 0.</summary>
public class ClassifierEvalTests
{
    private static string Folder(string root, string name, byte r, byte g, byte b, int count = 5)
    {
        string dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(dir, $"img{i}.png"), ImageCodec.Encode(TestModels.Solid(40, r, g, b, seed: i), ImageFormat.Png));
        return dir;
    }

    private static async Task<(int Code, string Output, string Error)> Eval(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CycleGanEdge.Core.CommandLine.CommandLineHost.InvokeAsync("cyclegan-run", CycleGanEdge.Run.Program.CreateRoot(), ["eval", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>name -> "classified as target" cell of results.csv.</summary>
    private static Dictionary<string, double> Rates(string reportDir)
    {
        var lines = File.ReadAllLines(Path.Combine(reportDir, "results.csv"));
        int column = Array.IndexOf(lines[0].Split(','), EvalReport.TargetRateColumn);
        Assert.True(column > 0, lines[0]);
        return lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .ToDictionary(c => c[0], c => double.Parse(c[column], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void The_classifier_reads_its_metadata_and_separates_red_from_blue()
    {
        string root = TestFiles.TempFolder();
        string path = TestModels.Save(TestModels.RedBlueClassifier(), root, "classifier.onnx");
        using var c = DomainClassifier.Open(path);
        Assert.Equal(["red", "blue"], c.Labels);
        Assert.Equal(32, c.ImageSize);
        Assert.Equal(1, c.LabelIndex("blue"));
        Assert.Equal(1, c.LabelIndex("B"));
        Assert.Equal(0, c.LabelIndex("Red"));
        var red = Enumerable.Range(0, 3).Select(i => TestModels.Solid(40, 220, 30, 30, i)).ToList();
        var blue = Enumerable.Range(0, 3).Select(i => TestModels.Solid(24, 30, 30, 220, i)).ToList(); // other sizes are resized
        Assert.Equal(0.0, c.Rate(red, 1));
        Assert.Equal(1.0, c.Rate(red, 0));
        Assert.Equal(1.0, c.Rate(blue, 1));
        Assert.Equal(0.75, c.Rate([.. red, .. blue, .. blue, .. blue], 1));
    }

    [Fact]
    public async Task Eval_reports_the_share_classified_as_the_target_with_real_reference_rows()
    {
        string root = TestFiles.TempFolder();
        string classifier = TestModels.Save(TestModels.RedBlueClassifier(), root, "classifier.onnx");
        string red = Folder(root, "red", 220, 30, 30), blue = Folder(root, "blue", 30, 30, 220);
        string mixed = Path.Combine(root, "mixed");
        Directory.CreateDirectory(mixed);
        for (int i = 0; i < 4; i++) File.Copy(Path.Combine(i < 1 ? red : blue, $"img{i}.png"), Path.Combine(mixed, $"img{i}.png"));
        string report = Path.Combine(root, "report");

        var (code, output, error) = await Eval("--translated", blue, "--translated", red, "--translated", mixed, "--input", red, "--real", blue,
            "--classifier", classifier, "--target-domain", "blue", "-o", report);
        Assert.True(code == 0, error);
        Assert.Contains("classified as target", output);
        Assert.Contains("target domain 'blue' (B)", error);
        var rates = Rates(report);
        Assert.Equal(1.0, rates["blue"]);
        Assert.Equal(0.0, rates["red"]);
        Assert.Equal(0.75, rates["mixed"]);
        Assert.Equal(1.0, rates["real target (blue)"]);
        Assert.Equal(0.0, rates["real source (red)"]);

        // The other direction: A as the target.
        var (code2, _, error2) = await Eval("--translated", blue, "--translated", red, "--classifier", classifier, "--target-domain", "A", "-o", report);
        Assert.True(code2 == 0, error2);
        rates = Rates(report);
        Assert.Equal(0.0, rates["blue"]);
        Assert.Equal(1.0, rates["red"]);
    }

    [Fact]
    public async Task The_target_domain_defaults_to_the_models_output_domain()
    {
        string root = TestFiles.TempFolder();
        string classifier = TestModels.Save(TestModels.RedBlueClassifier(), root, "classifier.onnx");
        string red = Folder(root, "red", 220, 30, 30);
        // The negate model turns red (220,30,30) into cyan (35,225,225): more blue than red.
        var spec = new TestModels.Spec { Metadata = { [ModelContract.DomainOutKey] = "blue" } };
        string negate = TestModels.Save(TestModels.Negate(spec), root, "negate.onnx");
        string report = Path.Combine(root, "report");
        var (code, _, error) = await Eval("-m", negate, "--input", red, "--classifier", classifier, "-o", report);
        Assert.True(code == 0, error);
        var rates = Rates(report);
        Assert.Equal(1.0, rates["negate"]);
        Assert.Equal(0.0, rates["real source (red)"]);
    }

    [Fact]
    public async Task Classifier_mistakes_are_clear_errors()
    {
        string root = TestFiles.TempFolder();
        string classifier = TestModels.Save(TestModels.RedBlueClassifier(), root, "classifier.onnx");
        string generator = TestModels.Save(TestModels.Negate(new()), root, "negate.onnx");
        string red = Folder(root, "red", 220, 30, 30, count: 2);
        string report = Path.Combine(root, "report");

        var (code, _, error) = await Eval("--translated", red, "--classifier", classifier, "--target-domain", "green", "-o", report);
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Usage, code);
        Assert.Contains("'red' (A) and 'blue' (B), not 'green'", error);

        (code, _, error) = await Eval("--translated", red, "--classifier", classifier, "-o", report);
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Usage, code);
        Assert.Contains("--target-domain", error);

        (code, _, error) = await Eval("--translated", red, "--classifier", generator, "--target-domain", "B", "-o", report);
        Assert.Equal(CycleGanEdge.Core.CommandLine.ExitCodes.Failed, code); // a model, but not a classifier
        Assert.Contains("negate.onnx", error);
        Assert.Contains("not a domain classifier", error);
        Assert.DoesNotContain("   at ", error);
    }
}
