using System.Globalization;
using System.Text;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;

namespace CycleGanEdge.Runtime;

/// <summary>
/// Checks an .onnx file before ONNX Runtime sees it: its size (a configurable limit) and every tensor that keeps
/// its data in an external file, which must be a regular file inside the model's folder (symbolic links resolved).
/// ONNX Runtime 1.31 refuses "../x", absolute paths and links out of the folder itself (HostileModelTests shows
/// its messages); this check says so before loading, in plain words, and also refuses names that are no file at all,
/// such as ORT's in-memory tag "*/_ORT_MEM_ADDR_/*" whose offset ORT would take as a memory address. Reads only the
/// few protobuf fields that can hold tensors with a small wire-format reader that survives any bytes (depth-limited), before anything parses the whole model.
/// </summary>
public static class ModelFileCheck
{
    /// <summary>Environment variable that raises (or lowers) the model size limit, in megabytes.</summary>
    public const string MaxSizeVariable = "CYCLEGAN_MAX_MODEL_MB";

    /// <summary>2 GiB: the most a single-file ONNX model can hold (protobuf's message limit).</summary>
    public const long DefaultMaxBytes = 2L << 30;

    /// <summary>Nesting deeper than this (graphs in attributes in graphs ...) is refused instead of recursing.</summary>
    private const int MaxDepth = 64;

    /// <summary>The limit in effect: <see cref="MaxSizeVariable"/> when set to a positive number, else <see cref="DefaultMaxBytes"/>.</summary>
    public static long MaxBytes =>
        long.TryParse(Environment.GetEnvironmentVariable(MaxSizeVariable), NumberStyles.None, CultureInfo.InvariantCulture, out long mb) && mb > 0
            ? mb * (1L << 20)
            : DefaultMaxBytes;

