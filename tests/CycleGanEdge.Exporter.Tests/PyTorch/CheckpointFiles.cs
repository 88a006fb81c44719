using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace CycleGanEdge.Exporter.Tests.PyTorch;

/// <summary>The committed PyTorch fixtures (tests/fixtures/pytorch, made by make_fixture.py).</summary>
internal static class Fixtures
{
    public static string Dir { get; } = FindDir();

    public static string Path(string name) => System.IO.Path.Combine(Dir, name);

    public static float[] ReadFloats(string name)
    {
        var bytes = File.ReadAllBytes(Path(name));
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return values;
    }

    static string FindDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "pytorch");
            if (Directory.Exists(candidate))
                return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures/pytorch not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Writes zip checkpoints laid out like torch.save's, with any data.pkl and storages.</summary>
internal static class CheckpointZip
{
    public static byte[] Build(byte[] pickle, IEnumerable<(string Key, byte[] Data)> storages, string prefix = "archive", string? byteOrder = null)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, $"{prefix}/data.pkl", pickle);
            if (byteOrder is not null)
                Add(zip, $"{prefix}/byteorder", Encoding.ASCII.GetBytes(byteOrder));
            foreach (var (key, data) in storages)
                Add(zip, $"{prefix}/data/{key}", data);
            Add(zip, $"{prefix}/version", "3\n"u8.ToArray());
        }
        return memory.ToArray();
    }

    public static void Add(ZipArchive zip, string name, byte[] data, CompressionLevel level = CompressionLevel.NoCompression)
    {
        using var stream = zip.CreateEntry(name, level).Open();
        stream.Write(data);
    }

    /// <summary>All entries of a zip, in order (to rebuild it with one entry changed).</summary>
    public static List<(string Name, byte[] Data)> Entries(byte[] zipBytes)
    {
        using var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read);
        var entries = new List<(string, byte[])>();
        foreach (var entry in zip.Entries)
        {
            using var stream = entry.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            entries.Add((entry.FullName, copy.ToArray()));
        }
        return entries;
    }

    public static byte[] Rebuild(IEnumerable<(string Name, byte[] Data)> entries)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
                Add(zip, name, data);
        }
        return memory.ToArray();
    }

    public static byte[] FloatBytes(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }
}

/// <summary>Emits pickle opcodes by hand, for valid and hostile data.pkl files.</summary>
internal sealed class PickleWriter
{
    readonly MemoryStream _out = new();

    public byte[] ToArray() => _out.ToArray();

    public PickleWriter Op(byte opcode) { _out.WriteByte(opcode); return this; }

    public PickleWriter Raw(ReadOnlySpan<byte> bytes) { _out.Write(bytes); return this; }

    public PickleWriter Proto(byte version = 2) => Op(0x80).Op(version);

    public PickleWriter Stop() => Op((byte)'.');

    public PickleWriter Mark() => Op((byte)'(');

    public PickleWriter Tuple() => Op((byte)'t');

    public PickleWriter EmptyTuple() => Op((byte)')');

    public PickleWriter EmptyDict() => Op((byte)'}');

    public PickleWriter EmptyList() => Op((byte)']');

    public PickleWriter Append() => Op((byte)'a');

    public PickleWriter SetItem() => Op((byte)'s');

    public PickleWriter SetItems() => Op((byte)'u');

    public PickleWriter Reduce() => Op((byte)'R');

    public PickleWriter Build() => Op((byte)'b');

    public PickleWriter BinPersId() => Op((byte)'Q');

    public PickleWriter False() => Op(0x89);

    public PickleWriter Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    public PickleWriter StackGlobal(string module, string name) => Str(module).Str(name).Op(0x93);

    public PickleWriter Str(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        Op((byte)'X');
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
        return Raw(length).Raw(utf8);
    }

    public PickleWriter Int(long value)
    {
        if (value is >= 0 and < 256)
            return Op((byte)'K').Op((byte)value);
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            return Op((byte)'J').Raw(bytes);
        }
        Span<byte> eight = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(eight, value);
        return Op(0x8a).Op(8).Raw(eight); // LONG1
    }

    public PickleWriter BinPut(byte index) => Op((byte)'q').Op(index);

    public PickleWriter BinGet(byte index) => Op((byte)'h').Op(index);

    public PickleWriter IntTuple(params long[] values)
    {
        Mark();
        foreach (long v in values)
            Int(v);
        return Tuple();
    }

    /// <summary>One tensor the way torch.save writes it: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).</summary>
    public PickleWriter Tensor(string storageKey, long numel, long offset, long[] shape, long[] stride, string storageType = "FloatStorage")
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        Mark().Str("storage").Global("torch", storageType).Str(storageKey).Str("cpu").Int(numel).Tuple().BinPersId();
        Int(offset).IntTuple(shape).IntTuple(stride).False();
        Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    /// <summary>A whole state_dict pickle: OrderedDict of contiguous float tensors, each in storage "i".</summary>
    public static byte[] StateDict(params (string Key, long[] Shape)[] tensors)
    {
        var w = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        for (int i = 0; i < tensors.Length; i++)
        {
            var (key, shape) = tensors[i];
            long numel = shape.Aggregate(1L, (a, b) => a * b);
            w.Str(key).Tensor(i.ToString(), numel, 0, shape, ContiguousStrides(shape));
        }
        return w.SetItems().Stop().ToArray();
    }

    public static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }
}
