using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Runtime.Imaging;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Evaluation;

/// <summary>Options of <c>cyclegan-train classifier</c>.</summary>
public sealed record ClassifierOptions
{
    public string DataRoot { get; init; } = "";
    /// <summary>Training folders are &lt;phase&gt;A and &lt;phase&gt;B under <see cref="DataRoot"/>.</summary>
    public string Phase { get; init; } = "train";
    /// <summary>Folder holding testA/testB for the held-out accuracy (default: the data root, if it has them).</summary>
    public string? TestRoot { get; init; }
    public int ImageSize { get; init; } = 64;
    public int Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 32;
    public double Lr { get; init; } = 1e-3;
    public int Width { get; init; } = 16;
    public int MaxImages { get; init; } = int.MaxValue;
    public int Seed { get; init; }
    public int Threads { get; init; }
    public string? DomainA { get; init; }
    public string? DomainB { get; init; }
}

/// <summary>Images of both domains as the classifier's input (see <see cref="DomainClassifier.WriteInput"/>) with labels 0 (A) and 1 (B).</summary>
public sealed record LabelledImages(float[] Data, long[] Labels, int ImageSize)
{
    public int Count => Labels.Length;

    public Tensor Batch(int[] indices)
    {
        int per = 3 * ImageSize * ImageSize;
        var data = new float[indices.Length * per];
        for (int i = 0; i < indices.Length; i++) Data.AsSpan(indices[i] * per, per).CopyTo(data.AsSpan(i * per, per));
        return tensor(data, [indices.Length, 3, ImageSize, ImageSize]);
    }

    public Tensor BatchLabels(int[] indices) => tensor(indices.Select(i => Labels[i]).ToArray());
}

public sealed record ClassifierResult(DomainClassifierNet Net, string[] Labels, double TrainAccuracy, LabelledImages? HeldOut, double? HeldOutAccuracy);

/// <summary>Trains a <see cref="DomainClassifierNet"/> on the real images of two domains (cross-entropy, Adam, random flips).</summary>
public static class ClassifierTraining
{
    /// <summary>Every readable image of both folders (up to <paramref name="max"/> each, sorted by name); unreadable ones are reported and skipped.</summary>
    public static LabelledImages Load(string dirA, string dirB, int imageSize, int max, TextWriter log)
    {
        int per = 3 * imageSize * imageSize;
        var data = new List<float[]>();
        var labels = new List<long>();
        foreach (var (dir, label) in new[] { (dirA, 0L), (dirB, 1L) })
        {
            if (!Directory.Exists(dir)) throw new TrainingException($"{dir}: folder not found");
            int before = labels.Count;
            foreach (string file in ImageFolder.List(dir, max))
            {
                try
                {
                    var chw = new float[per];
                    DomainClassifier.WriteInput(ImageCodec.Decode(file), imageSize, chw);
                    data.Add(chw);
                    labels.Add(label);
                }
                catch (ImageDecodeException e)
                {
                    log.WriteLine($"warning: skipped {e.Message}");
                }
            }
            if (labels.Count == before) throw new TrainingException($"{dir}: no readable images");
        }
        var all = new float[data.Count * per];
        for (int i = 0; i < data.Count; i++) data[i].CopyTo(all, i * per);
        return new LabelledImages(all, [.. labels], imageSize);
    }

    public static ClassifierResult Train(ClassifierOptions o, TextWriter log)
    {
        if (o.ImageSize < 8) throw new TrainingException("--size must be at least 8");
        if (o.Epochs < 1 || o.BatchSize < 1 || o.Width < 1 || o.Lr <= 0) throw new TrainingException("--epochs, --batch-size, --width and --lr must be positive");
        TorchSetup.ConfigureCpu(oneDnn: true);
        torch.set_num_threads(o.Threads > 0 ? o.Threads : Environment.ProcessorCount);
        var (nameA, nameB) = TrainingRun.DomainNames(o.DataRoot, o.DomainA, o.DomainB);
        if (nameA.Contains(',') || nameB.Contains(',') || nameA == nameB)
            throw new TrainingException($"domain names '{nameA}' and '{nameB}' must differ and contain no comma");

        var train = Load(Path.Combine(o.DataRoot, o.Phase + "A"), Path.Combine(o.DataRoot, o.Phase + "B"), o.ImageSize, o.MaxImages, log);
        string testRoot = o.TestRoot ?? o.DataRoot;
        bool hasTest = Directory.Exists(Path.Combine(testRoot, "testA")) && Directory.Exists(Path.Combine(testRoot, "testB"));
        if (o.TestRoot is not null && !hasTest) throw new TrainingException($"{o.TestRoot}: needs testA and testB folders (the held-out images)");
        var heldOut = hasTest && !(testRoot == o.DataRoot && o.Phase == "test")
            ? Load(Path.Combine(testRoot, "testA"), Path.Combine(testRoot, "testB"), o.ImageSize, int.MaxValue, log)
            : null;
        int countB = train.Labels.Count(l => l == 1);
        log.WriteLine($"Classifier {nameA} (A) vs {nameB} (B): {train.Count - countB} + {countB} training images at {o.ImageSize}px" +
            (heldOut is null ? ", no held-out set" : $", {heldOut.Count} held-out images from {testRoot}"));

        torch.manual_seed(o.Seed);
        var net = new DomainClassifierNet(o.Width);
        NarrowConvolutionPadding.Apply(net); // for --width below 16 (see TorchSetup)
        using var optimizer = optim.Adam(net.parameters(), o.Lr);
        var random = new Random(o.Seed);
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            net.train();
            int[] order = Enumerable.Range(0, train.Count).ToArray();
            random.Shuffle(order);
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start < order.Length; start += o.BatchSize)
            {
                using var scope = NewDisposeScope();
                int[] idx = order[start..Math.Min(order.Length, start + o.BatchSize)];
                var x = train.Batch(idx);
                // Random horizontal flips: style, not orientation, should decide the domain.
                var flip = tensor(idx.Select(_ => random.Next(2) == 1).ToArray()).view(-1, 1, 1, 1);
                x = where(flip, x.flip(3), x);
                var loss = nn.functional.cross_entropy(net.forward(x), train.BatchLabels(idx));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>();
                batches++;
            }
            log.WriteLine($"classifier epoch {epoch}/{o.Epochs}: loss {lossSum / Math.Max(1, batches):F4}");
        }
        double trainAccuracy = Accuracy(net, train);
        double? heldOutAccuracy = heldOut is null ? null : Accuracy(net, heldOut);
        return new ClassifierResult(net, [nameA, nameB], trainAccuracy, heldOut, heldOutAccuracy);
    }

    /// <summary>Logits of every image, [N, 2], in eval mode.</summary>
    public static Tensor Logits(DomainClassifierNet net, LabelledImages images)
    {
        net.eval();
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        for (int start = 0; start < images.Count; start += 128)
        {
            int[] idx = Enumerable.Range(start, Math.Min(128, images.Count - start)).ToArray();
            parts.Add(net.forward(images.Batch(idx)));
        }
        return cat(parts, 0);
    }

    /// <summary>Share of images whose larger logit is their own domain's.</summary>
    public static double Accuracy(DomainClassifierNet net, LabelledImages images)
    {
        using var scope = NewDisposeScope();
        var predicted = Logits(net, images).argmax(1);
        return predicted.eq(tensor(images.Labels)).to(ScalarType.Float64).mean().item<double>();
    }
}
