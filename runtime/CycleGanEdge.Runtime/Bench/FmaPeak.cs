using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CycleGanEdge.Runtime.Bench;

/// <summary>
/// The float32 limit of this machine's cores, measured: vector FMA throughput on one core and on all cores,
/// next to the theoretical peak (lanes x FMA units x 2 flops x measured clock x cores).
/// </summary>
/// <param name="FmaUnits">Inferred from the one-core measurement (flops per cycle / 2 / lanes, rounded): the ISA does not tell.</param>
/// <param name="ClockGhz">From a chain of dependent integer adds (1 cycle each on every x86 and Arm core).</param>
/// <param name="CpuInfoMhz">/proc/cpuinfo's "cpu MHz" as a cross-check; in a VM it is often the nominal clock, not the boost.</param>
/// <param name="Int8OneCoreGops">The int8 dot-product peak (VPDPBUSD: 4 multiply-adds per 32-bit lane), in giga-operations
/// per second (a multiply-add is 2), one core; null without VNNI. Quantized convolutions run these.</param>
/// <param name="Int8AllCoresGops">The same with one pinned thread per core.</param>
/// <param name="Int8WidthFactor">1: the peaks are the measured 256-bit AVX-VNNI rates. 2: this core has 512-bit VNNI
/// (avx512_vnni) and runs 512-bit FMAs at twice the 256-bit rate, a full-width core (Zen 5, Intel); .NET has no 512-bit
/// VPDPBUSD to time, so the peaks are the measured 256-bit rates x 2.</param>
/// <param name="Fma256OneCoreGflops">The 256-bit FMA rate of one core that decided <paramref name="Int8WidthFactor"/> (measured
/// on AVX-512 cores with avx512_vnni only).</param>
public sealed record FmaPeak(
    string Isa, int Lanes, int FmaUnits, double ClockGhz, double? CpuInfoMhz, int Cores, double OneCoreGflops, double AllCoresGflops,
    double? Int8OneCoreGops = null, double? Int8AllCoresGops = null, int Int8WidthFactor = 1, double? Fma256OneCoreGflops = null)
{
    public double TheoreticalOneCoreGflops => Lanes * FmaUnits * 2 * ClockGhz;
    public double TheoreticalAllCoresGflops => TheoreticalOneCoreGflops * Cores;

    /// <summary>The measured peak available to a run with this many intra-op threads (0 = ONNX Runtime's choice: all cores).</summary>
    public double For(int threads) => Share(OneCoreGflops, AllCoresGflops, threads);

    // Fewer threads than cores: the one-core figure per thread. Not capped by the all-cores figure, which other
    // processes can pull below one core's when they keep the second core busy during the probe.
    private double Share(double oneCore, double allCores, int threads) =>
        threads == 0 || threads >= Cores ? allCores : oneCore * threads;

    private string Int8Line(IFormatProvider c) => Int8OneCoreGops is { } one && Int8AllCoresGops is { } all
        ? Int8WidthFactor == 1
            ? string.Format(c, "\nint8 peak (the int8 rows' share): AVX-VNNI dot products, 1 core: {0:F1} GOP/s measured; {1} cores: {2:F1} measured", one, Cores, all)
            : string.Format(c, "\nint8 peak (the int8 rows' share): AVX-512 VNNI dot products, 1 core: {0:F1} GOP/s; {1} cores: {2:F1} " +
                "(256-bit AVX-VNNI measured x {3}: one core's 512-bit FMAs ran at {4:F1} GFLOP/s, its 256-bit ones at {5:F1})",
                one, Cores, all, Int8WidthFactor, OneCoreGflops, Fma256OneCoreGflops)
        : "";

    /// <summary>The measured int8 dot-product peak for this many threads, as <see cref="For"/>; null without VNNI.</summary>
    public double? Int8For(int threads) =>
        Int8OneCoreGops is { } one && Int8AllCoresGops is { } all ? Share(one, all, threads) : null;

    public string Describe()
    {
        var c = CultureInfo.InvariantCulture;
        string cpuInfo = CpuInfoMhz is { } mhz ? string.Create(c, $" (/proc/cpuinfo: {mhz / 1000:F2} GHz)") : "";
        return string.Create(c,
            $"FMA peak: {Isa}, {Lanes} float lanes x {FmaUnits} FMA units x 2 x {ClockGhz:F2} GHz measured{cpuInfo}; " +
            $"1 core: {OneCoreGflops:F1} GFLOP/s measured, {TheoreticalOneCoreGflops:F1} theoretical; " +
            $"{Cores} cores: {AllCoresGflops:F1} measured, {TheoreticalAllCoresGflops:F1} theoretical") + Int8Line(c);
    }
}

