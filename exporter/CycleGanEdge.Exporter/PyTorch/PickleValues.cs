namespace CycleGanEdge.Exporter.PyTorch;

// The only values the restricted unpickler builds: Python primitives map to string, long, double, bool,
// null and byte[]; these records stand for containers and for the few allowed PyTorch globals.
// Nothing here can run code: a "call" (REDUCE) only ever turns arguments into one of these records.

/// <summary>A container; Depth is its nesting depth as built, bounded by <see cref="PickleLimits.MaxDepth"/>.</summary>
internal abstract class PickleContainer
{
    public int Depth { get; private set; } = 1;

    protected void Contains(object? child)
    {
        if (child is PickleContainer c && c.Depth + 1 > Depth)
        {
            Depth = c.Depth + 1;
            if (Depth > PickleLimits.MaxDepth)
                throw new InvalidDataException($"pickle nests containers deeper than {PickleLimits.MaxDepth} levels");
        }
    }
}

internal sealed class PickleTuple : PickleContainer
{
    public PickleTuple(object?[] items)
    {
        Items = items;
        foreach (var item in items)
            Contains(item);
    }

    public object?[] Items { get; }
}

internal sealed class PickleList : PickleContainer
{
    public List<object?> Items { get; } = [];

    public void Add(object? item)
    {
        Contains(item);
        Items.Add(item);
    }
}

/// <summary>dict and collections.OrderedDict; keys are strings or integers (all a checkpoint needs).</summary>
internal sealed class PickleDict : PickleContainer
{
    public OrderedDictionary<object, object?> Items { get; } = [];

    public void Set(object? key, object? value)
    {
        if (key is not (string or long or bool))
            throw new InvalidDataException($"pickle uses a dict key of type {PickleValues.TypeName(key)}; only str and int keys are supported");
        Contains(value);
        Items[key] = value;
    }
}

/// <summary>An allowed global (module.name) pushed by GLOBAL/STACK_GLOBAL.</summary>
internal sealed record PickleGlobal(string Module, string Name, PickleGlobalKind Kind, StorageDType? StorageType = null)
{
    public override string ToString() => $"{Module}.{Name}";
}

internal enum PickleGlobalKind { OrderedDict, RebuildTensor, RebuildParameter, StorageType, CodecsEncode }

/// <summary>Element types of PyTorch storages this reader converts.</summary>
internal enum StorageDType { Float32, Float16, BFloat16, Float64, Int64 }

/// <summary>A storage record (data/&lt;Key&gt; in the zip), already checked against that entry's length.</summary>
internal sealed record StorageRef(string Key, StorageDType DType, long Numel);

/// <summary>A tensor view of a storage, already checked to stay inside it; its data is read only if used.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Shape, long[] Stride)
{
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);
}

internal static class PickleValues
{
    public static string TypeName(object? value) => value switch
    {
        null => "None",
        string => "str",
        long => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        PickleTuple => "tuple",
        PickleList => "list",
        PickleDict => "dict",
        PickleGlobal g => g.ToString(),
        StorageRef => "storage",
        TensorRef => "tensor",
        _ => value.GetType().Name,
    };

    public static int ElementSize(this StorageDType dtype) => dtype switch
    {
        StorageDType.Float16 or StorageDType.BFloat16 => 2,
        StorageDType.Float32 => 4,
        _ => 8,
    };

    public static string Name(this StorageDType dtype) => dtype switch
    {
        StorageDType.Float32 => "float32",
        StorageDType.Float16 => "float16",
        StorageDType.BFloat16 => "bfloat16",
        StorageDType.Float64 => "float64",
        _ => "int64",
    };
}

/// <summary>Bounds on what a checkpoint may make the reader do; far above any real CycleGAN checkpoint.</summary>
internal static class PickleLimits
{
    public const int MaxPickleBytes = 32 << 20;
    public const int MaxStringBytes = 1 << 20;
    public const int MaxDepth = 64;
    public const int MaxMemoEntries = 1_000_000;
    /// <summary>Budget of stack pushes plus container insertions: bounds memory to a few hundred MB at worst.</summary>
    public const int MaxObjects = 4_000_000;
    public const int MaxTensors = 100_000;
    public const int MaxDims = 16;
}
