using System.Buffers.Binary;
using System.IO.Compression;
using CycleGanEdge.Exporter.PyTorch;

namespace CycleGanEdge.Exporter.Tests.PyTorch;

/// <summary>Hand-assembled malicious and broken checkpoints: each is refused with a clear reason, nothing runs.</summary>
public class HostileCheckpointTests
{
    const string Name = "evil.pth";

    static InvalidDataException Refused(byte[] file, long maxAllocatedBytes = 4 << 20)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.ReadStateDict(new MemoryStream(file), Name));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith($"{Name}: ", error.Message);
        Assert.True(allocated < maxAllocatedBytes + 2L * file.Length, $"allocated {allocated} bytes for a {file.Length}-byte file");
        return error;
    }

    static byte[] Zip(PickleWriter pickle, params (string Key, byte[] Data)[] storages) => CheckpointZip.Build(pickle.ToArray(), storages);

    static byte[] Zip(byte[] pickle, params (string Key, byte[] Data)[] storages) => CheckpointZip.Build(pickle, storages);

    [Theory]
    [InlineData("posix", "system")]
    [InlineData("os", "system")]
    [InlineData("nt", "system")]
    [InlineData("subprocess", "check_call")]
    public void ShellCommandPayload_IsRefusedByName_AndNeverRuns(string module, string function)
    {
        string marker = Path.Combine(Path.GetTempPath(), $"cyclegan-pwned-{Guid.NewGuid():N}");
        string file = Path.Combine(Path.GetTempPath(), $"evil-{Guid.NewGuid():N}.pth");
        // What pickle.dumps of an object whose __reduce__ returns (os.system, ("touch marker",)) looks like.
        File.WriteAllBytes(file, Zip(new PickleWriter().Proto().Global(module, function).Str($"touch {marker}").Op(0x85).Reduce().Stop()));
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.ReadStateDict(file));

            Assert.StartsWith($"{file}: refused pickle global '{module}.{function}'", error.Message);
            Assert.False(File.Exists(marker));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "eval")]
    [InlineData("builtins", "exec")]
    [InlineData("builtins", "getattr")]
    [InlineData("torch", "load")]
    [InlineData("torch.serialization", "load")]
    public void CodeRunningGlobal_IsRefused_WithGlobalOrStackGlobal(string module, string function)
    {
        var viaGlobal = new PickleWriter().Proto().Global(module, function).Str("__import__('os').system('id')").Op(0x85).Reduce().Stop();
        var viaStackGlobal = new PickleWriter().Proto(4).StackGlobal(module, function).Str("1").Op(0x85).Reduce().Stop();

        Assert.Contains($"refused pickle global '{module}.{function}'", Refused(Zip(viaGlobal)).Message);
        Assert.Contains($"refused pickle global '{module}.{function}'", Refused(Zip(viaStackGlobal)).Message);
    }

    [Fact]
    public void PayloadAfterValidTensors_IsStillRefused()
    {
        var pickle = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
            .Str("w").Tensor("0", 2, 0, [2], [1])
            .Str("x").Global("os", "system").Str("id").Op(0x85).Reduce()
            .SetItems().Stop();

        var error = Refused(Zip(pickle, ("0", CheckpointZip.FloatBytes(1, 2))));

        Assert.Contains("refused pickle global 'os.system'", error.Message);
    }

    [Fact]
    public void WholePickledModel_IsRefused_WithAHint()
    {
        var pickle = new PickleWriter().Proto().Global("__main__", "ResnetGenerator").EmptyTuple().Reduce().Stop();

        var error = Refused(Zip(pickle));

        Assert.Contains("refused pickle global '__main__.ResnetGenerator'", error.Message);
        Assert.Contains("torch.save(net.state_dict(), path)", error.Message);
    }

    [Theory]
    [InlineData((byte)'i', "0x69")] // INST: instantiate module.name
    [InlineData((byte)'o', "0x6f")] // OBJ
    [InlineData((byte)0x81, "0x81")]// NEWOBJ
    [InlineData((byte)0x82, "0x82")]// EXT1 (extension registry)
    [InlineData((byte)'0', "0x30")] // POP: not used by checkpoints
    public void ObjectBuildingOpcodes_AreUnknown(byte opcode, string hex)
    {
        var pickle = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Op(opcode).Raw("os\nsystem\n"u8).Stop();

        Assert.Contains($"unsupported pickle opcode {hex}", Refused(Zip(pickle)).Message);
    }

    [Fact]
    public void NestedReduceTricks_AreRefused()
    {
        var storage = ("0", CheckpointZip.FloatBytes(1, 2, 3, 4));
        static PickleWriter Start() => new PickleWriter().Proto();

        // An allowed function fed with the result of a refused one.
        var rebuildFromGetattr = Start().Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Global("builtins", "getattr").Str("x").Str("y").Op(0x86).Reduce()
            .Int(0).IntTuple(4).IntTuple(1).False().EmptyDict().Tuple().Reduce().Stop();
        Assert.Contains("refused pickle global 'builtins.getattr'", Refused(Zip(rebuildFromGetattr, storage)).Message);

        // Calling what an allowed call returned.
        var callTheDict = Start().Global("collections", "OrderedDict").EmptyTuple().Reduce().EmptyTuple().Reduce().Stop();
        Assert.Contains("pickle calls a dict, which is not callable", Refused(Zip(callTheDict)).Message);

        // Calling a storage type (in Python that allocates whatever size it is given).
        var callStorage = Start().Global("torch", "FloatStorage").Int(1L << 40).Op(0x85).Reduce().Stop();
        Assert.Contains("pickle calls torch.FloatStorage with unsupported arguments", Refused(Zip(callStorage)).Message);

        // A rebuilt tensor given a storage that is really a string.
        var fakeStorage = Start().Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Str("0").Int(0).IntTuple(4).IntTuple(1).False().EmptyDict().Tuple().Reduce().Stop();
        Assert.Contains("tensor rebuilt from a str instead of a storage", Refused(Zip(fakeStorage, storage)).Message);

        // BUILD (__setstate__) on a tensor.
        var setState = Start().Tensor("0", 4, 0, [4], [1]).EmptyDict().Build().Stop();
        Assert.Contains("BUILD at offset", Refused(Zip(setState, storage)).Message);

        // A persistent id naming a non-storage type.
        var badPid = Start().Mark().Str("storage").Global("collections", "OrderedDict").Str("0").Str("cpu").Int(4).Tuple().BinPersId().Stop();
        Assert.Contains("unsupported persistent id", Refused(Zip(badPid, storage)).Message);
    }

    [Fact]
    public void HugeStorageDeclaration_IsCheckedAgainstTheZipEntry_BeforeAllocating()
    {
        var pickle = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Str("w").Tensor("0", 1L << 40, 0, [1L << 40], [1]).SetItem().Stop();

        var error = Refused(Zip(pickle, ("0", CheckpointZip.FloatBytes(1, 2, 3, 4))));

        Assert.Contains("storage '0' declares 1099511627776 float32 elements but its zip entry holds 16 bytes", error.Message);
    }

    [Theory]
    [InlineData(new long[] { 1L << 21, 1L << 21, 1L << 21 }, new long[] { 1L << 42, 1L << 21, 1 }, "overflows")]
    [InlineData(new long[] { 1L << 30, 1L << 30 }, new long[] { 0, 0 }, "has more elements than its storage (4)")]
    [InlineData(new long[] { 100 }, new long[] { 1 }, "reaches past its storage of 4 elements")]
    [InlineData(new long[] { 2, 2 }, new long[] { 3, 1 }, "reaches past its storage of 4 elements")]
    public void HugeOrOutOfRangeShape_IsRefused_WithoutAllocating(long[] shape, long[] stride, string reason)
    {
        var pickle = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Str("w").Tensor("0", 4, 0, shape, stride).SetItem().Stop();

        Assert.Contains(reason, Refused(Zip(pickle, ("0", CheckpointZip.FloatBytes(1, 2, 3, 4)))).Message);
    }

    [Fact]
    public void ConflictingAndMissingStorages_AreRefused()
    {
        var conflicting = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
            .Str("a").Tensor("0", 4, 0, [4], [1])
            .Str("b").Tensor("0", 2, 0, [2], [1], "DoubleStorage")
            .SetItems().Stop();
        Assert.Contains("storage '0' is declared twice", Refused(Zip(conflicting, ("0", CheckpointZip.FloatBytes(1, 2, 3, 4)))).Message);

        var missing = PickleWriter.StateDict(("w", [4]));
        Assert.Contains("storage '0' is missing (no archive/data/0 in the zip)", Refused(Zip(missing)).Message);
    }

    [Fact]
    public void CompressedStorage_IsRefused()
    {
        // torch.save never compresses storages; a deflated one could expand ~1000x (a zip bomb).
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            CheckpointZip.Add(zip, "archive/data.pkl", PickleWriter.StateDict(("w", [1 << 16])));
            CheckpointZip.Add(zip, "archive/data/0", new byte[4 << 16], CompressionLevel.Optimal);
        }

        Assert.Contains("is compressed", Refused(memory.ToArray()).Message);
    }

    [Fact]
    public void ZipEntriesSharingTheSameBytes_AreRefused()
    {
        // Eight directory records all pointing at one 64 KB storage: 512 KB of storages from a ~66 KB file.
        const int count = 8, numel = 16384;
        var pickle = PickleWriter.StateDict(Enumerable.Range(0, count).Select(i => ($"t{i}", new long[] { numel })).ToArray());
        byte[] file = OverlappingZip(pickle, new byte[4 * numel], count);

        Assert.Contains("the storages add up to more bytes than the file holds", Refused(file).Message);
    }

    [Fact]
    public void ManyViewsOfOneStorage_AreBoundedByTheFileSize()
    {
        var w = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        for (int i = 0; i < 1000; i++)
            w.Str($"t{i}").Tensor("0", 16384, 0, [16384], [1]);
        byte[] file = Zip(w.SetItems().Stop(), ("0", new byte[4 * 16384]));

        // Unbounded, the 1000 views would expand to 64 MB of floats.
        Assert.Contains("the tensors add up to more than", Refused(file, maxAllocatedBytes: 12 << 20).Message);
    }

    /// <summary>A zip whose storage directory records archive/data/0..count-1 all point at one local entry.</summary>
    static byte[] OverlappingZip(byte[] pickle, byte[] storage, int count)
    {
        using var memory = new MemoryStream();
        using var w = new BinaryWriter(memory);
        var central = new List<(string Name, byte[] Data, uint Offset)>();
        uint LocalEntry(string name, byte[] data)
        {
            uint offset = (uint)memory.Position;
            w.Write(0x04034b50u); w.Write((ushort)20); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(Crc32(data)); w.Write((uint)data.Length); w.Write((uint)data.Length);
            w.Write((ushort)name.Length); w.Write((ushort)0); w.Write(System.Text.Encoding.ASCII.GetBytes(name)); w.Write(data);
            return offset;
        }
        central.Add(("archive/data.pkl", pickle, LocalEntry("archive/data.pkl", pickle)));
        uint shared = LocalEntry("archive/data/0", storage);
        for (int i = 0; i < count; i++)
            central.Add(($"archive/data/{i}", storage, shared));
        uint directoryStart = (uint)memory.Position;
        foreach (var (name, data, offset) in central)
        {
            w.Write(0x02014b50u); w.Write((ushort)20); w.Write((ushort)20); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(Crc32(data)); w.Write((uint)data.Length); w.Write((uint)data.Length);
            w.Write((ushort)name.Length); w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(offset); w.Write(System.Text.Encoding.ASCII.GetBytes(name));
        }
        uint directorySize = (uint)memory.Position - directoryStart;
        w.Write(0x06054b50u); w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)central.Count); w.Write((ushort)central.Count);
        w.Write(directorySize); w.Write(directoryStart); w.Write((ushort)0);
        w.Flush();
        return memory.ToArray();
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xffffffff;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void DeclaredEntrySize_IsNotTrustedForAllocation()
    {
        // Found by the long fuzz run: a ~900-byte zip whose directory says data.pkl holds 16 MB made us reserve 16 MB.
        byte[] file = CheckpointZip.Build(PickleWriter.StateDict(("w", [1])), [("0", CheckpointZip.FloatBytes(1))]);
        int record = file.AsSpan().IndexOf("PK\u0001\u0002"u8); // the first directory record: data.pkl
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(record + 20), 0xff000000); // compressed size
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(record + 24), 0x00ffffff); // uncompressed size

        var error = Refused(file, maxAllocatedBytes: 1 << 20);

        Assert.Contains("zip entry archive/data.pkl is damaged", error.Message);
    }

    [Fact]
    public void DeepNesting_IsRefused()
    {
        var marks = new PickleWriter().Proto();
        for (int i = 0; i < 10_000; i++)
            marks.Mark();
        Assert.Contains("pickle nests MARKs deeper than 64 levels", Refused(Zip(marks.Stop())).Message);

        var lists = new PickleWriter().Proto();
        for (int i = 0; i < 1000; i++)
            lists.EmptyList();
        for (int i = 0; i < 999; i++)
            lists.Append();
        Assert.Contains("pickle nests containers deeper than 64 levels", Refused(Zip(lists.Stop())).Message);

        var tuples = new PickleWriter().Proto().EmptyTuple();
        for (int i = 0; i < 1000; i++)
            tuples.Op(0x85);
        Assert.Contains("pickle nests containers deeper than 64 levels", Refused(Zip(tuples.Stop())).Message);
    }

    [Fact]
    public void MemoAbuse_IsRefusedOrHarmless()
    {
        var unset = new PickleWriter().Proto().BinGet(7).Stop();
        Assert.Contains("memo entry 7, which was never stored", Refused(Zip(unset)).Message);

        // One memo slot per byte of pickle, past the limit.
        var flood = new PickleWriter().Proto().EmptyTuple();
        for (int i = 0; i < 1_000_001; i++)
            flood.Op(0x94); // MEMOIZE
        Assert.Contains("memo grows past 1000000 entries", Refused(Zip(flood.Stop()), maxAllocatedBytes: 256 << 20).Message);

        // "Billion laughs": many references to one list cost no memory each, but are counted.
        var laughs = new PickleWriter().Proto().EmptyList().BinPut(0).Mark();
        for (int i = 0; i < 4_100_000; i++)
            laughs.BinGet(0);
        Assert.Contains("pickle builds more than 4000000 objects", Refused(Zip(laughs.Tuple().Stop()), maxAllocatedBytes: 256 << 20).Message);

        // A list that contains itself (a cycle through the memo): nothing walks it, so no hang.
        var cycle = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Str("w").EmptyList().BinPut(1).BinGet(1).Append().SetItem().Stop();
        Assert.Contains("without a 'state_dict' or 'model' entry (keys: 'w')", Refused(Zip(cycle)).Message);

        // The largest memo index is just a dictionary key, not an array size.
        var farIndex = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Op((byte)'r').Raw([0xff, 0xff, 0xff, 0xff]).Stop();
        Assert.Empty(PyTorchCheckpoint.ReadStateDict(new MemoryStream(Zip(farIndex)), Name));
    }

    [Fact]
    public void HugeStringLength_IsRefused()
    {
        var pickle = new PickleWriter().Proto().Op((byte)'X').Raw([0xff, 0xff, 0xff, 0x7f]).Raw("abc"u8).Stop();

        Assert.Contains("declares a 2147483647-byte string", Refused(Zip(pickle)).Message);
    }

    [Fact]
    public void TruncatedFiles_AreRefused()
    {
        byte[] good = File.ReadAllBytes(Fixtures.Path("views.pth"));

        Assert.Contains("not a readable zip archive", Refused(good[..(good.Length / 2)]).Message);
        Assert.Contains("not a readable zip archive", Refused(good[..^1]).Message);

        var entries = CheckpointZip.Entries(good);
        int pkl = entries.FindIndex(e => e.Name.EndsWith("data.pkl"));
        entries[pkl] = (entries[pkl].Name, entries[pkl].Data[..^40]);
        Assert.Contains("pickle is truncated", Refused(CheckpointZip.Rebuild(entries)).Message);
    }

    [Fact]
    public void NonCheckpointFiles_AreRefused()
    {
        Assert.Contains("not a PyTorch checkpoint (expected the zip archive that torch.save writes)",
            Refused("just some text, not a model\n"u8.ToArray()).Message);
        Assert.Contains("the file is empty", Refused([]).Message);

        var tar = new byte[1024];
        "ustar"u8.CopyTo(tar.AsSpan(257));
        Assert.Contains("tar-based torch.save format of early PyTorch is not supported; re-save it with a newer PyTorch", Refused(tar).Message);

        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
            CheckpointZip.Add(zip, "notes.txt", "hello"u8.ToArray());
        Assert.Contains("the zip has no <name>/data.pkl", Refused(memory.ToArray()).Message);
    }

    [Fact]
    public void TorchScriptArchive_IsRefused_WithAHint()
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            CheckpointZip.Add(zip, "model/data.pkl", new PickleWriter().Proto().Global("__torch__", "ResnetGenerator").Stop().ToArray());
            CheckpointZip.Add(zip, "model/code/__torch__.py", "def forward(self, x): ...\n"u8.ToArray());
            CheckpointZip.Add(zip, "model/constants.pkl", new PickleWriter().Proto().EmptyTuple().Stop().ToArray());
        }

        Assert.Contains("TorchScript archive", Refused(memory.ToArray()).Message);
    }

    [Fact]
    public void BigEndianCheckpoint_IsConverted_AndUnknownByteOrderRefused()
    {
        var bigEndian = new byte[12];
        float[] values = [1.5f, -2.25f, 1e-3f];
        for (int i = 0; i < 3; i++)
            BinaryPrimitives.WriteSingleBigEndian(bigEndian.AsSpan(4 * i), values[i]);
        var pickle = PickleWriter.StateDict(("w", [3]));

        var read = PyTorchCheckpoint.ReadStateDict(new MemoryStream(CheckpointZip.Build(pickle, [("0", bigEndian)], byteOrder: "big")), Name);

        Assert.Equal(values, read["w"].Data);
        Assert.Contains("unknown byte order 'middle'", Refused(CheckpointZip.Build(pickle, [("0", bigEndian)], byteOrder: "middle")).Message);
    }

    [Fact]
    public void NonTensorEntriesAndKeys_AreRefused()
    {
        var notTensor = new PickleWriter().Proto().EmptyDict().Str("w").Str("x").SetItem().Stop();
        Assert.Contains("without a 'state_dict' or 'model' entry (keys: 'w')", Refused(Zip(notTensor)).Message);

        var tupleKey = new PickleWriter().Proto().EmptyDict().EmptyTuple().Int(1).SetItem().Stop();
        Assert.Contains("dict key of type tuple", Refused(Zip(tupleKey)).Message);

        var topList = new PickleWriter().Proto().EmptyList().Stop();
        Assert.Contains("the checkpoint holds a list, not a state_dict", Refused(Zip(topList)).Message);
    }

    static readonly byte[] LegacyHeader =
    [
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, // magic number
        0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e, // format version 1001
        0x80, 0x02, 0x7d, 0x2e, // system info: {}
    ];

    /// <summary>A pre-1.6 checkpoint: header pickles, the object, the key list, then count + bytes per storage.</summary>
    static byte[] Legacy(PickleWriter obj, string[] keys, params (long Count, byte[] Data)[] storages)
    {
        var keyList = new PickleWriter().Proto().EmptyList();
        foreach (var key in keys)
            keyList.Str(key).Append();
        using var memory = new MemoryStream();
        memory.Write(LegacyHeader);
        memory.Write(obj.ToArray());
        memory.Write(keyList.Stop().ToArray());
        foreach (var (count, data) in storages)
        {
            memory.Write(BitConverter.GetBytes(count));
            memory.Write(data);
        }
        return memory.ToArray();
    }

    static PickleWriter OneTensorObject(long numel) => new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
        .Str("w").Tensor("0", numel, 0, [numel], [1]).SetItem().Stop();

    [Fact]
    public void LegacyFormat_HandBuilt_IsReadAndItsHostileVariantsRefused()
    {
        byte[] floats = CheckpointZip.FloatBytes(1, 2, 3, 4);
        var good = PyTorchCheckpoint.ReadStateDict(new MemoryStream(Legacy(OneTensorObject(4), ["0"], (4, floats))), Name);
        Assert.Equal([1f, 2, 3, 4], good["w"].Data);

        Assert.Contains("storage '0' needs 4 float32 elements but only 15 bytes remain (truncated file)",
            Refused(Legacy(OneTensorObject(4), ["0"], (4, floats[..15]))).Message);
        Assert.Contains("storage '0' declares 4 elements but its data says 1099511627776",
            Refused(Legacy(OneTensorObject(4), ["0"], (1L << 40, floats))).Message);
        Assert.Contains("storage '0' needs 1099511627776 float32 elements but only 16 bytes remain",
            Refused(Legacy(OneTensorObject(1L << 40), ["0"], (1L << 40, floats))).Message);
        Assert.Contains("storage '0' has no data in the file", Refused(Legacy(OneTensorObject(4), [])).Message);
        Assert.Contains("the storage list names 7, which no tensor uses",
            Refused(Legacy(OneTensorObject(4), ["7"], (4, floats))).Message);

        var payload = new PickleWriter().Proto().Global("os", "system").Str("id").Op(0x85).Reduce().Stop();
        Assert.Contains("refused pickle global 'os.system'", Refused(Legacy(payload, [])).Message);

        Assert.Contains("pickle is truncated", Refused(LegacyHeader[..15]).Message);
    }
}