/// <summary>
/// Measures <see cref="FmaPeak"/>. Each thread runs <see cref="Chains"/> independent FMA chains so that FMA latency
/// never stalls the units; each figure is the best of short bursts, because on a shared machine a burst that nobody
/// preempted is the only one that shows what the hardware does (the peak is a bound, not a typical rate).
/// </summary>
public static class FmaProbe
{
    /// <summary>
    /// Independent accumulators per thread. Hiding latency needs latency x units of them: 4 cycles x 2 units = 8 on
    /// Zen 4/5 and recent Intel cores; 12 leave room for slower FMAs and, with the two constants, still fit AVX2's 16 registers.
    /// </summary>
    public const int Chains = 12;

    /// <summary>The widest vector FMA the CPU runs, or null (then there is no peak to measure).</summary>
    public static string? Isa { get; } =
        Avx512F.IsSupported ? "AVX-512" : Fma.IsSupported ? "AVX2+FMA" : AdvSimd.Arm64.IsSupported ? "NEON" : null;

    public static int Lanes { get; } = Avx512F.IsSupported ? 16 : Fma.IsSupported ? 8 : AdvSimd.Arm64.IsSupported ? 4 : 0;

    /// <summary>Float operations of one kernel iteration on one thread (an FMA is 2).</summary>
    public static long FlopsPerIteration => Chains * Lanes * 2L;

    /// <summary>Iterations of one burst: about 1-2 ms, short enough to fit between preemptions on a loaded machine.</summary>
    public const long BurstIterations = 1 << 17;

    /// <summary>Measures everything once; null when the CPU has no vector FMA this probe knows.</summary>
    public static FmaPeak? Measure(int bursts = 20)
    {
        if (Isa is null) return null;
        int cores = Environment.ProcessorCount;
        double clock = MeasureClockGhz(bursts);
        var (one, all) = BestRates(Kernel, FlopsPerIteration, cores, bursts);
        int units = Math.Max(1, (int)Math.Round(one / clock / 2 / Lanes));
        if (!AvxVnni.IsSupported)
            return new FmaPeak(Isa, Lanes, units, clock, CpuInfoMhz(), cores, one, all);
        var int8 = BestRates(Int8Kernel, Chains * Int8OpsPerInstruction, cores, bursts);
        double? fma256 = Lanes == 16 && CycleGanEdge.Core.CpuInfo.HasAvx512Vnni ? BestOneCore(Kernel256Fma, Chains * 8 * 2, bursts) : null;
        int width = fma256 is { } f ? WidthFactor(one, f) : 1;
        return new FmaPeak(Isa, Lanes, units, clock, CpuInfoMhz(), cores, one, all, int8.One * width, int8.All * width, width, fma256);
    }

    /// <summary>
    /// 2 when 512-bit FMAs run at (about) twice the 256-bit rate, so the core has full-width 512-bit units and its 512-bit
    /// VNNI does twice the 256-bit work too; 1 when it splits 512-bit operations into two halves (Zen 4).
    /// </summary>
    public static int WidthFactor(double gflops512, double gflops256) => gflops512 > 1.5 * gflops256 ? 2 : 1;

    private static float Kernel256Fma(long iterations) => Kernel256(iterations, 0.999f, 0.001f);

