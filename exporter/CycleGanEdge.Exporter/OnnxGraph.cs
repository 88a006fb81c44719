using System.Runtime.InteropServices;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;

namespace CycleGanEdge.Exporter;

/// <summary>
/// Appends nodes and initializers to an ONNX graph and hands out unique value names.
/// Knows nothing about TorchSharp; <see cref="GeneratorGraph"/> decides what to emit.
/// </summary>
internal sealed class OnnxGraph
{
    private int _counter;

    public GraphProto Proto { get; } = new();

    /// <summary>Adds one node with a single output and returns that output's name.</summary>
    public string Node(string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        string nodeName = $"{name}/{opType}_{_counter++}";
        string output = nodeName + ":0";
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Proto.Node.Add(node);
        return output;
    }

    public string Node(string opType, string name, string input, params AttributeProto[] attributes) =>
        Node(opType, name, [input], attributes);

    public string Cast(string input, TensorProto.Types.DataType to, string name) =>
        Node("Cast", name, input, Int("to", (long)to));

    public string FloatInitializer(string name, float[] values, long[] dims, bool asHalf)
    {
        var tensor = new TensorProto { Name = name };
        tensor.Dims.AddRange(dims);
        if (asHalf)
        {
            var halves = new Half[values.Length];
            for (int i = 0; i < values.Length; i++)
                halves[i] = (Half)values[i];
            tensor.DataType = (int)TensorProto.Types.DataType.Float16;
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(halves.AsSpan()));
        }
        else
        {
            tensor.DataType = (int)TensorProto.Types.DataType.Float;
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        }
        return AddInitializer(tensor);
    }

    public string Int64Initializer(string name, long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return AddInitializer(tensor);
    }

    /// <summary>A float32 scalar constant (shape []), for the uint8 pre/post-processing arithmetic.</summary>
    public string ScalarInitializer(string name, float value) => FloatInitializer(name, [value], [], asHalf: false);

    private string AddInitializer(TensorProto tensor)
    {
        if (Proto.Initializer.Any(t => t.Name == tensor.Name))
            tensor.Name = $"{tensor.Name}_{_counter++}";
        Proto.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Renames the value <paramref name="from"/> to <paramref name="to"/> everywhere (used for the graph output).</summary>
    public void Rename(string from, string to)
    {
        foreach (var node in Proto.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == from) node.Input[i] = to;
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == from) node.Output[i] = to;
        }
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A 4-D tensor value description with the given element type and dims (a string dim is dynamic).</summary>
    public static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(dim is string param
                ? new TensorShapeProto.Types.Dimension { DimParam = param }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
