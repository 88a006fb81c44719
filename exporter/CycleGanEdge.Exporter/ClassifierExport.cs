using System.Globalization;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Torch.Evaluation;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;
using DataType = CycleGanEdge.Core.Onnx.TensorProto.Types.DataType;

namespace CycleGanEdge.Exporter;

/// <summary>
/// Writes a <see cref="DomainClassifierNet"/> as a self-describing ONNX model (the "Domain classifier models"
/// section of docs/onnx-contract.md) and checks it against TorchSharp.
/// </summary>
public static class ClassifierExport
{
    /// <summary>Largest |ONNX - TorchSharp| logit difference accepted by <see cref="CheckParity"/>.</summary>
    public const double ParityTolerance = 1e-4;

    /// <param name="labels">Domain names in logit order (A, B).</param>
    public static byte[] ToBytes(DomainClassifierNet net, int imageSize, IReadOnlyList<string> labels, int opset = 17)
    {
        if (labels.Count != 2 || labels.Any(l => l.Length == 0 || l.Contains(',')) || labels[0] == labels[1])
            throw new ExportException("a classifier needs two different domain names without commas");
        OnnxExport.Validate(new ExportOptions { Opset = opset });
        net.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();

        var graph = new OnnxGraph();
        graph.Proto.Name = "cyclegan_domain_classifier";
        graph.Proto.Input.Add(OnnxGraph.TensorValue(ModelContract.InputName, DataType.Float, "batch", 3, imageSize, imageSize));
        string x = ModelContract.InputName;
        int i = 1;
        foreach (var conv in net.Convolutions)
        {
            string name = $"conv{i++}";
            x = graph.Node("Conv", name,
                [x, Weights(graph, $"{name}.weight", conv.weight!), Weights(graph, $"{name}.bias", conv.bias!)],
                OnnxGraph.Ints("kernel_shape", [4, 4]), OnnxGraph.Ints("strides", [2, 2]), OnnxGraph.Ints("pads", [1, 1, 1, 1]));
            x = graph.Node("LeakyRelu", name, x, OnnxGraph.Float("alpha", (float)DomainClassifierNet.Slope));
        }
        x = graph.Node("GlobalAveragePool", "pool", x);
        x = graph.Node("Flatten", "pool", x, OnnxGraph.Int("axis", 1));
        x = graph.Node("Gemm", "fc", [x, Weights(graph, "fc.weight", net.Head.weight!), Weights(graph, "fc.bias", net.Head.bias!)], OnnxGraph.Int("transB", 1));
        graph.Rename(x, ModelContract.ClassifierOutputName);
        graph.Proto.Output.Add(OnnxGraph.TensorValue(ModelContract.ClassifierOutputName, DataType.Float, "batch", 2));

        var model = new ModelProto
        {
            IrVersion = OnnxExport.IrVersionFor(opset),
            ProducerName = "cyclegan-train classifier",
            ProducerVersion = OnnxExport.ExporterVersion,
            Graph = graph.Proto,
            DocString = $"Domain classifier: logit 0 = {labels[0]} (A), logit 1 = {labels[1]} (B)",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        var values = new Dictionary<string, string>
        {
            [ModelContract.ClassifierVersionKey] = ModelContract.ClassifierVersion.ToString(CultureInfo.InvariantCulture),
            [ModelContract.ClassifierLabelsKey] = $"{labels[0]},{labels[1]}",
            [ModelContract.ClassifierImageSizeKey] = imageSize.ToString(CultureInfo.InvariantCulture),
            [ModelContract.ClassifierPixelRangeKey] = "-1,1",
        };
        foreach (string key in ModelContract.ClassifierKeys)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = values[key] });
        return model.ToByteArray();
    }

    /// <summary>Largest |logit| difference between ONNX Runtime and TorchSharp on <paramref name="inputs"/> [N, 3, S, S].</summary>
    public static double CheckParity(DomainClassifierNet net, byte[] onnx, Tensor inputs)
    {
        net.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        float[] expected = net.forward(inputs).contiguous().data<float>().ToArray();
        float[] data = inputs.contiguous().data<float>().ToArray();
        using var session = SessionFactory.CreateInMemory(onnx, "the exported classifier");
        using var input = OrtValue.CreateTensorValueFromMemory(data, inputs.shape);
        using var run = new RunOptions();
        using var outputs = session.Run(run, [ModelContract.InputName], [input], [ModelContract.ClassifierOutputName]);
        var actual = outputs[0].GetTensorDataAsSpan<float>();
        if (actual.Length != expected.Length) throw new ExportException($"classifier parity: ONNX gave {actual.Length} logits, TorchSharp {expected.Length}");
        double max = 0;
        for (int k = 0; k < expected.Length; k++) max = Math.Max(max, Math.Abs(actual[k] - expected[k]));
        return max;
    }

    private static string Weights(OnnxGraph graph, string name, Tensor t) =>
        graph.FloatInitializer(name, t.detach().cpu().contiguous().data<float>().ToArray(), t.shape, asHalf: false);
}
