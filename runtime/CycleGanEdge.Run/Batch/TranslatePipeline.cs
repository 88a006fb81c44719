using System.Collections.Concurrent;
using System.Threading.Channels;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Run.Batch;

public sealed record PipelineSettings
{
    public ImageFormat Format { get; init; } = ImageFormat.Png;
    public int Quality { get; init; } = 95;
    public int Batch { get; init; } = 1;
    public int Loaders { get; init; } = 1;
    public int Savers { get; init; } = 2;
    public ImageLimits Limits { get; init; } = ImageLimits.Default;
}

public sealed record PipelineResult(int Done, IReadOnlyList<Failure> Failures);

/// <summary>
/// Decode, translate and encode overlap, like realesrgan's load:proc:save threads: loaders decode into a
/// bounded channel, one task per translator runs the model (batching same-size images that are ready),
/// savers encode and write atomically. Bounded channels keep memory flat on any folder size.
/// </summary>
public static class TranslatePipeline
{
    private sealed record Decoded(WorkItem Item, RgbaImage Image);
    private sealed record Translated(WorkItem Item, RgbaImage Image);

    public static async Task<PipelineResult> RunAsync(IReadOnlyList<WorkItem> items, IReadOnlyList<Translator> translators,
        PipelineSettings settings, Action? onImageFinished, CancellationToken ct)
    {
        var failures = new ConcurrentBag<Failure>();
        int done = 0;
        void Finish() => onImageFinished?.Invoke();
        void Fail(WorkItem item, string reason) { failures.Add(new Failure(item.Display, reason)); Finish(); }

        // Each stage loop blocks a pool thread while it decodes, runs the model, encodes or waits for the disk.
        // The pool starts with one thread per core and adds more only every ~0.5 s when starved, so without
        // this the first seconds of a run have stages waiting for a thread.
        int stages = settings.Loaders + translators.Count + settings.Savers;
        ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
        if (minWorkers < stages + 1) ThreadPool.SetMinThreads(stages + 1, minIo);

        int queue = Math.Max(2, settings.Batch * translators.Count * 2);
        var decoded = Channel.CreateBounded<Decoded>(new BoundedChannelOptions(queue) { SingleReader = translators.Count == 1 });
        var translated = Channel.CreateBounded<Translated>(new BoundedChannelOptions(queue) { SingleWriter = translators.Count == 1 });

        int next = -1;
        // A stage that crashes closes the channels around it, so no other stage waits forever.
        async Task Guard(Func<Task> stage)
        {
            try { await stage(); }
            catch (Exception e)
            {
                decoded.Writer.TryComplete(e);
                translated.Writer.TryComplete(e);
                throw;
            }
        }

        var loaders = Enumerable.Range(0, settings.Loaders).Select(_ => Task.Run(() => Guard(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < items.Count; i = Interlocked.Increment(ref next))
            {
                ct.ThrowIfCancellationRequested();
                var item = items[i];
                RgbaImage image;
                try
                {
                    image = ImageCodec.Decode(item.Source, settings.Limits);
                }
                catch (ImageDecodeException e)
                {
                    Fail(item, e.Reason);
                    continue;
                }
                await decoded.Writer.WriteAsync(new Decoded(item, image), ct);
            }
        }), ct)).ToArray();

        var processors = translators.Select(t => Task.Run(() => Guard(async () =>
        {
            var batch = new List<Decoded>(settings.Batch);
            Decoded? carried = null;
            while (carried is not null || await decoded.Reader.WaitToReadAsync(ct))
            {
                batch.Clear();
                if (carried is not null) { batch.Add(carried); carried = null; }
                else if (decoded.Reader.TryRead(out var first)) batch.Add(first);
                else continue;
                // Batch only images that are already decoded and of the same size: never wait for a full batch.
                while (batch.Count < settings.Batch && decoded.Reader.TryRead(out var more))
                {
                    if (more.Image.Width == batch[0].Image.Width && more.Image.Height == batch[0].Image.Height) batch.Add(more);
                    else { carried = more; break; }
                }
                RgbaImage[] results;
                try
                {
                    results = batch.Count == 1 ? [t.Translate(batch[0].Image)] : t.TranslateBatch([.. batch.Select(d => d.Image)]);
                }
                // InvalidModelException: a model that cannot be tiled with whole-image statistics (external weights);
                // ScratchFullException: --tile-norm exact's scratch folder is full (nothing was written for the image).
                catch (Exception e) when (e is InvalidOperationException or OutOfMemoryException or InvalidModelException or CycleGanEdge.Runtime.Segments.ScratchFullException)
                {
                    foreach (var d in batch) Fail(d.Item, e.Message);
                    continue;
                }
                for (int i = 0; i < batch.Count; i++)
                    await translated.Writer.WriteAsync(new Translated(batch[i].Item, results[i]), ct);
            }
        }), ct)).ToArray();

        var savers = Enumerable.Range(0, settings.Savers).Select(_ => Task.Run(() => Guard(async () =>
        {
            await foreach (var t in translated.Reader.ReadAllAsync(ct))
            {
                try
                {
                    byte[] encoded = ImageCodec.Encode(t.Image, settings.Format, settings.Quality);
                    Directory.CreateDirectory(Path.GetDirectoryName(t.Item.Output)!);
                    AtomicFile.WriteAllBytes(t.Item.Output, encoded);
                    Interlocked.Increment(ref done);
                    Finish();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Fail(t.Item, e.Message);
                }
            }
        }), ct)).ToArray();

        // Complete each channel when its writers are done, so the next stage drains and stops.
        try { await Task.WhenAll(loaders); }
        finally { decoded.Writer.TryComplete(); }
        try { await Task.WhenAll(processors); }
        finally { translated.Writer.TryComplete(); }
        await Task.WhenAll(savers);
        return new PipelineResult(done, [.. failures.OrderBy(f => f.Input, StringComparer.Ordinal)]);
    }
}
