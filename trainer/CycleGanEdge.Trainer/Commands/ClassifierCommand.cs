using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Exporter;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Evaluation;
using CycleGanEdge.Torch.Training;
using static TorchSharp.torch;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>
/// cyclegan-train classifier: trains a small domain classifier on the real images of a dataset and writes it as
/// ONNX for cyclegan-run eval --classifier (and train --eval-classifier), after checking the ONNX logits against TorchSharp.
/// </summary>
public static class ClassifierCommand
{

    public static Command Create()
    {
        var d = new ClassifierOptions();
        var dataRoot = new Option<DirectoryInfo>("--dataroot") { Description = "Folder with <phase>A and <phase>B (the two domains)", Required = true };
        dataRoot.AcceptExistingOnly();
        var phase = new Option<string>("--phase") { Description = "Train on <phase>A and <phase>B", DefaultValueFactory = _ => d.Phase };
        var testRoot = new Option<DirectoryInfo>("--test-root") { Description = "Folder with testA/testB for the held-out accuracy (default: --dataroot, if it has them)" };
        testRoot.AcceptExistingOnly();
        var size = new Option<int>("--size") { Description = "Side of the square classifier input; images are resized to it", DefaultValueFactory = _ => d.ImageSize }.AtLeast(8);
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training images", DefaultValueFactory = _ => d.Epochs }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { Description = "Images per step", DefaultValueFactory = _ => d.BatchSize }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => d.Lr }.Above(0);
        var width = new Option<int>("--width") { Description = "Filters of the first convolution (then 2x, 4x)", DefaultValueFactory = _ => d.Width }.AtLeast(1);
        var max = new Option<int>("--max-dataset-size") { Description = "Use at most this many training images per domain", DefaultValueFactory = _ => d.MaxImages }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Seed for weights, order and flips", DefaultValueFactory = _ => d.Seed };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0 = all cores)", DefaultValueFactory = _ => d.Threads }.AtLeast(0);
        var domainA = new Option<string?>("--domain-a") { Description = "Name of domain A (default: from a data root named a2b, else A)" };
        var domainB = new Option<string?>("--domain-b") { Description = "Name of domain B (default: from a data root named a2b, else B)" };
        var colour = new Option<bool>("--colour-augment") { Description = "Random hue, saturation, contrast and brightness per training image, so palette alone cannot decide (--colour-augment false: raw colours)", DefaultValueFactory = _ => d.ColourAugment };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The classifier ONNX to write", Required = true };

        var command = new Command("classifier", "Train a domain classifier (A vs B) for evaluation and write it as ONNX")
        {
            dataRoot, phase, testRoot, size, epochs, batch, lr, width, max, seed, threads, domainA, domainB, colour, output,
        };
        command.SetAction(p => Run(new ClassifierOptions
        {
            DataRoot = p.GetValue(dataRoot)!.FullName,
            Phase = p.GetValue(phase)!,
            TestRoot = p.GetValue(testRoot)?.FullName,
            ImageSize = p.GetValue(size),
            Epochs = p.GetValue(epochs),
            BatchSize = p.GetValue(batch),
            Lr = p.GetValue(lr),
            Width = p.GetValue(width),
            MaxImages = p.GetValue(max),
            Seed = p.GetValue(seed),
            Threads = p.GetValue(threads),
            DomainA = p.GetValue(domainA),
            DomainB = p.GetValue(domainB),
            ColourAugment = p.GetValue(colour),
        }, p.GetValue(output)!.FullName, p.InvocationConfiguration.Output, p.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(ClassifierOptions options, string outputPath, TextWriter output, TextWriter error)
    {
        try
        {
            var result = ClassifierTraining.Train(options, output);
            using var net = result.Net;
            byte[] onnx = ClassifierExport.ToBytes(net, options.ImageSize, result.Labels);
            double diff;
            using (var scope = NewDisposeScope())
            {
                // Parity on real images: the held-out set if there is one, else the first training images.
                var sample = result.HeldOut ?? ClassifierTraining.Load(Path.Combine(options.DataRoot, options.Phase + "A"),
                    Path.Combine(options.DataRoot, options.Phase + "B"), options.ImageSize, 16, TextWriter.Null);
                diff = ClassifierExport.CheckParity(net, onnx, sample.Batch([.. Enumerable.Range(0, Math.Min(64, sample.Count))]));
            }
            if (!(diff <= ClassifierExport.ParityTolerance))
            {
                error.WriteLine($"error: {outputPath}: not written, ONNX logits differ from TorchSharp by {diff:G3} (> {ClassifierExport.ParityTolerance:G1})");
                return ExitCodes.Failed;
            }
            string? dir = Path.GetDirectoryName(outputPath);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            AtomicFile.WriteAllBytes(outputPath, onnx);
            using (var check = DomainClassifier.Open(outputPath)) { } // the runtime accepts what was written
            output.WriteLine($"training accuracy {result.TrainAccuracy:P2}" +
                (result.HeldOutAccuracy is double h ? $", held-out accuracy {h:P2} ({result.HeldOut!.Count} images)" : ", no held-out set (give --test-root)"));
            output.WriteLine($"ONNX vs TorchSharp: max |logit difference| {diff:G3}");
            output.WriteLine($"wrote {outputPath} ({onnx.Length / 1024.0:F0} KiB): logit 0 = {result.Labels[0]} (A), 1 = {result.Labels[1]} (B), input {options.ImageSize}x{options.ImageSize}");
            return 0;
        }
        catch (Exception e) when (e is TrainingException or DatasetException or ExportException or InvalidModelException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }
}
