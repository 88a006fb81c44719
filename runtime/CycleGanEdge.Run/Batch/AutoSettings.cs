namespace CycleGanEdge.Run.Batch;

/// <summary>
/// What translate uses for the options a user leaves unset. Fixed rules from measurements on 2 cores
/// (runtime/README.md), no probing at start: the first image is written as soon as it would be anyway.
/// </summary>
public static class AutoSettings
{
    /// <summary>
    /// Inference threads: all cores but one. The core left over decodes and encodes while the model runs;
    /// with every core given to ONNX Runtime, decode and encode preempt its threads and each model run
    /// waits for its slowest thread (on 2 cores at 64 px, 1 thread ran 353 images/s, 2 threads 134).
    /// </summary>
    public static int Threads(int cores) => Math.Max(1, cores - 1);

    public const int Loaders = 1;
    public const int Processors = 1;

    /// <summary>
    /// Savers mostly wait for the disk (each output is flushed before its rename: 6-8 ms per small file
    /// measured here, 0.3 ms of it CPU). Concurrent flushes share journal commits: 1 saver wrote ~130
    /// files/s, 2 wrote 700-1,200, 4 wrote 720-1,700, so 4 keep saving far from being the limit.
    /// </summary>
    public const int Savers = 4;

    /// <summary>One image per run: batching on the CPU provider measured no faster (350 vs 353 images/s at 64 px); GPUs are unmeasured here.</summary>
    public const int Batch = 1;
}