    /// <summary>Throws <see cref="InvalidModelException"/> naming the file and the reason when it must not be loaded.</summary>
    public static void Verify(string path, long? maxBytes = null)
    {
        long limit = maxBytes ?? MaxBytes;
        byte[] bytes;
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists)
                throw new InvalidModelException(path, "model file not found");
            if (file.Length == 0)
                throw new InvalidModelException(path, "empty file (not an ONNX model)");
            if (file.Length > limit)
                throw new InvalidModelException(path,
                    $"{Megabytes(file.Length)} is above the model size limit of {Megabytes(limit)} (set {MaxSizeVariable} to raise it)");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidModelException(path, $"cannot read it ({e.Message})", e);
        }
        CheckExternalData(path, bytes);
    }

    /// <summary>
    /// The same checks for a model held in memory (made by the exporter, never read from a file the user gave):
    /// the size limit, and no external data at all, since there is no folder it could safely come from.
    /// </summary>
    public static void VerifyInMemory(string name, ReadOnlySpan<byte> model, long? maxBytes = null)
    {
        long limit = maxBytes ?? MaxBytes;
        if (model.Length == 0)
            throw new InvalidModelException(name, "empty (not an ONNX model)");
        if (model.Length > limit)
            throw new InvalidModelException(name, $"{Megabytes(model.Length)} is above the model size limit of {Megabytes(limit)} (set {MaxSizeVariable} to raise it)");
        var locations = new List<(string Tensor, string Location)>();
        try
        {
            ReadMessage(model, Message.Model, 0, locations);
        }
        catch (FormatException e)
        {
            throw new InvalidModelException(name, $"not an ONNX model (damaged or truncated: {e.Message})");
        }
        if (locations.Count > 0)
            throw new InvalidModelException(name, $"tensor '{locations[0].Tensor}' keeps its data in '{locations[0].Location}', and a model in memory has no folder to read it from; refusing to load it");
    }

    /// <summary>Refuses external data outside the folder of <paramref name="path"/>; the bytes are that file's content.</summary>
    public static void CheckExternalData(string path, ReadOnlySpan<byte> model)
    {
        var locations = new List<(string Tensor, string Location)>();
        try
        {
            ReadMessage(model, Message.Model, 0, locations);
        }
        catch (FormatException e)
        {
            throw new InvalidModelException(path, $"not an ONNX model (damaged or truncated: {e.Message})");
        }
        if (locations.Count == 0) return;

        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string realFolder = RealPath(folder);
        foreach (var (tensor, location) in locations)
        {
            string? reason = ExternalFileProblem(folder, realFolder, location);
            if (reason is not null)
                throw new InvalidModelException(path, $"tensor '{tensor}' keeps its data in '{location}', {reason}; refusing to load it");
        }
    }

    private static string? ExternalFileProblem(string folder, string realFolder, string location)
    {
        if (location.Length == 0 || Path.IsPathRooted(location) || location.Contains('\0'))
            return "which is not a file name relative to the model's folder";
        string full = Path.GetFullPath(Path.Combine(folder, location));
        if (!IsInside(full, folder))
            return "outside the model's folder";
        var info = new FileInfo(full);
        if (!info.Exists)
            return "which does not exist in the model's folder";
        if (!IsInside(RealPath(full), realFolder))
            return "a symbolic link to a file outside the model's folder";
        return null;
    }

    /// <summary>The path with every symbolic link (of the file and of its folders) resolved.</summary>
    private static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string? parent = Path.GetDirectoryName(full);
        string resolved = parent is null ? full : Path.Combine(RealPath(parent), Path.GetFileName(full));
        for (int hops = 0; hops < 40; hops++)
        {
            var link = new FileInfo(resolved).LinkTarget;
            if (link is null) return resolved;
            resolved = Path.GetFullPath(link, Path.GetDirectoryName(resolved)!);
            parent = Path.GetDirectoryName(resolved);
            if (parent is not null) resolved = Path.Combine(RealPath(parent), Path.GetFileName(resolved));
        }
        return resolved; // a link loop: the file cannot be opened anyway
    }

    private static bool IsInside(string path, string folder) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):0.#} MB");

    // Field numbers from onnx/onnx onnx.proto: only the messages on the way to a TensorProto.
    private enum Message { Model, Graph, Node, Attribute, Function, TrainingInfo, SparseTensor, Tensor, StringEntry }

    private static Message? Child(Message parent, int field) => (parent, field) switch
    {
        (Message.Model, 7) => Message.Graph,
        (Message.Model, 20) => Message.TrainingInfo,
        (Message.Model, 25) => Message.Function,
        (Message.TrainingInfo, 1 or 2) => Message.Graph,
        (Message.Graph, 1) => Message.Node,
        (Message.Graph, 5) => Message.Tensor,
        (Message.Graph, 15) => Message.SparseTensor,
        (Message.Function, 7) => Message.Node,
        (Message.Node, 5) => Message.Attribute,
        (Message.Attribute, 5 or 10) => Message.Tensor,
        (Message.Attribute, 6 or 11) => Message.Graph,
        (Message.Attribute, 22 or 23) => Message.SparseTensor,
        (Message.SparseTensor, 1 or 2) => Message.Tensor,
        _ => null,
    };

    private const int TensorName = 8, TensorExternalData = 13, TensorDataLocation = 14, EntryKey = 1, EntryValue = 2;
    private const int ModelMetadataProps = 14, ModelGraph = 7, GraphNode = 1, NodeOpType = 4;

    /// <summary>
    /// The model's metadata_props, read before a session exists (translate chooses its threads from them) without
    /// loading the graph: every other top-level field is skipped by its length. Throws FormatException on a damaged file.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        var metadata = new Dictionary<string, string>();
        using var file = File.OpenRead(path);
        while (file.Position < file.Length)
        {
            var (field, length) = NextField(file, file.Length);
            if (length < 0) continue;
            if (field == ModelMetadataProps)
            {
                var (key, value) = ReadEntry(ReadBytes(file, length));
                metadata[key] = value;
            }
            else file.Seek(length, SeekOrigin.Current);
        }
        return metadata;
    }

    /// <summary>
    /// The facts of the main graph <see cref="ContractCheck"/> needs: its inputs and outputs, whether it has a Resize node,
    /// blur filters, float16 weights, a residual output's clip. Reads the nodes' op types and the initializers' names and types and skips their data
    /// (parsing the whole model would add ~20 ms to a one-image translate). Throws FormatException on damaged bytes.
    /// </summary>
    public static GraphFacts ReadGraphFacts(ReadOnlySpan<byte> model)
    {
        bool resize = false, blur = false, half = false, residual = false;
        var inputs = new List<GraphEdge>();
        var outputs = new List<GraphEdge>();
        foreach (var (field, graphStart, graphLength) in Fields(model))
        {
            if (field != ModelGraph) continue;
            var graph = model.Slice(graphStart, graphLength);
            foreach (var (graphField, start, length) in Fields(graph))
            {
                var item = graph.Slice(start, length);
                if (graphField == GraphNode)
                {
                    foreach (var (f, s, l) in Fields(item))
                        if (f == NodeOpType && item.Slice(s, l).SequenceEqual("Resize"u8)) resize = true;
                }
                else if (graphField == GraphInitializer)
                {
                    foreach (var (f, s, l) in Fields(item))
                        if (f == TensorName)
                        {
                            string name = Encoding.UTF8.GetString(item.Slice(s, l));
                            if (GraphFacts.IsBlurFilter(name)) blur = true;
                            if (GraphFacts.IsResidualBound(name)) residual = true;
                        }
                    if (DataType(item) == Float16DataType) half = true;
                }
                else if (graphField is GraphInput or GraphOutput)
                {
                    GraphEdge edge;
                    try
                    {
                        edge = GraphFacts.Edge(ValueInfoProto.Parser.ParseFrom(item));
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        throw new FormatException($"a graph {(graphField == GraphInput ? "input" : "output")} is damaged: {e.Message}", e);
                    }
                    (graphField == GraphInput ? inputs : outputs).Add(edge);
                }
            }
        }
        return new GraphFacts { Inputs = inputs, Outputs = outputs, HasResize = resize, HasBlurFilters = blur, HasHalfWeights = half, HasResidualOutput = residual };
    }

    /// <summary>A TensorProto's data_type (0 when absent).</summary>
    private static ulong DataType(ReadOnlySpan<byte> tensor)
    {
        int pos = 0;
        while (pos < tensor.Length)
        {
            ulong tag = ReadVarint(tensor, ref pos);
            switch (tag & 7)
            {
                case 0:
                    ulong value = ReadVarint(tensor, ref pos);
                    if (tag >> 3 == TensorDataType) return value;
                    break;
                case 1: Skip(tensor, ref pos, 8); break;
                case 5: Skip(tensor, ref pos, 4); break;
                case 2: Skip(tensor, ref pos, checked((int)ReadVarint(tensor, ref pos))); break;
                default: throw new FormatException($"wire type {tag & 7} in a tensor");
            }
        }
        return 0;
    }

    private const int GraphInitializer = 5, GraphInput = 11, GraphOutput = 12, TensorDataType = 2;
    private const ulong Float16DataType = 10;

    /// <summary>Where each length-delimited field of a message lies (number, start, length); numbers and fixed-size fields are skipped.</summary>
    private static List<(int Field, int Start, int Length)> Fields(ReadOnlySpan<byte> data)
    {
        var fields = new List<(int, int, int)>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            switch (tag & 7)
            {
                case 0: ReadVarint(data, ref pos); break;
                case 1: Skip(data, ref pos, 8); break;
                case 5: Skip(data, ref pos, 4); break;
                case 2:
                    ulong length = ReadVarint(data, ref pos);
                    if (length > (ulong)(data.Length - pos)) throw new FormatException($"a field at byte {pos} runs past the end of the data");
                    fields.Add(((int)Math.Min(tag >> 3, int.MaxValue), pos, (int)length));
                    pos += (int)length;
                    break;
                default: throw new FormatException($"wire type {tag & 7} at byte {pos}");
            }
        }
        return fields;
    }

    /// <summary>The next field's number and, for a length-delimited one, its length (its bytes follow); -1 for a number,
    /// which is skipped.</summary>
    private static (ulong Field, long Length) NextField(Stream file, long end)
    {
        ulong tag = ReadVarint(file);
        switch (tag & 7)
        {
            case 0: ReadVarint(file); return (tag >> 3, -1);
            case 1: file.Seek(8, SeekOrigin.Current); return (tag >> 3, -1);
            case 5: file.Seek(4, SeekOrigin.Current); return (tag >> 3, -1);
            case 2:
                ulong length = ReadVarint(file);
                if (length > (ulong)(end - file.Position)) throw new FormatException("a field runs past the end of the file");
                return (tag >> 3, (long)length);
            default: throw new FormatException($"wire type {tag & 7}");
        }
    }

    private static byte[] ReadBytes(Stream file, long length)
    {
        var bytes = new byte[length];
        file.ReadExactly(bytes);
        return bytes;
    }

    private static ulong ReadVarint(Stream stream)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            int b = stream.ReadByte();
            if (b < 0) throw new FormatException("truncated varint");
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("varint longer than 10 bytes");
    }

    private static void ReadMessage(ReadOnlySpan<byte> data, Message kind, int depth, List<(string, string)> locations)
    {
        if (depth > MaxDepth)
            throw new FormatException($"nested more than {MaxDepth} levels deep");
        string tensorName = "", location = "";
        bool external = false;
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            int field = (int)Math.Min(tag >> 3, int.MaxValue);
            int wireType = (int)(tag & 7);
            if (field == 0) throw new FormatException($"field number 0 at byte {pos}");
            switch (wireType)
            {
                case 0:
                    ulong value = ReadVarint(data, ref pos);
                    if (kind == Message.Tensor && field == TensorDataLocation && value == 1) external = true;
                    break;
                case 1: Skip(data, ref pos, 8); break;
                case 5: Skip(data, ref pos, 4); break;
                case 2:
                    ulong length = ReadVarint(data, ref pos);
                    if (length > (ulong)(data.Length - pos)) throw new FormatException($"a field at byte {pos} runs past the end of the data");
                    var payload = data.Slice(pos, (int)length);
                    pos += (int)length;
                    if (kind == Message.Tensor && field == TensorName)
                        tensorName = Encoding.UTF8.GetString(payload);
                    else if (kind == Message.Tensor && field == TensorExternalData)
                    {
                        external = true;
                        var (key, val) = ReadEntry(payload);
                        if (key == "location") location = val;
                    }
                    else if (Child(kind, field) is Message child)
                        ReadMessage(payload, child, depth + 1, locations);
                    break;
                default:
                    throw new FormatException($"wire type {wireType} at byte {pos}");
            }
        }
        if (external) locations.Add((tensorName, location));
    }

    private static (string Key, string Value) ReadEntry(ReadOnlySpan<byte> data)
    {
        var fields = ReadStrings(data, "a key/value entry");
        return (fields.GetValueOrDefault((ulong)EntryKey, ""), fields.GetValueOrDefault((ulong)EntryValue, ""));
    }

    /// <summary>A small message's length-delimited fields as text, by field number (the last of a repeated one).</summary>
    private static Dictionary<ulong, string> ReadStrings(ReadOnlySpan<byte> data, string what)
    {
        var fields = new Dictionary<ulong, string>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            int wireType = (int)(tag & 7);
            if (wireType == 0) { ReadVarint(data, ref pos); continue; }
            if (wireType == 1) { Skip(data, ref pos, 8); continue; }
            if (wireType == 5) { Skip(data, ref pos, 4); continue; }
            if (wireType != 2) throw new FormatException($"wire type {wireType} in {what}");
            ulong length = ReadVarint(data, ref pos);
            if (length > (ulong)(data.Length - pos)) throw new FormatException($"{what} runs past its end");
            fields[tag >> 3] = Encoding.UTF8.GetString(data.Slice(pos, (int)length));
            pos += (int)length;
        }
        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= data.Length) throw new FormatException("data ends inside a number");
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException($"a number longer than 10 bytes at byte {pos}");
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int pos, int count)
    {
        if (data.Length - pos < count) throw new FormatException("data ends inside a fixed-size field");
        pos += count;
    }
}
