using System.Buffers.Binary;
using CsCheck;

namespace CycleGanEdge.Tests.Shared;

/// <summary>One edit of a fuzzed file: flip, set, cut, insert, delete, write an interesting integer, or repeat a chunk.</summary>
internal sealed record Mutation(int Kind, int Position, byte Value, int Length);

/// <summary>
/// The byte-level mutator the fuzz tests share (CsCheck generates the mutations, so a finding shrinks and
/// replays). Compiled into each test project that fuzzes (linked from tests/Shared in its .csproj).
/// </summary>
internal static class ByteMutations
{
    private static readonly uint[] InterestingInts = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 64, 1 << 20];

    public static readonly Gen<Mutation> Generator =
        Gen.Select(Gen.Int[0, 6], Gen.Int[0, int.MaxValue], Gen.Byte, Gen.Int[1, 24], (k, p, v, l) => new Mutation(k, p, v, l));

    /// <param name="bigEndian">Byte order of the interesting integers: big-endian as PNG and JPEG store sizes,
    /// little-endian as zip and pickle do.</param>
    public static byte[] Apply(byte[] seed, Mutation[] mutations, bool bigEndian)
    {
        var bytes = seed;
        foreach (var m in mutations)
        {
            int pos = (int)((uint)m.Position % (uint)(bytes.Length + 1));
            int end = Math.Min(bytes.Length, pos + m.Length);
            uint interesting = InterestingInts[m.Value % InterestingInts.Length];
            bytes = m.Kind switch
            {
                0 when pos < bytes.Length => With(bytes, b => b[pos] ^= (byte)(m.Value | 1)),
                1 when pos < bytes.Length => With(bytes, b => b[pos] = m.Value),
                2 => bytes[..pos],
                3 => [.. bytes.AsSpan(0, pos), .. Enumerable.Repeat(m.Value, m.Length), .. bytes.AsSpan(pos)],
                4 => [.. bytes.AsSpan(0, pos), .. bytes.AsSpan(end)],
                5 when pos + 4 <= bytes.Length => With(bytes, b =>
                {
                    if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(pos), interesting);
                    else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(pos), interesting);
                }),
                6 => [.. bytes.AsSpan(0, end), .. bytes.AsSpan(pos, end - pos), .. bytes.AsSpan(end)], // repeat a chunk
                _ => bytes,
            };
        }
        return bytes;
    }

    private static byte[] With(byte[] bytes, Action<byte[]> change)
    {
        var copy = (byte[])bytes.Clone();
        change(copy);
        return copy;
    }
}
