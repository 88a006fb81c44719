using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Checkpoints;

/// <summary>
/// Our checkpoint file (extension .ckpt, e.g. latest_net_G_A.ckpt). Layout, all integers little-endian:
/// <code>
///   8 bytes   magic "CGEDGE01"
///   int32     header length H, then H bytes of UTF-8 JSON (<see cref="CheckpointHeader"/>)
///   tensors, one after another until the checksum:
///     int32 name length N, N bytes UTF-8 name (a state_dict key)
///     uint8 dtype code (1 float32, 2 float64, 3 int64, 4 float16)
///     int32 rank R, then R x int64 dims
///     raw element bytes, little-endian, row-major (product of dims x element size)
///   32 bytes  SHA-256 of everything before it
/// </code>
/// Writes are atomic (temp file in the same folder, fsync, rename). Reads check the magic, the checksum and every
/// size against the file length before allocating, and report any problem as InvalidDataException("path: reason").
/// </summary>
public static class CheckpointFile
{
    public const string Extension = ".ckpt";

    private static ReadOnlySpan<byte> Magic => "CGEDGE01"u8;
    private const int ChecksumLength = 32;
    private const int MaxNameLength = 4096;
    private const int MaxRank = 8;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly (ScalarType Type, byte Code)[] DTypes =
    [
        (ScalarType.Float32, 1), (ScalarType.Float64, 2), (ScalarType.Int64, 3), (ScalarType.Float16, 4),
    ];

