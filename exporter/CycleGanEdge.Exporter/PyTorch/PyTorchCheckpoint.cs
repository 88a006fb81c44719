using System.Buffers.Binary;
using System.IO.Compression;

namespace CycleGanEdge.Exporter.PyTorch;

/// <summary>
/// One state_dict entry with its values converted to float32 in row-major (contiguous) order.
/// <see cref="DType"/> is the checkpoint's own element type: float32, float16, bfloat16, float64 or int64.
/// int64 buffers (num_batches_tracked) are converted too: exact up to 2^24, which is all they need.
/// </summary>
public sealed record StateTensor(string DType, long[] Shape, float[] Data);

/// <summary>
/// Reads the weights from a checkpoint written by torch.save, such as the reference trainer's
/// latest_net_G_A.pth: the zip format of PyTorch 1.6 and later (&lt;prefix&gt;/data.pkl and
/// &lt;prefix&gt;/data/&lt;key&gt; storages) and the older stream format (<see cref="LegacyCheckpoint"/>).
/// Nothing in the file is ever executed (see <see cref="RestrictedUnpickler"/>).
/// </summary>
public static class PyTorchCheckpoint
{
    static readonly byte[] ZipMagic = "PK"u8.ToArray();
    const string DataParallelPrefix = "module.";

    /// <summary>
    /// Returns the state_dict (key to tensor, in file order). A training checkpoint whose top level is a dict
    /// with the weights under 'state_dict' or 'model' works too; a DataParallel 'module.' prefix is removed.
    /// </summary>
    /// <exception cref="InvalidDataException">"&lt;path&gt;: &lt;reason&gt;" for any file that cannot be read safely.</exception>
    public static IReadOnlyDictionary<string, StateTensor> ReadStateDict(string path)
    {
        FileStream stream;
        try
        {
            stream = File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: cannot open: {e.Message}", e);
        }
        using (stream)
            return ReadStateDict(stream, path);
    }

    /// <inheritdoc cref="ReadStateDict(string)"/>
    /// <param name="stream">A seekable stream holding only the checkpoint (read from position 0).</param>
    /// <param name="name">The name used in error messages (usually the file path).</param>
    public static IReadOnlyDictionary<string, StateTensor> ReadStateDict(Stream stream, string name)
    {
        if (!stream.CanSeek)
            throw new ArgumentException("the checkpoint stream must be seekable", nameof(stream));
        try
        {
            return Read(stream);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{name}: {e.Message}", e);
        }
    }

