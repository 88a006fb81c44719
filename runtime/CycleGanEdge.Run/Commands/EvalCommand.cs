using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Evaluation;
using Spectre.Console;

namespace CycleGanEdge.Run.Commands;

/// <summary>
/// cyclegan-run eval: compare models (or folders of their outputs) in one run. FID/KID against a folder of
/// real target images with a user-supplied ONNX feature network; PSNR/SSIM/L1 against ground truth
/// paired by file name; cycle L1 of an A→B, B→A pair; with a domain classifier (cyclegan-train classifier), the share
/// of translated images classified as the target domain, with the real images' shares as reference rows.
/// Writes results.md, results.csv and index.html. The command maps its options to <see cref="EvalOptions"/>; the
/// work is <see cref="EvalRun"/>'s.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var models = new Option<FileInfo[]>("--model", "-m") { Description = "Generator(s) to evaluate on --input (repeat for several)" };
        models.AcceptExistingOnly();
        var input = new Option<DirectoryInfo>("--input") { Description = "Source-domain images the models translate" };
        input.AcceptExistingOnly();
        var translated = new Option<DirectoryInfo[]>("--translated") { Description = "Folder(s) of already translated images to evaluate (repeat for several)" };
        translated.AcceptExistingOnly();
        var real = new Option<DirectoryInfo>("--real") { Description = "Real target-domain images (FID/KID reference; the classifier's reference row)" };
        real.AcceptExistingOnly();
        var truth = new Option<DirectoryInfo>("--ground-truth") { Description = "Target images paired with the inputs by file name (PSNR, SSIM, L1)" };
        truth.AcceptExistingOnly();
        var features = new Option<FileInfo>("--features")
        {
            Description = "ONNX feature network for FID/KID (input float32 [N,3,H,W]); default: the ImageNet ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18, reported as " + FeatureExtractor.ResNet18DistanceName,
        };
        features.AcceptExistingOnly();
        var layer = new Option<string?>("--layer") { Description = "Output of the feature network to use (default: its first output)" };
        var imageSize = SharedOptions.AtLeastOne(new Option<int>("--image-size") { Description = "Side the images are resized to for the feature network", DefaultValueFactory = _ => 299 });
        var normalize = new Option<string>("--normalize")
        {
            Description = "--features input scaling: imagenet, minus1to1, or pytorch-fid (bilinear resize in float, then [-1,1]: for pytorch-fid's Inception as ONNX)",
            DefaultValueFactory = _ => "imagenet",
        }.AcceptOnlyFromAmong("imagenet", "minus1to1", "pytorch-fid");
        var batch = SharedOptions.AtLeastOne(new Option<int>("--batch") { Description = "Images per feature network run", DefaultValueFactory = _ => 16 });
        var kidSubset = SharedOptions.AtLeastOne(new Option<int>("--kid-subset-size") { Description = "KID subset size", DefaultValueFactory = _ => 1000 });
        var kidSubsets = SharedOptions.AtLeastOne(new Option<int>("--kid-subsets") { Description = "KID subsets", DefaultValueFactory = _ => 100 });
        var a2b = new Option<FileInfo>("--model-a2b") { Description = "With --model-b2a: cycle L1 of --input through A→B→A" };
        a2b.AcceptExistingOnly();
        var b2a = new Option<FileInfo>("--model-b2a") { Description = "With --model-a2b: the B→A generator" };
        b2a.AcceptExistingOnly();
        var classifier = new Option<FileInfo>("--classifier") { Description = "Domain classifier ONNX (cyclegan-train classifier): share of images classified as the target domain" };
        classifier.AcceptExistingOnly();
        var recolour = new Option<DirectoryInfo>("--recolour-palette") { Description = "Adds a baseline row: --input with every pixel snapped to a 32-colour palette of these images (a pure recolouring)" };
        recolour.AcceptExistingOnly();
        var targetDomain = new Option<string?>("--target-domain") { Description = "With --classifier: the target domain, by name or A/B (default: the first --model's output domain)" };
        var resamples = SharedOptions.NonNegative(new Option<int>("--bootstrap")
        {
            Description = "Bootstrap resamples behind each score's 95% interval (file names grouped by code point, skin tones with their emoji); 0: no intervals",
            DefaultValueFactory = _ => Bootstrap.DefaultResamples,
        });
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Report folder", DefaultValueFactory = _ => new DirectoryInfo("eval-report") }.WritableFolder();
        var gridCount = SharedOptions.NonNegative(new Option<int>("--grid") { Description = "Example inputs shown in index.html", DefaultValueFactory = _ => 8 });
        var cacheDir = new Option<DirectoryInfo>("--cache-dir") { Description = $"Where real-set features are cached (default {FeatureCache.DefaultDirectory})" }.WritableFolder();
        var provider = SharedOptions.Provider();
        var threads = SharedOptions.Threads();
        var alpha = AlphaOption.Create();

        var command = new Command("eval", "FID/KID against real images, PSNR/SSIM/L1 against paired ground truth, cycle L1; several models in one report")
        {
            models, input, translated, real, truth, features, layer, imageSize, normalize, batch, kidSubset, kidSubsets, a2b, b2a, classifier, targetDomain, recolour, resamples, output, gridCount, cacheDir, provider, threads, alpha,
        };
        command.Validators.Add(r =>
        {
            bool anyModel = r.GetValue(models) is { Length: > 0 } || r.GetValue(a2b) is not null;
            if (anyModel && r.GetValue(input) is null) r.AddError("--model and --model-a2b need --input (the images to translate)");
            if ((r.GetValue(a2b) is null) != (r.GetValue(b2a) is null)) r.AddError("--model-a2b and --model-b2a go together");
            if (r.GetValue(models) is not { Length: > 0 } && r.GetValue(translated) is not { Length: > 0 } && r.GetValue(a2b) is null)
                r.AddError("nothing to evaluate: give --model (with --input), --translated, or --model-a2b/--model-b2a");
            if (r.GetValue(features) is not null && r.GetValue(real) is null) r.AddError("FID/KID need both --real and --features");
            if (r.GetValue(targetDomain) is not null && r.GetValue(classifier) is null) r.AddError("--target-domain needs --classifier");
            if (r.GetValue(recolour) is not null && r.GetValue(input) is null) r.AddError("--recolour-palette needs --input (the images to recolour)");
        });
        command.SetAction(parse =>
        {
            var io = parse.InvocationConfiguration;
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(io.Error) });
            var options = ToOptions(parse);
            try
            {
                var result = EvalRun.Run(options, io.Error, (description, total, work) => console.Progress().Start(ctx =>
                {
                    var task = ctx.AddTask(description, maxValue: total);
                    work(done => task.Value = done);
                }));
                io.Output.Write(EvalReport.Markdown(result.Rows, result.DistanceName));
                io.Output.WriteLine($"report: {result.ReportPath}");
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.ForStartError(e);
            }
        });
        return command;
    }

    /// <summary>The <see cref="EvalOptions"/> of a parsed eval command line (what its action runs; tests rerun shipped evals with it).</summary>
    public static EvalOptions ToOptions(ParseResult parse)
    {
        return new EvalOptions
        {
            Models = [.. (parse.GetValue<FileInfo[]>("--model") ?? []).Select(m => m.FullName)],
            Input = parse.GetValue<DirectoryInfo>("--input")?.FullName,
            Translated = [.. (parse.GetValue<DirectoryInfo[]>("--translated") ?? []).Select(d => d.FullName)],
            Real = parse.GetValue<DirectoryInfo>("--real")?.FullName,
            GroundTruth = parse.GetValue<DirectoryInfo>("--ground-truth")?.FullName,
            Features = parse.GetValue<FileInfo>("--features")?.FullName,
            Layer = parse.GetValue<string?>("--layer"),
            ImageSize = parse.GetValue<int>("--image-size"),
            Normalization = parse.GetValue<string>("--normalize") switch
            {
                "minus1to1" => FeatureNormalization.MinusOneToOne,
                "pytorch-fid" => FeatureNormalization.PytorchFid,
                _ => FeatureNormalization.Imagenet,
            },
            Batch = parse.GetValue<int>("--batch"),
            KidSubsetSize = parse.GetValue<int>("--kid-subset-size"),
            KidSubsets = parse.GetValue<int>("--kid-subsets"),
            ModelA2B = parse.GetValue<FileInfo>("--model-a2b")?.FullName,
            ModelB2A = parse.GetValue<FileInfo>("--model-b2a")?.FullName,
            Classifier = parse.GetValue<FileInfo>("--classifier")?.FullName,
            TargetDomain = parse.GetValue<string?>("--target-domain"),
            RecolourPalette = parse.GetValue<DirectoryInfo>("--recolour-palette")?.FullName,
            Resamples = parse.GetValue<int>("--bootstrap"),
            OutputDirectory = parse.GetValue<DirectoryInfo>("--out")!.FullName,
            GridCount = parse.GetValue<int>("--grid"),
            CacheDirectory = parse.GetValue<DirectoryInfo>("--cache-dir")?.FullName ?? FeatureCache.DefaultDirectory,
            Sessions = new TranslatorOptions
            {
                Provider = parse.GetValue<string>("--provider")!,
                Threads = parse.GetValue<int>("--threads"),
                Alpha = AlphaOption.Parse(parse.GetValue<string>("--alpha")!),
            },
        };
    }
}
