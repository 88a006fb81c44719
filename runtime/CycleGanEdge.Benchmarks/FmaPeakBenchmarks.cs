using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using CycleGanEdge.Runtime.Bench;

namespace CycleGanEdge.Benchmarks;

/// <summary>
/// The cores' float32 FMA peak (the probe behind cyclegan-run bench's "of peak"), on one core and on all cores, with a
/// GFLOP/s column worked out from the mean. cyclegan-run bench takes the best short burst instead of the mean, so on a
/// loaded machine it shows more; on a quiet one the two agree.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
[Config(typeof(WithGflops))]
public class FmaPeakBenchmarks
{
    private const long Iterations = 8 * FmaProbe.BurstIterations;

    [Benchmark]
    public double OneCore() => FmaProbe.Run(1, Iterations);

    [Benchmark]
    public double AllCores() => FmaProbe.Run(Environment.ProcessorCount, Iterations);

    private sealed class WithGflops : ManualConfig
    {
        public WithGflops() => AddColumn(new GflopsColumn());
    }

    private sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Float operations per second: threads x iterations x FmaProbe.FlopsPerIteration / Mean";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        {
            if (summary[benchmarkCase]?.ResultStatistics?.Mean is not { } meanNs) return "-";
            int threads = benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(AllCores) ? Environment.ProcessorCount : 1;
            return (threads * Iterations * FmaProbe.FlopsPerIteration / meanNs).ToString("F1", CultureInfo.InvariantCulture);
        }
    }
}
