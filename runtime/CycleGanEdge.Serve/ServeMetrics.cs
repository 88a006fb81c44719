using Prometheus;

namespace CycleGanEdge.Serve;

/// <summary>
/// What <c>/metrics</c> shows, in a registry of this service's own (so several services in one process, as in the
/// tests, keep their counts apart): requests by route and status, latency, queue length, batch sizes, images
/// (their rate is images/s) and the process's memory (DotNetStats: process_working_set_bytes and the GC's).
/// </summary>
public sealed class ServeMetrics
{
    public ServeMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("cyclegan_serve_requests_total", "HTTP requests answered, by route and status code.",
            new CounterConfiguration { LabelNames = ["route", "status"] });
        RequestSeconds = factory.CreateHistogram("cyclegan_serve_request_duration_seconds", "Time from request to response, by route.",
            new HistogramConfiguration { LabelNames = ["route"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        QueueLength = factory.CreateGauge("cyclegan_serve_queue_length", "Decoded images waiting for a session, by model.",
            new GaugeConfiguration { LabelNames = ["model"] });
        Admitted = factory.CreateGauge("cyclegan_serve_admitted_requests", "Translate requests taken in (uploading, waiting or running); at --max-queue more get 503.");
        BatchSize = factory.CreateHistogram("cyclegan_serve_batch_size", "Images per model run, by model.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = [1, 2, 3, 4, 6, 8, 12, 16, 32] });
        ModelSeconds = factory.CreateHistogram("cyclegan_serve_model_run_seconds", "Time of one model run (a batch), by model.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        Images = factory.CreateCounter("cyclegan_serve_images_total", "Images translated, by model (rate() gives images/s).",
            new CounterConfiguration { LabelNames = ["model"] });
    }

    public CollectorRegistry Registry { get; }
    public Counter Requests { get; }
    public Histogram RequestSeconds { get; }
    public Gauge QueueLength { get; }
    public Gauge Admitted { get; }
    public Histogram BatchSize { get; }
    public Histogram ModelSeconds { get; }
    public Counter Images { get; }
}
