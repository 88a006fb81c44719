using System.Diagnostics;
using System.Threading.Channels;

namespace CycleGanEdge.Serve;

/// <summary>
/// The sessions of one model and the requests waiting for them. Each session takes the oldest waiting image and, as
/// Triton's dynamic batcher does, adds waiting images of the same size up to <see cref="ServeSettings.MaxBatch"/>,
/// waiting at most <see cref="ServeSettings.MaxQueueDelay"/> for more. How many requests may wait at all is bounded
/// before their bodies are read (<see cref="Server"/>), so this queue never grows without bound.
/// </summary>
public sealed class ModelQueue : IAsyncDisposable
{
    private sealed record Job(DecodedImage Image, TaskCompletionSource<DecodedImage> Result, CancellationToken Abandoned);

    private readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>();
    private readonly ModelSession[] _sessions;
    private Task _workers = Task.CompletedTask;
    private readonly ServeSettings _settings;
    private readonly ServeMetrics _metrics;
    private readonly TaskCompletionSource[] _warm;
    private int _idle; // sessions waiting for work

    public ModelQueue(string name, IReadOnlyList<ModelSession> sessions, ServeSettings settings, ServeMetrics metrics)
    {
        Name = name;
        _sessions = [.. sessions];
        _settings = settings;
        _metrics = metrics;
        _warm = [.. _sessions.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        Descriptor = _sessions[0].Describe(name);
    }

    public string Name { get; }
    public ServedModel Descriptor { get; }
    public string Provider => _sessions[0].Provider;
    public int Waiting => _jobs.Reader.Count;

    /// <summary>Translates one image when a session is free; a cancelled <paramref name="abandoned"/> drops it if it has not started.</summary>
    public Task<DecodedImage> TranslateAsync(DecodedImage image, CancellationToken abandoned)
    {
        var job = new Job(image, new TaskCompletionSource<DecodedImage>(TaskCreationOptions.RunContinuationsAsynchronously), abandoned);
        if (!_jobs.Writer.TryWrite(job))
            job.Result.SetException(new InvalidOperationException("the service is stopping"));
        _metrics.QueueLength.WithLabels(Name).Set(_jobs.Reader.Count);
        return job.Result.Task;
    }

    /// <summary>
    /// Runs each session once on an image of the model's training size (so no request pays for ONNX Runtime's first
    /// run), then lets the sessions take requests; those that came in meanwhile wait in the queue.
    /// </summary>
    public Task WarmUpAndStartAsync()
    {
        int side = Math.Clamp(Descriptor.Size, Descriptor.SpatialMultiple, 256);
        var image = Images.Blank(side, side);
        var started = _sessions.Select((s, i) => Task.Run(async () =>
        {
            try
            {
                s.Translate([image]);
            }
            catch (Exception e)
            {
                _warm[i].TrySetException(e);
                throw;
            }
            _warm[i].TrySetResult();
            await WorkAsync(s);
        })).ToArray();
        _workers = Task.WhenAll(started);
        return Task.WhenAll(_sessions.Select((_, i) => _warm[i].Task));
    }

    private async Task WorkAsync(ModelSession session)
    {
        var batch = new List<Job>(_settings.MaxBatch);
        Job? carried = null;
        while (true)
        {
            Job first;
            if (carried is not null) { first = carried; carried = null; }
            else
            {
                Interlocked.Increment(ref _idle);
                bool open;
                try { open = await _jobs.Reader.WaitToReadAsync(); }
                finally { Interlocked.Decrement(ref _idle); }
                if (!open) return; // completed and drained: the service stops
                if (!_jobs.Reader.TryRead(out first!)) continue;
            }
            if (Dropped(first)) continue;
            batch.Clear();
            batch.Add(first);
            carried = await GatherAsync(batch);
            _metrics.QueueLength.WithLabels(Name).Set(_jobs.Reader.Count);
            Run(session, batch);
        }
    }

    /// <summary>Adds waiting jobs of the first one's size; returns the first job of another size, which goes next.</summary>
    private async Task<Job?> GatherAsync(List<Job> batch)
    {
        int w = batch[0].Image.Width, h = batch[0].Image.Height;
        // A fair share when other sessions are idle: one session taking all eight waiting images would leave the
        // others without work (measured: half the throughput at 256 px with two sessions).
        int idle = Volatile.Read(ref _idle);
        int limit = idle == 0 ? _settings.MaxBatch : Math.Min(_settings.MaxBatch, (1 + _jobs.Reader.Count + idle) / (1 + idle));
        var deadline = Stopwatch.GetTimestamp() + (long)(_settings.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        while (batch.Count < limit)
        {
            if (_jobs.Reader.TryRead(out var next))
            {
                if (Dropped(next)) continue;
                if (next.Image.Width != w || next.Image.Height != h) return next;
                batch.Add(next);
                continue;
            }
            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero) break;
            using var wait = new CancellationTokenSource(left);
            try
            {
                if (!await _jobs.Reader.WaitToReadAsync(wait.Token)) break;
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return null;
    }

    private static bool Dropped(Job job)
    {
        if (!job.Abandoned.IsCancellationRequested) return false;
        job.Result.TrySetCanceled(job.Abandoned);
        return true;
    }

    private void Run(ModelSession session, List<Job> batch)
    {
        long start = Stopwatch.GetTimestamp();
        DecodedImage[] results;
        try
        {
            results = session.Translate([.. batch.Select(j => j.Image)]);
        }
        catch (Exception e)
        {
            foreach (var job in batch) job.Result.TrySetException(e);
            return;
        }
        _metrics.BatchSize.WithLabels(Name).Observe(batch.Count);
        _metrics.ModelSeconds.WithLabels(Name).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        _metrics.Images.WithLabels(Name).Inc(batch.Count);
        for (int i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(results[i]);
    }

    /// <summary>Lets the sessions finish every waiting job, then closes them.</summary>
    public async ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        try { await _workers; }
        catch (Exception) { } // a warm-up that failed was reported when it failed

        foreach (var s in _sessions) s.Dispose();
    }
}
