using System.Collections.Concurrent;
using System.Diagnostics;
using CsCheck;
using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Tests.Shared;
using Xunit.Abstractions;

namespace CycleGanEdge.Exporter.Tests.PyTorch;

/// <summary>
/// Mutated valid checkpoints (byte flips, truncation, insertions, deletions, length-like integers) must end
/// in a state_dict or an InvalidDataException: never another exception, a hang or a large allocation.
/// Each test runs ~10 s; set CYCLEGAN_FUZZ_SECONDS (and CYCLEGAN_FUZZ_THREADS) for a longer run.
/// </summary>
[Trait("Category", "Slow")]
public class CheckpointFuzzTests(ITestOutputHelper output)
{
    const string Name = "fuzz.pth";
    static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    static readonly Lazy<byte[][]> ZipSeeds = new(() =>
    [
        File.ReadAllBytes(Fixtures.Path("views.pth")),
        File.ReadAllBytes(Fixtures.Path("resnet_6blocks_ngf4_full.pth")),
        File.ReadAllBytes(Fixtures.Path("resnet_6blocks_ngf4_legacy_format.pth")),
        CheckpointZip.Build(PickleWriter.StateDict(("a", [2, 3]), ("b", [])), [("0", CheckpointZip.FloatBytes(1, 2, 3, 4, 5, 6)), ("1", CheckpointZip.FloatBytes(7))], byteOrder: "little"),
    ]);

    static readonly Lazy<List<(string Name, byte[] Data)>[]> PickleSeeds = new(() =>
        new[] { "views.pth", "resnet_6blocks_ngf4_full.pth" }
            .Select(f => CheckpointZip.Entries(File.ReadAllBytes(Fixtures.Path(f))))
            .ToArray());

    [Fact]
    public void MutatedFileBytes_EndInAResultOrInvalidData()
    {
        var seeds = ZipSeeds.Value;
        Run("file bytes", Gen.Select(Gen.Int[0, seeds.Length - 1], ByteMutations.Generator.Array[1, 6]),
            c => ByteMutations.Apply(seeds[c.Item1], c.Item2, bigEndian: false));
    }

    [Fact]
    public void MutatedDataPkl_InAnIntactZip_EndsInAResultOrInvalidData()
    {
        // Re-zipping after the mutation gets past the zip's CRC, so the unpickler itself is fuzzed.
        var seeds = PickleSeeds.Value;
        Run("data.pkl", Gen.Select(Gen.Int[0, seeds.Length - 1], ByteMutations.Generator.Array[1, 6]), c =>
        {
            var entries = seeds[c.Item1].Select(e => e.Name.EndsWith("/data.pkl") ? (e.Name, ByteMutations.Apply(e.Data, c.Item2, bigEndian: false)) : e);
            return CheckpointZip.Rebuild(entries);
        });
    }

    void Run(string what, Gen<(int, Mutation[])> cases, Func<(int, Mutation[]), byte[]> makeFile)
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("CYCLEGAN_FUZZ_SECONDS"), out var s) ? s : 10;
        int threads = int.TryParse(Environment.GetEnvironmentVariable("CYCLEGAN_FUZZ_THREADS"), out var t) ? t : 1;
        long count = 0, valid = 0;
        var reasons = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();

        cases.Sample(c =>
        {
            byte[] file = makeFile(c);
            string? reason = ReadChecked(file);
            Interlocked.Increment(ref count);
            if (reason is null)
                Interlocked.Increment(ref valid);
            else
                reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
        }, iter: long.MaxValue, time: seconds, threads: threads,
           print: c => $"seed file {c.Item1}, mutations [{string.Join(", ", c.Item2.Select(m => m.ToString()))}]");

        output.WriteLine($"{what}: {count} cases in {clock.Elapsed.TotalSeconds:F0} s, {valid} read as valid, {count - valid} refused, 0 findings");
        foreach (var (reason, n) in reasons.OrderByDescending(kv => kv.Value).Take(25))
            output.WriteLine($"  {n,8}  {reason}");
        Assert.True(count > 0);
    }

    /// <summary>Returns null for a valid read, else the refusal reason; throws for anything else.</summary>
    static string? ReadChecked(byte[] file)
    {
        long allocated = 0;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                PyTorchCheckpoint.ReadStateDict(new MemoryStream(file), Name);
                return null;
            }
            catch (InvalidDataException e)
            {
                if (!e.Message.StartsWith($"{Name}: ", StringComparison.Ordinal))
                    throw new InvalidOperationException($"message without the file name: {e.Message}", e);
                return Shorten(e.Message[(Name.Length + 2)..]);
            }
            finally
            {
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        });
        if (!task.Wait(HangLimit)) // an exception other than InvalidDataException surfaces here and fails the case
            throw new TimeoutException($"no answer after {HangLimit.TotalSeconds} s");
        // Reading a valid file allocates a few times its size (zip, storages, float copies); more means a bad bound.
        long limit = (16 << 20) + 8L * file.Length;
        if (allocated > limit)
            throw new InvalidOperationException($"allocated {allocated} bytes for a {file.Length}-byte file");
        return task.Result;
    }

    /// <summary>The reason without its variable parts (numbers, names), to count kinds of refusal.</summary>
    static string Shorten(string reason)
    {
        var chars = reason.Take(70).Select(c => char.IsDigit(c) ? '#' : c).ToArray();
        return new string(chars);
    }
}