    /// <summary>Giga-operations per second of <paramref name="kernel"/>: the best of <paramref name="bursts"/> bursts on one core.</summary>
    private static double BestOneCore(Func<long, float> kernel, double opsPerIteration, int bursts)
    {
        double one = 0;
        for (int i = 0; i < bursts; i++)
            one = Math.Max(one, opsPerIteration * BurstIterations / Run(1, BurstIterations, kernel) / 1e9);
        return one;
    }

    /// <summary>Giga-operations per second of <paramref name="kernel"/>, best burst on one core and on all (3x the bursts: they are preempted more often).</summary>
    private static (double One, double All) BestRates(Func<long, float> kernel, double opsPerIteration, int cores, int bursts)
    {
        double one = BestOneCore(kernel, opsPerIteration, bursts), all = 0;
        for (int i = 0; i < 3 * bursts; i++)
            all = Math.Max(all, opsPerIteration * BurstIterations * cores / Run(cores, BurstIterations, kernel) / 1e9);
        return (one, all);
    }

    /// <summary>Runs <paramref name="iterations"/> on each of <paramref name="threads"/> threads at once; seconds until the last one ends.</summary>
    /// <remarks>One dedicated thread per kernel, pinned one per core (Linux) and released together. With a thread pool
    /// (Parallel.For) a loaded machine let the calling thread run the other kernels too, one after another; unpinned, it
    /// often put both threads on one core for a whole run: either way all cores measured as one in about half the runs.</remarks>
    public static double Run(int threads, long iterations, Func<long, float>? kernel = null)
    {
        kernel ??= Kernel;
        if (threads == 1)
        {
            long t0 = Stopwatch.GetTimestamp();
            Sink = kernel(iterations);
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        // Each worker times itself: the span from the first start to the last end is the run.
        var starts = new long[threads];
        var ends = new long[threads];
        var cpus = AllowedCpus();
        using var go = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            if (t < cpus.Count) PinCurrentThread(cpus[t]);
            go.SignalAndWait();
            starts[t] = Stopwatch.GetTimestamp();
            Sink = kernel(iterations);
            ends[t] = Stopwatch.GetTimestamp();
        })).ToList();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        return (double)(ends.Max() - starts.Min()) / Stopwatch.Frequency;
    }

    /// <summary>The CPU numbers this process may run on (Linux, up to 64), or none where that is not known.</summary>
    private static List<int> AllowedCpus()
    {
        if (!OperatingSystem.IsLinux() || sched_getaffinity(0, sizeof(ulong), out ulong mask) != 0) return [];
        return [.. Enumerable.Range(0, 64).Where(cpu => (mask >> cpu & 1) != 0)];
    }

    /// <summary>Best effort: a thread that cannot be pinned just runs where the scheduler puts it.</summary>
    private static void PinCurrentThread(int cpu)
    {
        ulong mask = 1UL << cpu;
        _ = sched_setaffinity(0, sizeof(ulong), ref mask); // pid 0: the calling thread
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint cpusetsize, ref ulong mask);

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nint cpusetsize, out ulong mask);

    /// <summary>Keeps the kernels' results alive, so the JIT cannot drop the work.</summary>
    public static float Sink;

    /// <summary>
    /// <see cref="Chains"/> accumulators a_i = i + 1, each updated a = a * 0.999 + 0.001 per iteration (bounded, never
    /// denormal); returns the sum of their first lanes in chain order, which a scalar loop of fused multiply-adds reproduces.
    /// </summary>
    public static float Kernel(long iterations) => Lanes switch
    {
        16 => Kernel512(iterations, 0.999f, 0.001f),
        8 => Kernel256(iterations, 0.999f, 0.001f),
        4 => Kernel128(iterations, 0.999f, 0.001f),
        _ => throw new PlatformNotSupportedException("no vector FMA on this CPU"),
    };

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Kernel512(long iterations, float mul, float add)
    {
        Vector512<float> m = Vector512.Create(mul), c = Vector512.Create(add);
        Vector512<float> a0 = Vector512.Create(1f), a1 = Vector512.Create(2f), a2 = Vector512.Create(3f), a3 = Vector512.Create(4f),
            a4 = Vector512.Create(5f), a5 = Vector512.Create(6f), a6 = Vector512.Create(7f), a7 = Vector512.Create(8f),
            a8 = Vector512.Create(9f), a9 = Vector512.Create(10f), a10 = Vector512.Create(11f), a11 = Vector512.Create(12f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, c); a1 = Avx512F.FusedMultiplyAdd(a1, m, c);
            a2 = Avx512F.FusedMultiplyAdd(a2, m, c); a3 = Avx512F.FusedMultiplyAdd(a3, m, c);
            a4 = Avx512F.FusedMultiplyAdd(a4, m, c); a5 = Avx512F.FusedMultiplyAdd(a5, m, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, c); a7 = Avx512F.FusedMultiplyAdd(a7, m, c);
            a8 = Avx512F.FusedMultiplyAdd(a8, m, c); a9 = Avx512F.FusedMultiplyAdd(a9, m, c);
            a10 = Avx512F.FusedMultiplyAdd(a10, m, c); a11 = Avx512F.FusedMultiplyAdd(a11, m, c);
        }
        return a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0];
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Kernel256(long iterations, float mul, float add)
    {
        Vector256<float> m = Vector256.Create(mul), c = Vector256.Create(add);
        Vector256<float> a0 = Vector256.Create(1f), a1 = Vector256.Create(2f), a2 = Vector256.Create(3f), a3 = Vector256.Create(4f),
            a4 = Vector256.Create(5f), a5 = Vector256.Create(6f), a6 = Vector256.Create(7f), a7 = Vector256.Create(8f),
            a8 = Vector256.Create(9f), a9 = Vector256.Create(10f), a10 = Vector256.Create(11f), a11 = Vector256.Create(12f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, c); a1 = Fma.MultiplyAdd(a1, m, c);
            a2 = Fma.MultiplyAdd(a2, m, c); a3 = Fma.MultiplyAdd(a3, m, c);
            a4 = Fma.MultiplyAdd(a4, m, c); a5 = Fma.MultiplyAdd(a5, m, c);
            a6 = Fma.MultiplyAdd(a6, m, c); a7 = Fma.MultiplyAdd(a7, m, c);
            a8 = Fma.MultiplyAdd(a8, m, c); a9 = Fma.MultiplyAdd(a9, m, c);
            a10 = Fma.MultiplyAdd(a10, m, c); a11 = Fma.MultiplyAdd(a11, m, c);
        }
        return a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0];
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Kernel128(long iterations, float mul, float add)
    {
        Vector128<float> m = Vector128.Create(mul), c = Vector128.Create(add);
        Vector128<float> a0 = Vector128.Create(1f), a1 = Vector128.Create(2f), a2 = Vector128.Create(3f), a3 = Vector128.Create(4f),
            a4 = Vector128.Create(5f), a5 = Vector128.Create(6f), a6 = Vector128.Create(7f), a7 = Vector128.Create(8f),
            a8 = Vector128.Create(9f), a9 = Vector128.Create(10f), a10 = Vector128.Create(11f), a11 = Vector128.Create(12f);
        for (long i = 0; i < iterations; i++)
        {
            // AdvSimd takes the addend first.
            a0 = AdvSimd.FusedMultiplyAdd(c, a0, m); a1 = AdvSimd.FusedMultiplyAdd(c, a1, m);
            a2 = AdvSimd.FusedMultiplyAdd(c, a2, m); a3 = AdvSimd.FusedMultiplyAdd(c, a3, m);
            a4 = AdvSimd.FusedMultiplyAdd(c, a4, m); a5 = AdvSimd.FusedMultiplyAdd(c, a5, m);
            a6 = AdvSimd.FusedMultiplyAdd(c, a6, m); a7 = AdvSimd.FusedMultiplyAdd(c, a7, m);
            a8 = AdvSimd.FusedMultiplyAdd(c, a8, m); a9 = AdvSimd.FusedMultiplyAdd(c, a9, m);
            a10 = AdvSimd.FusedMultiplyAdd(c, a10, m); a11 = AdvSimd.FusedMultiplyAdd(c, a11, m);
        }
        return a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0];
    }

    /// <summary>Integer operations of one VPDPBUSD on 256 bits: 8 lanes x 4 byte products, each multiply and add counted (as ORT's QLinearConv MACs x 2).</summary>
    public const int Int8OpsPerInstruction = 8 * 4 * 2;

    /// <summary>
    /// <see cref="Chains"/> independent VPDPBUSD chains (AVX-VNNI, 256 bits: Zen 4 runs 512-bit VNNI as two 256-bit halves,
    /// so this is its peak; a full-width core does twice as much, see <see cref="WidthFactor"/>). Bytes 1 x 1: the sums grow
    /// by 4 per lane and iteration and never overflow in a burst. Returns a lane, so the JIT keeps the work.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Int8Kernel(long iterations)
    {
        if (!AvxVnni.IsSupported) throw new PlatformNotSupportedException("no AVX-VNNI on this CPU");
        Vector256<byte> u = Vector256.Create((byte)1);
        Vector256<sbyte> w = Vector256.Create((sbyte)1);
        Vector256<int> a0 = Vector256<int>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, u, w); a1 = AvxVnni.MultiplyWideningAndAdd(a1, u, w);
            a2 = AvxVnni.MultiplyWideningAndAdd(a2, u, w); a3 = AvxVnni.MultiplyWideningAndAdd(a3, u, w);
            a4 = AvxVnni.MultiplyWideningAndAdd(a4, u, w); a5 = AvxVnni.MultiplyWideningAndAdd(a5, u, w);
            a6 = AvxVnni.MultiplyWideningAndAdd(a6, u, w); a7 = AvxVnni.MultiplyWideningAndAdd(a7, u, w);
            a8 = AvxVnni.MultiplyWideningAndAdd(a8, u, w); a9 = AvxVnni.MultiplyWideningAndAdd(a9, u, w);
            a10 = AvxVnni.MultiplyWideningAndAdd(a10, u, w); a11 = AvxVnni.MultiplyWideningAndAdd(a11, u, w);
        }
        return a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0];
    }

    /// <summary>Adds per <see cref="AddChain"/> iteration, each waiting for the previous one.</summary>
    private const int ChainAdds = 16;

    /// <summary>GHz of the current core: 16 dependent adds take 16 cycles; the loop counter runs beside them on other ALUs.</summary>
    public static double MeasureClockGhz(int bursts = 20)
    {
        const long iterations = 1 << 16;
        AddChain(iterations, 3);
        double best = double.MaxValue;
        for (int i = 0; i < bursts; i++)
        {
            long start = Stopwatch.GetTimestamp();
            SinkLong = AddChain(iterations, i + 3);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return iterations * ChainAdds / best / 1e9;
    }

    private static long SinkLong;

    /// <summary>The step is a register argument, not a constant: some cores fold chains of add-immediate at rename.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddChain(long iterations, long step)
    {
        long x = 0;
        for (long i = 0; i < iterations; i++)
        {
            x += step; x += step; x += step; x += step; x += step; x += step; x += step; x += step;
            x += step; x += step; x += step; x += step; x += step; x += step; x += step; x += step;
        }
        return x;
    }

    /// <summary>Mean "cpu MHz" of /proc/cpuinfo, or null where there is none.</summary>
    public static double? CpuInfoMhz()
    {
        try
        {
            var mhz = File.ReadLines("/proc/cpuinfo")
                .Where(l => l.StartsWith("cpu MHz", StringComparison.Ordinal))
                .Select(l => double.Parse(l[(l.IndexOf(':') + 1)..], CultureInfo.InvariantCulture))
                .ToList();
            return mhz.Count > 0 ? mhz.Average() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
