using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
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
    /// <summary>Random hue rotation, saturation, brightness and contrast per training image (see <see cref="ClassifierTraining.ColourJitter"/>).</summary>
    public bool ColourAugment { get; init; } = true;
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
        // Our Adam, not torch.optim.Adam: TorchSharp's makes a temporary Scalar per parameter and operation, and a
        // collection on another thread can finalize one mid-call (docs/troubleshooting.md); ours keeps its Scalars alive.
        using var optimizer = new Adam(net.parameters(), o.Lr, beta1: 0.9);
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
                if (o.ColourAugment) x = ColourJitter(x, random);
                var loss = nn.functional.cross_entropy(net.forward(x), train.BatchLabels(idx));
                net.zero_grad();
                loss.backward();
                optimizer.Step();
                lossSum += loss.item<float>();
                batches++;
            }
            log.WriteLine($"classifier epoch {epoch}/{o.Epochs}: loss {lossSum / Math.Max(1, batches):F4}");
        }
        double trainAccuracy = Accuracy(net, train);
        double? heldOutAccuracy = heldOut is null ? null : Accuracy(net, heldOut);
        return new ClassifierResult(net, [nameA, nameB], trainAccuracy, heldOut, heldOutAccuracy);
    }

    /// <summary>
    /// Per image: a hue rotation by any angle (about the grey axis, so white backgrounds stay white), saturation
    /// x0.4..1.6, contrast x0.7..1.3 and brightness -0.15..0.15 (in [-1, 1] units). Two styles of the same subjects
    /// often differ in palette, and a judge trained on raw colours scores a mere recolouring as the other style;
    /// with palette information scrambled it must look at shading, lines and shapes.
    /// </summary>
    public static Tensor ColourJitter(Tensor x, Random random)
    {
        long n = x.shape[0];
        var matrices = new float[n * 9];
        var shifts = new float[n * 2];
        for (int i = 0; i < n; i++)
        {
            double angle = random.NextDouble() * 2 * Math.PI;
            double saturation = 0.4 + 1.2 * random.NextDouble();
            HueSaturationMatrix(angle, saturation).CopyTo(matrices, i * 9);
            shifts[i * 2] = (float)(0.7 + 0.6 * random.NextDouble());      // contrast
            shifts[i * 2 + 1] = (float)(0.3 * random.NextDouble() - 0.15); // brightness
        }
        var m = tensor(matrices, [n, 3, 3]);
        var p = tensor(shifts, [n, 2]);
        // Colour matrices act on [0, 1] values around the grey axis; contrast scales about each image's mean.
        // Named Scalars, alive until the method returns: implicit ones can be finalized mid-call (see Adam above).
        using Scalar one = 1, half = 0.5, two = 2, zero = 0;
        var rgb = x.add(one, one).mul_(half);
        var mixed = einsum("nij,njhw->nihw", m, rgb);
        var mean = mixed.mean([1, 2, 3], keepdim: true);
        var contrast = p.select(1, 0).view(-1, 1, 1, 1);
        var brightness = p.select(1, 1).view(-1, 1, 1, 1);
        return mixed.sub(mean).mul_(contrast).add_(mean, one).add_(brightness, half).clamp_(zero, one).mul_(two).sub_(one);
    }

    /// <summary>RGB matrix: rotate hue by <paramref name="angle"/> about (1,1,1) and scale the distance from grey.</summary>
    internal static float[] HueSaturationMatrix(double angle, double saturation)
    {
        // Rodrigues' rotation about the unit grey axis u = (1,1,1)/sqrt(3): R = cI + s[u]x + (1-c)uu^T.
        double c = Math.Cos(angle), sn = Math.Sin(angle), k = (1 - c) / 3, q = sn / Math.Sqrt(3);
        double[,] r =
        {
            { c + k, k - q, k + q },
            { k + q, c + k, k - q },
            { k - q, k + q, c + k },
        };
        // Saturation: grey + s (rotated - grey), grey = mean of the channels.
        var result = new float[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                result[i * 3 + j] = (float)(saturation * r[i, j] + (1 - saturation) / 3);
        return result;
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
