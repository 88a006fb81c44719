using System.Buffers.Binary;
using System.Text;

namespace CycleGanEdge.Exporter.PyTorch;

/// <summary>
/// Reads the pickles of a PyTorch checkpoint (data.pkl, or those of the pre-1.6 stream) without Python and without running anything:
/// only the opcodes a state_dict uses are known, only an allowlist of globals may be named, and a
/// "call" (REDUCE) of an allowed global just builds one of our own records (<see cref="PickleValues"/>).
/// Every count and size is bounded (<see cref="PickleLimits"/>). Errors are InvalidDataException.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>Resolves a persistent id ('storage', type, key, location, numel) to a checked storage.</summary>
    public delegate StorageRef StorageResolver(string key, StorageDType dtype, long numel);

    static readonly Dictionary<(string Module, string Name), PickleGlobal> AllowedGlobals = BuildAllowedGlobals();

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    readonly byte[] _data;
    readonly int _end; // reading stops here: at most MaxPickleBytes are read
    readonly StorageResolver _resolveStorage;
    readonly Dictionary<long, object?> _memo = [];
    readonly Stack<List<object?>> _metastack = new();
    List<object?> _stack = [];
    int _pos;
    int _objects;
    int _tensors;

    RestrictedUnpickler(byte[] data, int start, StorageResolver resolveStorage)
    {
        _data = data;
        _pos = start;
        _end = (int)Math.Min(data.Length, (long)start + PickleLimits.MaxPickleBytes);
        _resolveStorage = resolveStorage;
    }

    /// <summary>Reads one pickle starting at <paramref name="start"/>; <paramref name="end"/> is just past its STOP.</summary>
    public static object? Load(byte[] data, int start, out int end, StorageResolver resolveStorage)
    {
        var unpickler = new RestrictedUnpickler(data, start, resolveStorage);
        var result = unpickler.Run();
        end = unpickler._pos;
        return result;
    }

    object? Run()
    {
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    byte proto = ReadByte();
                    if (proto is < 2 or > 5)
                        throw new InvalidDataException($"unsupported pickle protocol {proto}");
                    break;
                case 0x95: // FRAME: a length hint only; the data follows inline
                    long frame = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
                    if (frame < 0 || frame > _end - _pos)
                        throw new InvalidDataException($"pickle frame at offset {at} is longer than the data");
                    break;
                case (byte)'.': // STOP
                    if (_metastack.Count != 0 || _stack.Count != 1)
                        throw new InvalidDataException("pickle stops with an unbalanced stack");
                    return _stack[0];
                case (byte)'(': // MARK
                    if (_metastack.Count >= PickleLimits.MaxDepth)
                        throw new InvalidDataException($"pickle nests MARKs deeper than {PickleLimits.MaxDepth} levels");
                    _metastack.Push(_stack);
                    _stack = [];
                    break;
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)']': Push(new PickleList()); break; // EMPTY_LIST
                case (byte)')': Push(new PickleTuple([])); break; // EMPTY_TUPLE
                case (byte)'t': Push(new PickleTuple(PopMark().ToArray())); break; // TUPLE
                case 0x85: Push(new PickleTuple(PopN(1))); break; // TUPLE1
                case 0x86: Push(new PickleTuple(PopN(2))); break; // TUPLE2
                case 0x87: Push(new PickleTuple(PopN(3))); break; // TUPLE3
                case (byte)'l': // LIST
                    var list = new PickleList();
                    foreach (var item in PopMark())
                        AddToList(list, item);
                    Push(list);
                    break;
                case (byte)'d': // DICT
                    var dict = new PickleDict();
                    SetItems(dict, PopMark());
                    Push(dict);
                    break;
                case (byte)'X': Push(ReadString(ReadLength(4))); break; // BINUNICODE
                case 0x8c: Push(ReadString(ReadLength(1))); break; // SHORT_BINUNICODE
                case (byte)'B': Push(ReadBytes(ReadLength(4))); break; // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadLength(1))); break; // SHORT_BINBYTES
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(ReadLong1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'N': Push(null); break; // NONE
                case (byte)'s': // SETITEM
                    var value = Pop();
                    var key = Pop();
                    SetItems(Peek<PickleDict>("SETITEM"), [key, value]);
                    break;
                case (byte)'u': // SETITEMS
                    var pairs = PopMark();
                    SetItems(Peek<PickleDict>("SETITEMS"), pairs);
                    break;
                case (byte)'a': // APPEND
                    var appended = Pop();
                    AddToList(Peek<PickleList>("APPEND"), appended);
                    break;
                case (byte)'e': // APPENDS
                    var items = PopMark();
                    var target = Peek<PickleList>("APPENDS");
                    foreach (var item in items)
                        AddToList(target, item);
                    break;
                case (byte)'q': Memoize(ReadByte()); break; // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break; // LONG_BINPUT
                case 0x94: Memoize(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'c': // GLOBAL
                    string module = ReadLine();
                    Push(ResolveGlobal(module, ReadLine()));
                    break;
                case 0x93: // STACK_GLOBAL
                    var globalName = Pop();
                    var globalModule = Pop();
                    if (globalModule is not string m || globalName is not string n)
                        throw new InvalidDataException($"STACK_GLOBAL at offset {at} needs two strings");
                    Push(ResolveGlobal(m, n));
                    break;
                case (byte)'R': // REDUCE
                    var args = Pop();
                    var callable = Pop();
                    Push(Reduce(callable, args));
                    break;
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                case (byte)'b': // BUILD
                    // An OrderedDict state_dict carries its _metadata (layer versions) as state: not needed.
                    Pop();
                    if (Peek<object>("BUILD") is not PickleDict)
                        throw new InvalidDataException($"BUILD at offset {at} sets the state of a {PickleValues.TypeName(_stack[^1])}; only dicts are supported");
                    break;
                default:
                    throw new InvalidDataException($"unsupported pickle opcode 0x{op:x2} at offset {at}");
            }
        }
    }

    // ---- reading the byte stream ----

    byte ReadByte()
    {
        if (_pos >= _end)
            throw Truncated();
        return _data[_pos++];
    }

    ReadOnlySpan<byte> Take(int count)
    {
        if (count > _end - _pos)
            throw Truncated();
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    InvalidDataException Truncated() => _end < _data.Length
        ? new($"pickle is longer than the {PickleLimits.MaxPickleBytes} bytes allowed")
        : new($"pickle is truncated (ends at offset {_end} inside an instruction or before STOP)");

    int ReadLength(int width)
    {
        long length = width == 1 ? ReadByte() : BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        if (length > PickleLimits.MaxStringBytes)
            throw new InvalidDataException($"pickle declares a {length}-byte string, more than the {PickleLimits.MaxStringBytes} allowed");
        if (length > _end - _pos)
            throw Truncated();
        return (int)length;
    }

    string ReadString(int length)
    {
        try
        {
            return StrictUtf8.GetString(Take(length));
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"pickle string at offset {_pos - length} is not valid UTF-8");
        }
    }

    byte[] ReadBytes(int length) => Take(length).ToArray();

    long ReadLong1()
    {
        int n = ReadByte();
        if (n > 8)
            throw new InvalidDataException($"pickle integer of {n} bytes is too large");
        var bytes = Take(n);
        if (n == 0)
            return 0;
        long value = bytes[n - 1] >= 0x80 ? -1L : 0L; // sign-extend two's complement
        for (int i = n - 1; i >= 0; i--)
            value = (value << 8) | bytes[i];
        return value;
    }

    string ReadLine()
    {
        const int maxLine = 256;
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(maxLine, _end - _pos));
        if (end < 0)
            throw new InvalidDataException($"pickle GLOBAL name at offset {_pos} is unterminated or longer than {maxLine} bytes");
        var line = Take(end - _pos);
        _pos++; // the newline
        foreach (byte b in line)
        {
            if (b is < 0x20 or > 0x7e)
                throw new InvalidDataException($"pickle GLOBAL name at offset {_pos - line.Length - 1} is not printable ASCII");
        }
        return Encoding.ASCII.GetString(line);
    }

    // ---- the stack ----

    void Push(object? value)
    {
        if (++_objects > PickleLimits.MaxObjects)
            throw new InvalidDataException($"pickle builds more than {PickleLimits.MaxObjects} objects");
        _stack.Add(value);
    }

    object? Pop()
    {
        if (_stack.Count == 0)
            throw new InvalidDataException($"pickle stack underflow at offset {_pos - 1}");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    object?[] PopN(int n)
    {
        if (_stack.Count < n)
            throw new InvalidDataException($"pickle stack underflow at offset {_pos - 1}");
        var items = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    List<object?> PopMark()
    {
        if (_metastack.Count == 0)
            throw new InvalidDataException($"pickle instruction at offset {_pos - 1} needs a MARK that is not there");
        var items = _stack;
        _stack = _metastack.Pop();
        return items;
    }

    T Peek<T>(string opcode) where T : class
    {
        if (_stack.Count == 0)
            throw new InvalidDataException($"pickle stack underflow at offset {_pos - 1}");
        return _stack[^1] as T
            ?? throw new InvalidDataException($"{opcode} at offset {_pos - 1} applies to a {PickleValues.TypeName(_stack[^1])}");
    }

    void AddToList(PickleList list, object? item)
    {
        if (++_objects > PickleLimits.MaxObjects)
            throw new InvalidDataException($"pickle builds more than {PickleLimits.MaxObjects} objects");
        list.Add(item);
    }

    void SetItems(PickleDict dict, List<object?> keysAndValues)
    {
        if (keysAndValues.Count % 2 != 0)
            throw new InvalidDataException($"pickle dict at offset {_pos - 1} has a key without a value");
        for (int i = 0; i < keysAndValues.Count; i += 2)
        {
            if (++_objects > PickleLimits.MaxObjects)
                throw new InvalidDataException($"pickle builds more than {PickleLimits.MaxObjects} objects");
            dict.Set(keysAndValues[i], keysAndValues[i + 1]);
        }
    }

    void Memoize(long index)
    {
        if (_stack.Count == 0)
            throw new InvalidDataException($"pickle memoizes from an empty stack at offset {_pos - 1}");
        if (_memo.Count >= PickleLimits.MaxMemoEntries && !_memo.ContainsKey(index))
            throw new InvalidDataException($"pickle memo grows past {PickleLimits.MaxMemoEntries} entries");
        _memo[index] = _stack[^1];
    }

    object? Recall(long index) =>
        _memo.TryGetValue(index, out var value)
            ? value
            : throw new InvalidDataException($"pickle refers to memo entry {index}, which was never stored");

    // ---- globals, calls and persistent ids ----

    static PickleGlobal ResolveGlobal(string module, string name)
    {
        if (AllowedGlobals.TryGetValue((module, name), out var global))
            return global;
        // A whole pickled model names its own classes: say what to do instead.
        string hint = module == "__main__" || module.StartsWith("torch.nn.", StringComparison.Ordinal) || module.StartsWith("models.", StringComparison.Ordinal)
            ? "; this looks like a whole pickled model: save its weights with torch.save(net.state_dict(), path)"
            : "";
        throw new InvalidDataException(
            $"refused pickle global '{module}.{name}': a checkpoint may only name PyTorch tensor and storage types and collections.OrderedDict (anything else could run code when loaded in Python){hint}");
    }

    object? Reduce(object? callable, object? args)
    {
        if (callable is not PickleGlobal global)
            throw new InvalidDataException($"pickle calls a {PickleValues.TypeName(callable)}, which is not callable");
        if (args is not PickleTuple tuple)
            throw new InvalidDataException($"pickle calls {global} with {PickleValues.TypeName(args)} instead of an argument tuple");
        var a = tuple.Items;
        switch (global.Kind)
        {
            case PickleGlobalKind.OrderedDict when a.Length == 0:
                return new PickleDict();
            case PickleGlobalKind.RebuildTensor when a.Length is 4 or 6 or 7:
                // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]]);
                // the 4-argument form is PyTorch 0.3's _rebuild_tensor.
                if (++_tensors > PickleLimits.MaxTensors)
                    throw new InvalidDataException($"checkpoint has more than {PickleLimits.MaxTensors} tensors");
                return MakeTensor(a[0], a[1], a[2], a[3]);
            case PickleGlobalKind.RebuildParameter when a.Length == 3 && a[0] is TensorRef data:
                // (data, requires_grad, backward_hooks): a Parameter is its data tensor here
                return data;
            case PickleGlobalKind.CodecsEncode when a.Length == 2 && a[0] is string text && a[1] is "latin1" or "latin-1":
                // Protocol 2 writes Python bytes as _codecs.encode(str, 'latin1').
                var bytes = new byte[text.Length];
                for (int i = 0; i < bytes.Length; i++)
                    bytes[i] = text[i] <= 0xff ? (byte)text[i] : throw new InvalidDataException("pickle bytes value is not latin-1");
                return bytes;
            default:
                throw new InvalidDataException($"pickle calls {global} with unsupported arguments ({a.Length} of them)");
        }
    }

    static TensorRef MakeTensor(object? storage, object? offset, object? size, object? stride)
    {
        if (storage is not StorageRef s)
            throw new InvalidDataException($"tensor rebuilt from a {PickleValues.TypeName(storage)} instead of a storage");
        if (offset is not long off || off < 0)
            throw new InvalidDataException("tensor storage offset is not a non-negative integer");
        long[] shape = ToDims(size, "size");
        long[] strides = ToDims(stride, "stride");
        if (shape.Length != strides.Length)
            throw new InvalidDataException($"tensor has {shape.Length} sizes but {strides.Length} strides");

        // Checked arithmetic: a hostile shape must fail here, not wrap around or allocate.
        long numel = 1;
        long last = off;
        try
        {
            checked
            {
                foreach (long d in shape)
                    numel *= d;
                if (numel > 0)
                {
                    for (int i = 0; i < shape.Length; i++)
                        last += (shape[i] - 1) * strides[i];
                }
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"tensor shape [{string.Join(", ", shape)}] overflows");
        }
        if (numel > 0 && last >= s.Numel)
            throw new InvalidDataException(
                $"tensor view (offset {off}, shape [{string.Join(", ", shape)}], stride [{string.Join(", ", strides)}]) reaches past its storage of {s.Numel} elements");
        // Overlapping (e.g. expanded) views could make a tiny storage read as a huge tensor: not in state dicts.
        if (numel > s.Numel)
            throw new InvalidDataException($"tensor of shape [{string.Join(", ", shape)}] has more elements than its storage ({s.Numel})");
        return new TensorRef(s, off, shape, strides);
    }

    static long[] ToDims(object? value, string what)
    {
        if (value is not PickleTuple t)
            throw new InvalidDataException($"tensor {what} is a {PickleValues.TypeName(value)}, not a tuple");
        if (t.Items.Length > PickleLimits.MaxDims)
            throw new InvalidDataException($"tensor has {t.Items.Length} dimensions, more than {PickleLimits.MaxDims}");
        var dims = new long[t.Items.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = t.Items[i] is long d && d >= 0
                ? d
                : throw new InvalidDataException($"tensor {what} [{string.Join(", ", t.Items)}] is not a tuple of non-negative integers");
        }
        return dims;
    }

    StorageRef PersistentLoad(object? pid)
    {
        // ('storage', <storage type global>, key, location, numel), and in the legacy format a sixth item:
        // view metadata, None since PyTorch 0.4 (older storage views are not supported).
        if (pid is not PickleTuple { Items: ["storage", PickleGlobal { Kind: PickleGlobalKind.StorageType } type, string key, string, long numel, .. var rest] }
            || rest is not ([] or [null]))
            throw new InvalidDataException($"unsupported persistent id {PickleValues.TypeName(pid)}: only ('storage', type, key, location, numel) is known");
        if (numel < 0)
            throw new InvalidDataException($"storage '{key}' declares {numel} elements");
        return _resolveStorage(key, type.StorageType!.Value, numel);
    }

    static Dictionary<(string, string), PickleGlobal> BuildAllowedGlobals()
    {
        var globals = new Dictionary<(string, string), PickleGlobal>();
        void Add(string module, string name, PickleGlobalKind kind, StorageDType? dtype = null) =>
            globals[(module, name)] = new PickleGlobal(module, name, kind, dtype);

        Add("collections", "OrderedDict", PickleGlobalKind.OrderedDict);
        Add("torch._utils", "_rebuild_tensor", PickleGlobalKind.RebuildTensor);
        Add("torch._utils", "_rebuild_tensor_v2", PickleGlobalKind.RebuildTensor);
        Add("torch._utils", "_rebuild_parameter", PickleGlobalKind.RebuildParameter);
        Add("_codecs", "encode", PickleGlobalKind.CodecsEncode);
        Add("torch", "FloatStorage", PickleGlobalKind.StorageType, StorageDType.Float32);
        Add("torch", "HalfStorage", PickleGlobalKind.StorageType, StorageDType.Float16);
        Add("torch", "BFloat16Storage", PickleGlobalKind.StorageType, StorageDType.BFloat16);
        Add("torch", "DoubleStorage", PickleGlobalKind.StorageType, StorageDType.Float64);
        Add("torch", "LongStorage", PickleGlobalKind.StorageType, StorageDType.Int64);
        return globals;
    }
}
