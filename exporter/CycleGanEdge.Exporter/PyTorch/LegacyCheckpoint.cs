using System.Buffers.Binary;

namespace CycleGanEdge.Exporter.PyTorch;

/// <summary>
/// torch.save's format before PyTorch 1.6 (still written with _use_new_zipfile_serialization=False), used by
/// older reference checkpoints: one stream of pickles (magic number, format version 1001, system info, the
/// object, the list of storage keys) followed by each listed storage as an 8-byte element count and its bytes.
/// </summary>
internal static class LegacyCheckpoint
{
    // PROTO 2, LONG1 0x1950a86a20f9469cfc6c, STOP.
    static readonly byte[] Magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    const long FormatVersion = 1001;

    public static OrderedDictionary<string, StateTensor> Read(Stream stream)
    {
        long length = stream.Length;
        if (length == 0)
            throw new InvalidDataException("the file is empty");
        Span<byte> head = stackalloc byte[Magic.Length];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        if (read < Magic.Length || !head.SequenceEqual(Magic))
        {
            throw new InvalidDataException(IsTar(stream)
                ? "the tar-based torch.save format of early PyTorch is not supported; re-save it with a newer PyTorch: torch.save(torch.load(path), path)"
                : "not a PyTorch checkpoint (expected the zip archive that torch.save writes)");
        }
        // The storages follow the pickles inline, so the whole file is read (allocation = file size).
        if (length > Array.MaxLength)
            throw new InvalidDataException("checkpoints in the pre-1.6 format over 2 GB are not supported; re-save it with a newer PyTorch");
        var data = new byte[length];
        stream.ReadExactly(data);

        static StorageRef NoStorage(string key, StorageDType dtype, long numel) =>
            throw new InvalidDataException("a storage appears in the checkpoint header");
        var version = RestrictedUnpickler.Load(data, Magic.Length, out int pos, NoStorage);
        if (version is not FormatVersion)
            throw new InvalidDataException($"unknown pre-1.6 torch.save format version {version}");
        var systemInfo = RestrictedUnpickler.Load(data, pos, out pos, NoStorage);
        bool bigEndian = systemInfo is PickleDict info && info.Items.TryGetValue("little_endian", out var little) && little is false;

        var declared = new Dictionary<string, StorageRef>();
        StorageRef Declare(string key, StorageDType dtype, long numel)
        {
            if (declared.TryGetValue(key, out var known))
            {
                return known.DType == dtype && known.Numel == numel
                    ? known
                    : throw new InvalidDataException($"storage '{key}' is declared twice with different types or sizes");
            }
            // Only a record for now: its size is checked against the data that follows the pickles.
            var storage = new StorageRef(key, dtype, numel);
            declared.Add(key, storage);
            return storage;
        }
        var root = RestrictedUnpickler.Load(data, pos, out pos, Declare);
        if (RestrictedUnpickler.Load(data, pos, out pos, NoStorage) is not PickleList keys)
            throw new InvalidDataException("the list of storage keys after the checkpoint object is missing");

        var spans = new Dictionary<string, (int Start, int Length)>();
        foreach (var item in keys.Items)
        {
            if (item is not string key || !declared.TryGetValue(key, out var storage))
                throw new InvalidDataException($"the storage list names {item}, which no tensor uses");
            if (data.Length - pos < 8)
                throw new InvalidDataException($"the file is truncated before the data of storage '{key}'");
            var header = data.AsSpan(pos, 8);
            long count = bigEndian ? BinaryPrimitives.ReadInt64BigEndian(header) : BinaryPrimitives.ReadInt64LittleEndian(header);
            pos += 8;
            if (count != storage.Numel)
                throw new InvalidDataException($"storage '{key}' declares {storage.Numel} elements but its data says {count}");
            int size = storage.DType.ElementSize();
            if (count > (data.Length - pos) / size)
                throw new InvalidDataException($"storage '{key}' needs {count} {storage.DType.Name()} elements but only {data.Length - pos} bytes remain (truncated file)");
            if (!spans.TryAdd(key, (pos, (int)(count * size))))
                throw new InvalidDataException($"the storage list names '{key}' twice");
            pos += (int)(count * size);
        }
        foreach (var key in declared.Keys)
        {
            if (!spans.ContainsKey(key))
                throw new InvalidDataException($"storage '{key}' has no data in the file");
        }

        return PyTorchCheckpoint.ToStateDict(root, s => data.AsMemory(spans[s.Key].Start, spans[s.Key].Length), bigEndian, length);
    }

    static bool IsTar(Stream stream)
    {
        // The oldest torch.save wrote tar files: "ustar" at offset 257.
        Span<byte> magic = stackalloc byte[5];
        if (stream.Length < 262)
            return false;
        stream.Position = 257;
        int read = stream.ReadAtLeast(magic, 5, throwOnEndOfStream: false);
        stream.Position = 0;
        return read == 5 && magic.SequenceEqual("ustar"u8);
    }
}