    /// <param name="beforeReplace">Called with the full target path once the new file is complete, just before it replaces the old one.</param>
    public static void Save(string path, CheckpointHeader header, IReadOnlyDictionary<string, Tensor> tensors, Action<string>? beforeReplace = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("checkpoints are written on little-endian machines only");
        foreach (var (name, tensor) in tensors)
        {
            if (DTypeCode(tensor.dtype) == 0)
                throw new ArgumentException($"tensor '{name}' has dtype {tensor.dtype}; a checkpoint holds only " +
                    string.Join(", ", DTypes.Select(d => d.Type)), nameof(tensors));
        }

        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var writer = new HashingWriter(stream);
                writer.Write(Magic);
                byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, JsonOptions);
                writer.WriteInt32(json.Length);
                writer.Write(json);
                foreach (var (name, tensor) in tensors)
                    WriteTensor(writer, name, tensor);
                stream.Write(writer.Checksum());
                stream.Flush(flushToDisk: true);
            }
            beforeReplace?.Invoke(fullPath);
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (AtomicFile.IsWriteError(e))
        {
            TryDelete(temp);
            throw new IOException($"{path}: cannot write the checkpoint ({AtomicFile.DescribeWriteError(e)}); the previous file is unchanged", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the write error matters more */ }
    }

    public static (CheckpointHeader Header, Dictionary<string, Tensor> Tensors) Load(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("checkpoints are read on little-endian machines only");
        using var stream = OpenForRead(path);
        long length = stream.Length;
        long minimum = Magic.Length + sizeof(int) + ChecksumLength;
        if (length < minimum)
            throw Corrupt(path, $"{length} bytes is too short to be a checkpoint");

        Span<byte> magic = stackalloc byte[8];
        stream.ReadExactly(magic);
        if (!magic.SequenceEqual(Magic))
            throw Corrupt(path, "not a CycleGanEdge checkpoint (wrong magic bytes)");
        VerifyChecksum(path, stream, length - ChecksumLength);

        stream.Position = Magic.Length;
        var reader = new BoundedReader(stream, path, length - ChecksumLength);
        int headerLength = reader.ReadLength("header", int.MaxValue);
        CheckpointHeader header = ParseHeader(path, reader.ReadBytes(headerLength));

        var tensors = new Dictionary<string, Tensor>();
        try
        {
            while (reader.Remaining > 0)
            {
                var (name, tensor) = ReadTensor(reader);
                if (!tensors.TryAdd(name, tensor))
                {
                    tensor.Dispose();
                    throw Corrupt(path, $"tensor '{name}' appears twice");
                }
            }
        }
        catch
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            throw;
        }
        return (header, tensors);
    }

    /// <summary>Saves the module's state_dict: parameters and buffers (running statistics included).</summary>
    public static void SaveModule(string path, CheckpointHeader header, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        Save(path, header, module.state_dict());
    }

    /// <summary>
    /// Loads weights into <paramref name="module"/>. Strict: every state_dict key must be in the file with the
    /// same shape, and the file must hold nothing else; otherwise InvalidDataException naming the keys.
    /// </summary>
    public static CheckpointHeader LoadInto(string path, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var (header, tensors) = Load(path);
        CopyInto(path, tensors, module);
        return header;
    }

    /// <summary>Rebuilds the generator described by the header, loads its weights, and puts it in eval mode.</summary>
    public static (Module<Tensor, Tensor> Generator, CheckpointHeader Header) LoadGenerator(string path)
    {
        var (header, tensors) = Load(path);
        Module<Tensor, Tensor>? generator = null;
        try
        {
            if (header.Generator is null)
                throw Corrupt(path, $"not a generator checkpoint (kind '{header.Kind}', no generator options)");
            try
            {
                generator = NetworkFactory.CreateGenerator(header.Generator);
            }
            catch (ArgumentException e)
            {
                throw Corrupt(path, $"its generator options cannot be built: {e.Message}");
            }
            CopyInto(path, tensors, generator);
            generator.eval();
            return (generator, header);
        }
        catch
        {
            generator?.Dispose();
            foreach (var t in tensors.Values)
                t.Dispose();
            throw;
        }
    }

    private static void CopyInto(string path, Dictionary<string, Tensor> tensors, Module module)
    {
        try
        {
            var expected = module.state_dict();
            var missing = expected.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
            var unexpected = tensors.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            var wrongShape = expected
                .Where(kv => tensors.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => $"{kv.Key} (file {Shape(tensors[kv.Key])}, network {Shape(kv.Value)})")
                .ToList();
            if (missing.Count + unexpected.Count + wrongShape.Count > 0)
            {
                var problems = new List<string>();
                if (missing.Count > 0) problems.Add("missing keys: " + ListSome(missing));
                if (unexpected.Count > 0) problems.Add("unexpected keys: " + ListSome(unexpected));
                if (wrongShape.Count > 0) problems.Add("shape mismatch: " + ListSome(wrongShape));
                throw Corrupt(path, $"does not fit the {module.GetName()} network; " + string.Join("; ", problems));
            }

            using var noGrad = torch.no_grad();
            foreach (var (name, target) in expected)
                target.copy_(tensors[name]);
        }
        finally
        {
            foreach (var t in tensors.Values)
                t.Dispose();
        }
    }

    private static void WriteTensor(HashingWriter writer, string name, Tensor tensor)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length is 0 or > MaxNameLength)
            throw new ArgumentException($"tensor name '{name}' must be 1 to {MaxNameLength} bytes long");
        writer.WriteInt32(nameBytes.Length);
        writer.Write(nameBytes);
        writer.Write([DTypeCode(tensor.dtype)]);
        writer.WriteInt32((int)tensor.ndim);
        foreach (long dim in tensor.shape)
            writer.WriteInt64(dim);
        using var scope = torch.NewDisposeScope(); // detach/cpu/contiguous each make a tensor handle
        var data = tensor.detach().cpu().contiguous();
        if (data.numel() > 0)
            writer.Write(data.bytes);
    }

    private static (string Name, Tensor Tensor) ReadTensor(BoundedReader reader)
    {
        int nameLength = reader.ReadLength("tensor name", MaxNameLength);
        string name = Encoding.UTF8.GetString(reader.ReadBytes(nameLength));
        byte code = reader.ReadBytes(1)[0];
        var dtype = DTypes.FirstOrDefault(d => d.Code == code);
        if (dtype.Code == 0)
            throw reader.Corrupt($"tensor '{name}' has unknown dtype code {code}");
        int rank = reader.ReadLength($"rank of tensor '{name}'", MaxRank);
        var dims = new long[rank];
        long byteCount = ElementSize(dtype.Type);
        for (int i = 0; i < rank; i++)
        {
            dims[i] = reader.ReadInt64();
            // Dividing instead of multiplying keeps huge or negative dims from overflowing past the check.
            if (dims[i] < 0 || (dims[i] > 0 && byteCount > reader.Remaining / dims[i]))
                throw reader.Corrupt($"tensor '{name}' claims shape [{string.Join(", ", dims.Take(i + 1))}...], more than the file holds");
            byteCount *= dims[i];
        }
        if (byteCount > reader.Remaining || byteCount > int.MaxValue)
            throw reader.Corrupt($"tensor '{name}' needs {byteCount} bytes, more than the file holds");

        var tensor = torch.empty(dims, dtype.Type);
        try
        {
            if (byteCount > 0)
                reader.ReadInto(tensor.bytes);
            return (name, tensor);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static CheckpointHeader ParseHeader(string path, byte[] json)
    {
        CheckpointHeader? header;
        try
        {
            header = JsonSerializer.Deserialize<CheckpointHeader>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw Corrupt(path, $"header is not valid JSON ({e.Message})");
        }
        if (header is null || string.IsNullOrWhiteSpace(header.Kind))
            throw Corrupt(path, "header has no kind");
        return header with { Extra = header.Extra ?? new Dictionary<string, string>() };
    }

    private static FileStream OpenForRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{path}: checkpoint not found", path, e);
        }
    }

    private static void VerifyChecksum(string path, FileStream stream, long hashedLength)
    {
        stream.Position = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 16];
        long left = hashedLength;
        while (left > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read == 0)
                throw Corrupt(path, "file ended while reading");
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
        Span<byte> stored = stackalloc byte[ChecksumLength];
        stream.ReadExactly(stored);
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored))
            throw Corrupt(path, "checksum mismatch: the file is corrupt or truncated");
    }

    private static byte DTypeCode(ScalarType type) => DTypes.FirstOrDefault(d => d.Type == type).Code;

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float64 => 8,
        ScalarType.Int64 => 8,
        ScalarType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    private static string ListSome(List<string> items) =>
        items.Count <= 8 ? string.Join(", ", items) : string.Join(", ", items.Take(8)) + $" and {items.Count - 8} more";

    internal static InvalidDataException Corrupt(string path, string reason) => new($"{path}: {reason}");

    /// <summary>Writes to the file and feeds the same bytes to the SHA-256 that ends it.</summary>
    private sealed class HashingWriter(Stream stream)
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public void Write(ReadOnlySpan<byte> bytes)
        {
            stream.Write(bytes);
            hash.AppendData(bytes);
        }

        public void WriteInt32(int value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, value);
            Write(b);
        }

        public void WriteInt64(long value)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, value);
            Write(b);
        }

        public byte[] Checksum()
        {
            byte[] result = hash.GetHashAndReset();
            hash.Dispose();
            return result;
        }
    }

    /// <summary>Reads the checksummed part of the file; never past <c>end</c>, so sizes cannot run off the file.</summary>
    private sealed class BoundedReader(FileStream stream, string path, long end)
    {
        public long Remaining => end - stream.Position;

        public InvalidDataException Corrupt(string reason) => CheckpointFile.Corrupt(path, reason);

        public byte[] ReadBytes(int count)
        {
            if (count > Remaining)
                throw Corrupt($"needs {count} more bytes at offset {stream.Position}, the file holds {Remaining}");
            byte[] bytes = new byte[count];
            stream.ReadExactly(bytes);
            return bytes;
        }

        public void ReadInto(Span<byte> target)
        {
            if (target.Length > Remaining)
                throw Corrupt($"needs {target.Length} more bytes at offset {stream.Position}, the file holds {Remaining}");
            stream.ReadExactly(target);
        }

        public int ReadLength(string what, int max)
        {
            int value = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
            if (value < 0 || value > max || value > Remaining)
                throw Corrupt($"{what} length {value} is out of range");
            return value;
        }

        public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8));
    }
}