    static OrderedDictionary<string, StateTensor> Read(Stream stream)
    {
        if (!IsZip(stream))
            return LegacyCheckpoint.Read(stream);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            _ = zip.Entries.Count; // reads the central directory now, so its errors are reported here
        }
        catch (Exception e) when (IsZipFailure(e))
        {
            throw new InvalidDataException($"not a readable zip archive (truncated or damaged): {e.Message}");
        }
        using (zip)
            return Read(zip, stream.Length);
    }

    static OrderedDictionary<string, StateTensor> Read(ZipArchive zip, long archiveLength)
    {
        string prefix = FindPrefix(zip);
        bool bigEndian = ReadByteOrder(zip, prefix, archiveLength);
        var storages = new Dictionary<string, StorageRef>();
        long totalStorageBytes = 0;

        StorageRef ResolveStorage(string key, StorageDType dtype, long numel)
        {
            if (storages.TryGetValue(key, out var known))
            {
                return known.DType == dtype && known.Numel == numel
                    ? known
                    : throw new InvalidDataException($"storage '{key}' is declared twice with different types or sizes");
            }
            var entry = zip.GetEntry($"{prefix}/data/{key}")
                ?? throw new InvalidDataException($"storage '{key}' is missing (no {prefix}/data/{key} in the zip)");
            // The declared size must match the real entry before anything is allocated for it.
            if (numel > long.MaxValue / 8 || numel * dtype.ElementSize() != entry.Length)
                throw new InvalidDataException(
                    $"storage '{key}' declares {numel} {dtype.Name()} elements but its zip entry holds {entry.Length} bytes");
            // torch.save stores storages uncompressed; requiring that bounds every allocation by the file size.
            if (entry.CompressedLength != entry.Length || entry.Length > archiveLength)
                throw new InvalidDataException($"storage entry {entry.FullName} is compressed or larger than the file; torch.save writes storages uncompressed");
            // Zip directory records may all point at the same bytes: the sum must fit in the file too.
            totalStorageBytes += entry.Length;
            if (totalStorageBytes > archiveLength)
                throw new InvalidDataException("the storages add up to more bytes than the file holds (overlapping zip entries)");
            var storage = new StorageRef(key, dtype, numel);
            storages.Add(key, storage);
            return storage;
        }

        var pickleEntry = zip.GetEntry($"{prefix}/data.pkl")!;
        var root = RestrictedUnpickler.Load(ReadEntry(pickleEntry, PickleLimits.MaxPickleBytes, archiveLength), 0, out _, ResolveStorage);

        var bytesByKey = new Dictionary<string, byte[]>();
        ReadOnlyMemory<byte> StorageBytes(StorageRef storage)
        {
            if (!bytesByKey.TryGetValue(storage.Key, out var bytes))
            {
                bytes = ReadEntry(zip.GetEntry($"{prefix}/data/{storage.Key}")!, int.MaxValue, archiveLength);
                bytesByKey.Add(storage.Key, bytes);
            }
            return bytes;
        }

        return ToStateDict(root, StorageBytes, bigEndian, archiveLength);
    }

    /// <summary>Picks the state_dict out of the unpickled checkpoint and reads its tensors.</summary>
    internal static OrderedDictionary<string, StateTensor> ToStateDict(
        object? root, Func<StorageRef, ReadOnlyMemory<byte>> storageBytes, bool bigEndian, long fileLength)
    {
        var stateDict = SelectStateDict(root);
        var result = new OrderedDictionary<string, StateTensor>();
        // Views may share a storage (even overlap, as tied weights do), so bound what they expand to.
        long maxFloats = 2 * fileLength + (1 << 20), floats = 0;
        bool stripPrefix = stateDict.Items.Count > 0 && stateDict.Items.Keys.All(k => k is string s && s.StartsWith(DataParallelPrefix, StringComparison.Ordinal));
        foreach (var (key, value) in stateDict.Items)
        {
            if (key is not string name)
                throw new InvalidDataException($"state_dict key {key} is not a string");
            if (value is not TensorRef tensor)
                throw new InvalidDataException($"state_dict entry '{name}' is a {PickleValues.TypeName(value)}, not a tensor");
            if (stripPrefix)
                name = name[DataParallelPrefix.Length..];
            floats += tensor.Numel;
            if (floats > maxFloats)
                throw new InvalidDataException($"the tensors add up to more than {maxFloats} values, far more than a {fileLength}-byte file holds (overlapping views)");
            var data = Gather(tensor, storageBytes(tensor.Storage).Span, bigEndian);
            result.Add(name, new StateTensor(tensor.Storage.DType.Name(), tensor.Shape, data));
        }
        return result;
    }

    static bool IsZip(Stream stream)
    {
        Span<byte> head = stackalloc byte[2];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        return read == 2 && head.SequenceEqual(ZipMagic);
    }

    static string FindPrefix(ZipArchive zip)
    {
        string? prefix = null;
        foreach (var entry in zip.Entries)
        {
            string path = entry.FullName;
            if (path.EndsWith("/constants.pkl", StringComparison.Ordinal) || path.Contains("/code/", StringComparison.Ordinal))
                throw new InvalidDataException("this is a TorchScript archive (torch.jit.save), not a state_dict checkpoint; save the weights with torch.save(net.state_dict(), path)");
            if (path.EndsWith("/data.pkl", StringComparison.Ordinal) && path.IndexOf('/') == path.Length - "/data.pkl".Length)
            {
                if (prefix is not null)
                    throw new InvalidDataException("the zip holds more than one data.pkl");
                prefix = path[..^"/data.pkl".Length];
            }
        }
        return prefix ?? throw new InvalidDataException("the zip has no <name>/data.pkl: not a checkpoint written by torch.save");
    }

    static bool ReadByteOrder(ZipArchive zip, string prefix, long archiveLength)
    {
        // Written since PyTorch 2.1; older files are little-endian.
        var entry = zip.GetEntry($"{prefix}/byteorder");
        if (entry is null)
            return false;
        string order = System.Text.Encoding.ASCII.GetString(ReadEntry(entry, 16, archiveLength)).Trim();
        return order switch
        {
            "little" => false,
            "big" => true,
            _ => throw new InvalidDataException($"unknown byte order '{order}' in {entry.FullName}"),
        };
    }

    /// <summary>
    /// Reads a whole entry. Its declared size can lie (fuzzing found a 900-byte file declaring 16 MB), so memory
    /// is reserved up front only when the declared size fits in the file; otherwise only what really comes out.
    /// </summary>
    static byte[] ReadEntry(ZipArchiveEntry entry, int maxBytes, long archiveLength)
    {
        if (entry.Length > maxBytes || entry.Length > Array.MaxLength)
            throw new InvalidDataException($"zip entry {entry.FullName} is {entry.Length} bytes, more than the {maxBytes} allowed");
        using var buffer = entry.Length <= archiveLength ? new MemoryStream((int)entry.Length) : new MemoryStream();
        bool longer = false;
        try
        {
            using var stream = entry.Open();
            var chunk = new byte[Math.Min(entry.Length + 1, 1 << 16)];
            int read;
            while (!longer && (read = stream.Read(chunk)) > 0)
            {
                longer = buffer.Length + read > entry.Length;
                buffer.Write(chunk, 0, (int)Math.Min(read, entry.Length - buffer.Length));
            }
        }
        catch (Exception e) when (IsZipFailure(e))
        {
            throw new InvalidDataException($"zip entry {entry.FullName} is damaged: {e.Message}");
        }
        if (longer || buffer.Length != entry.Length)
            throw new InvalidDataException($"zip entry {entry.FullName} is {(longer ? "longer" : "shorter")} than its declared {entry.Length} bytes");
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    static PickleDict SelectStateDict(object? root)
    {
        if (root is not PickleDict top)
            throw new InvalidDataException($"the checkpoint holds a {PickleValues.TypeName(root)}, not a state_dict");
        if (top.Items.Values.All(v => v is TensorRef))
            return top;
        foreach (string key in (string[])["state_dict", "model"])
        {
            if (top.Items.TryGetValue(key, out var inner) && inner is PickleDict weights)
                return weights;
        }
        string keys = string.Join(", ", top.Items.Keys.Take(10).Select(k => $"'{k}'"));
        throw new InvalidDataException($"the checkpoint is a dict of non-tensors without a 'state_dict' or 'model' entry (keys: {keys})");
    }

    /// <summary>Reads a (possibly strided) view into a new contiguous float32 array.</summary>
    static float[] Gather(TensorRef tensor, ReadOnlySpan<byte> storage, bool bigEndian)
    {
        // Numel ≤ storage elements ≤ storage bytes (checked while unpickling), so this fits in memory.
        var data = new float[tensor.Numel];
        int rank = tensor.Shape.Length;
        var index = new long[rank];
        long element = tensor.Offset;
        var dtype = tensor.Storage.DType;
        int size = dtype.ElementSize();
        for (long i = 0; i < data.LongLength; i++)
        {
            data[i] = ReadElement(storage.Slice(checked((int)(element * size)), size), dtype, bigEndian);
            for (int d = rank - 1; d >= 0; d--) // odometer over the view's indices
            {
                element += tensor.Stride[d];
                if (++index[d] < tensor.Shape[d])
                    break;
                element -= tensor.Stride[d] * tensor.Shape[d];
                index[d] = 0;
            }
        }
        return data;
    }

    static float ReadElement(ReadOnlySpan<byte> bytes, StorageDType dtype, bool bigEndian) => dtype switch
    {
        StorageDType.Float32 => bigEndian ? BinaryPrimitives.ReadSingleBigEndian(bytes) : BinaryPrimitives.ReadSingleLittleEndian(bytes),
        StorageDType.Float16 => (float)(bigEndian ? BinaryPrimitives.ReadHalfBigEndian(bytes) : BinaryPrimitives.ReadHalfLittleEndian(bytes)),
        StorageDType.BFloat16 => BitConverter.Int32BitsToSingle(
            (bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes)) << 16),
        StorageDType.Float64 => (float)(bigEndian ? BinaryPrimitives.ReadDoubleBigEndian(bytes) : BinaryPrimitives.ReadDoubleLittleEndian(bytes)),
        _ => bigEndian ? BinaryPrimitives.ReadInt64BigEndian(bytes) : BinaryPrimitives.ReadInt64LittleEndian(bytes),
    };

    // What System.IO.Compression throws for a damaged archive.
    static bool IsZipFailure(Exception e) => e is InvalidDataException or IOException or NotSupportedException;
}
