using System.Collections.Concurrent;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Data;

/// <summary>
/// Unpaired images from &lt;root&gt;/&lt;phase&gt;A and &lt;phase&gt;B, sampled like the reference's unaligned_dataset:
/// one epoch visits max(|A|, |B|) items; item i takes A[perm[i] % |A|] (perm a seeded shuffle, or the identity
/// with SerialBatches) and a random B (or B[i % |B|] with SerialBatches).
/// Decoding and augmentation run on background threads; at most Prefetch batches wait ahead of the consumer.
/// Every random choice is drawn from (Seed, epoch, item), so batches do not depend on thread timing.
/// </summary>
public sealed class UnalignedDataset : IDisposable
{
    private const int StreamOrder = 0, StreamPickB = 1, StreamAugmentA = 2, StreamAugmentB = 3;

    private readonly DataOptions _options;
    private readonly string[] _pathsA;
    private readonly string[] _pathsB;
    private readonly ConcurrentDictionary<string, string> _skipped = new(StringComparer.Ordinal);
    private readonly TextWriter _warnings;
    private int _batchesStarted;
    private bool _disposed;

    public UnalignedDataset(DataOptions options) : this(options, Console.Error) { }

    /// <param name="warnings">Where each skipped file is reported once.</param>
    public UnalignedDataset(DataOptions options, TextWriter warnings)
    {
        options.Validate();
        _options = options;
        _warnings = warnings;
        _pathsA = ListDomain("A");
        _pathsB = ListDomain("B");
    }

    /// <summary>max(|A|, |B|), like the reference.</summary>
    public int Count => Math.Max(_pathsA.Length, _pathsB.Length);
    public int BatchesPerEpoch => (Count + _options.BatchSize - 1) / _options.BatchSize;
    public IReadOnlyList<string> PathsA => _pathsA;
    public IReadOnlyList<string> PathsB => _pathsB;
    public DataOptions Options => _options;

    /// <summary>Files that could not be decoded so far, sorted; each was reported once and is never read again.</summary>
    public IReadOnlyList<string> SkippedFiles => _skipped.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Batches handed to workers since construction: a test checks the prefetch bound with it.</summary>
    internal int BatchesStarted => Volatile.Read(ref _batchesStarted);
    /// <summary>Workers waiting for a free place in the prefetch window (for tests: no sleeping to see back-pressure).</summary>
    internal int WorkersWaitingForRoom => Volatile.Read(ref _workersWaitingForRoom);
    private int _workersWaitingForRoom;

    /// <summary>
    /// The batches of one epoch, in an order fixed by (Seed, epoch). The last batch may be smaller (no drop_last).
    /// Stopping the enumeration early stops the workers.
    /// </summary>
    public IEnumerable<UnalignedBatch> Epoch(int epoch, CancellationToken ct = default) => Epoch(epoch, 0, ct);

    /// <summary>
    /// The same batches as <see cref="Epoch(int, CancellationToken)"/> from batch number <paramref name="firstBatch"/> on,
    /// without decoding the ones before it (resuming mid-epoch).
    /// </summary>
    public IEnumerable<UnalignedBatch> Epoch(int epoch, int firstBatch, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(firstBatch);
        return Run(epoch, firstBatch, ct);
    }

    private IEnumerable<UnalignedBatch> Run(int epoch, int firstBatch, CancellationToken ct)
    {
        var (indexA, indexB) = Plan(epoch);
        int batches = BatchesPerEpoch;
        var results = new TaskCompletionSource<UnalignedBatch>[batches];
        for (int b = firstBatch; b < batches; b++)
            results[b] = new TaskCompletionSource<UnalignedBatch>(TaskCreationOptions.RunContinuationsAsynchronously);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // One permit per batch that is being decoded or waiting; the consumer returns it when it takes the batch.
        using var window = new SemaphoreSlim(_options.Prefetch, _options.Prefetch);
        int next = firstBatch - 1;
        var workers = new Task[Math.Clamp(batches - firstBatch, 0, _options.Workers)];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Factory.StartNew(() =>
            {
                while (true)
                {
                    Interlocked.Increment(ref _workersWaitingForRoom);
                    try { window.Wait(stop.Token); }
                    catch (OperationCanceledException) { return; }
                    finally { Interlocked.Decrement(ref _workersWaitingForRoom); }
                    int b = Interlocked.Increment(ref next);
                    if (b >= batches) return;
                    Interlocked.Increment(ref _batchesStarted);
                    try { results[b].SetResult(BuildBatch(epoch, b, indexA, indexB, stop.Token)); }
                    catch (Exception e) { results[b].SetException(e); }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        try
        {
            for (int b = firstBatch; b < batches; b++)
            {
                UnalignedBatch batch;
                try
                {
                    batch = results[b].Task.WaitAsync(ct).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new InvalidOperationException("A data worker stopped unexpectedly.");
                }
                window.Release();
                yield return batch;
            }
        }
        finally
        {
            stop.Cancel();
            // Workers finish their current batch (they check the token per item) before the semaphore goes away.
            try { Task.WaitAll(workers); }
            catch (AggregateException) { /* worker failures were delivered through results */ }
        }
    }

    /// <summary>For every item of the epoch: its A index and its B index.</summary>
    private (int[] A, int[] B) Plan(int epoch)
    {
        int count = Count;
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        if (!_options.SerialBatches)
        {
            var shuffle = SeededRandom.For(_options.Seed, epoch, -1, StreamOrder);
            shuffle.Shuffle(order);
        }
        var a = new int[count];
        var b = new int[count];
        for (int i = 0; i < count; i++)
        {
            a[i] = order[i] % _pathsA.Length;
            if (_options.SerialBatches)
            {
                b[i] = order[i] % _pathsB.Length;
            }
            else
            {
                var pick = SeededRandom.For(_options.Seed, epoch, i, StreamPickB);
                b[i] = pick.Next(_pathsB.Length);
            }
        }
        return (a, b);
    }

    private UnalignedBatch BuildBatch(int epoch, int batch, int[] indexA, int[] indexB, CancellationToken ct)
    {
        int first = batch * _options.BatchSize;
        int n = Math.Min(_options.BatchSize, Count - first);
        var imagesA = new ByteImage[n];
        var imagesB = new ByteImage[n];
        var pathsA = new string[n];
        var pathsB = new string[n];
        for (int k = 0; k < n; k++)
        {
            ct.ThrowIfCancellationRequested();
            int item = first + k;
            var randomA = SeededRandom.For(_options.Seed, epoch, item, StreamAugmentA);
            var randomB = SeededRandom.For(_options.Seed, epoch, item, StreamAugmentB);
            (imagesA[k], pathsA[k]) = Load(_pathsA, indexA[item], _options.InputNc, ref randomA);
            (imagesB[k], pathsB[k]) = Load(_pathsB, indexB[item], _options.OutputNc, ref randomB);
        }
        var (a, h, w) = Stack(imagesA, pathsA);
        var (b, hb, wb) = Stack(imagesB, pathsB);
        if (hb != h || wb != w)
            throw new DatasetException(
                $"{pathsA[0]} becomes {w}x{h} but {pathsB[0]} becomes {wb}x{hb}; A and B must match in size " +
                "(use a crop preprocess, or images of one size)");
        return new UnalignedBatch(a, b, n, h, w, _options.InputNc, _options.OutputNc, pathsA, pathsB);
    }

    /// <summary>Decodes and preprocesses paths[index]; an undecodable file is reported once and the next file is used.</summary>
    private (ByteImage, string) Load(string[] paths, int index, int channels, ref SeededRandom random)
    {
        for (int tries = 0; tries < paths.Length; tries++)
        {
            string path = paths[(index + tries) % paths.Length];
            if (_skipped.ContainsKey(path))
                continue;
            RgbaImage decoded;
            try
            {
                decoded = ImageCodec.Decode(path);
            }
            catch (ImageDecodeException e)
            {
                if (_skipped.TryAdd(path, e.Reason))
                {
                    lock (_warnings)
                        _warnings.WriteLine($"skipping {e.Message}");
                }
                continue;
            }
            var img = ByteImage.FromRgba(decoded, channels);
            return (Preprocessing.Apply(img, _options, ref random, path), path);
        }
        throw new DatasetException($"{Path.GetDirectoryName(paths[0])}: none of its {paths.Length} images can be decoded.");
    }

    private static (float[] Data, int Height, int Width) Stack(ByteImage[] images, string[] paths)
    {
        var first = images[0];
        int plane = first.Channels * first.Height * first.Width;
        var data = new float[images.Length * plane];
        for (int k = 0; k < images.Length; k++)
        {
            var img = images[k];
            if (img.Width != first.Width || img.Height != first.Height)
                throw new DatasetException(
                    $"{paths[k]} becomes {img.Width}x{img.Height} but {paths[0]} becomes {first.Width}x{first.Height}: " +
                    "a batch needs one size (use batch size 1, or a crop preprocess)");
            img.WriteChw(data.AsSpan(k * plane, plane));
        }
        return (data, first.Height, first.Width);
    }

    private string[] ListDomain(string domain)
    {
        string folder = Path.Combine(_options.DataRoot, _options.Phase + domain);
        if (!Directory.Exists(folder))
            throw new DatasetException(
                $"{folder}: folder not found (a dataset has {_options.Phase}A and {_options.Phase}B folders of images).");
        var files = ImageFolder.List(folder, _options.MaxDatasetSize);
        if (files.Length == 0)
            throw new DatasetException($"{folder}: no images ({string.Join(", ", ImageFolder.Extensions)}).");
        return files;
    }

    public void Dispose() => _disposed = true;
}
