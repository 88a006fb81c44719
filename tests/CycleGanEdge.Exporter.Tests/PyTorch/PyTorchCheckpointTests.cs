using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter.Tests.PyTorch;

/// <summary>Real checkpoints written by PyTorch 1.13 (tests/fixtures/pytorch/make_fixture.py).</summary>
public class PyTorchCheckpointTests
{
    static readonly GeneratorOptions FixtureOptions = new() { Arch = "resnet_6blocks", Ngf = 4, Norm = "instance" };

    [Fact]
    public void ReferenceCheckpoint_LoadedIntoOurGenerator_GivesPyTorchsOutput()
    {
        var stateDict = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth"));

        float[] output = RunGenerator(stateDict);

        float[] expected = Fixtures.ReadFloats("resnet_6blocks_ngf4.output.f32");
        Assert.Equal(expected.Length, output.Length);
        float maxDiff = expected.Zip(output, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-4f, $"max |ours - PyTorch| = {maxDiff}");
        // The output is not trivially flat: the comparison above means something.
        Assert.True(expected.Max() - expected.Min() > 0.1f);
    }

    [Fact]
    public void ReferenceCheckpoint_HasTheReferenceKeysShapesAndDtypes()
    {
        var stateDict = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth"));

        // resnet_6blocks with instance norm: 3 convs in, 6 blocks x 2 convs, 2 transposed convs, last conv; all with bias.
        Assert.Equal(2 * (3 + 12 + 2 + 1), stateDict.Count);
        Assert.Equal("model.1.weight", stateDict.Keys.First());
        Assert.Equal([4L, 3, 7, 7], stateDict["model.1.weight"].Shape);
        Assert.Equal([16L, 16, 3, 3], stateDict["model.15.conv_block.5.weight"].Shape);
        Assert.Equal([8L, 4, 3, 3], stateDict["model.19.weight"].Shape); // ConvTranspose2d: in, out, k, k
        Assert.Equal([3L], stateDict["model.23.bias"].Shape);
        Assert.All(stateDict.Values, t => Assert.Equal("float32", t.DType));
        Assert.All(stateDict.Values, t => Assert.Equal(t.Shape.Aggregate(1L, (a, b) => a * b), t.Data.LongLength));
    }

    [Fact]
    public void Pre16StreamFormat_ReadsTheSameStateDict()
    {
        var zipFormat = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth"));

        var legacyFormat = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4_legacy_format.pth"));

        Assert.Equal(zipFormat.Keys, legacyFormat.Keys);
        foreach (var (key, tensor) in zipFormat)
        {
            Assert.Equal(tensor.Shape, legacyFormat[key].Shape);
            Assert.Equal(tensor.Data, legacyFormat[key].Data);
        }
        float[] expected = Fixtures.ReadFloats("resnet_6blocks_ngf4.output.f32");
        Assert.True(expected.Zip(RunGenerator(legacyFormat), (a, b) => Math.Abs(a - b)).Max() <= 1e-4f);
    }

    [Fact]
    public void LegacyInstanceNormKeys_AreDroppedOnLoad_AsTheReferenceDoes()
    {
        var stateDict = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4_legacy_norm.pth"));
        Assert.Contains("model.2.running_mean", stateDict.Keys);
        Assert.Contains("model.10.conv_block.6.num_batches_tracked", stateDict.Keys);
        Assert.Equal("int64", stateDict["model.2.num_batches_tracked"].DType);
        Assert.Equal([], stateDict["model.2.num_batches_tracked"].Shape);

        float[] output = RunGenerator(stateDict);

        float[] expected = Fixtures.ReadFloats("resnet_6blocks_ngf4.output.f32");
        Assert.True(expected.Zip(output, (a, b) => Math.Abs(a - b)).Max() <= 1e-4f);
    }

    [Fact]
    public void TrainingCheckpointDict_YieldsItsStateDict_WithoutTheDataParallelPrefix()
    {
        var plain = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth"));

        var fromFull = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4_full.pth"));

        Assert.Equal(plain.Keys, fromFull.Keys);
        foreach (var (key, tensor) in plain)
        {
            Assert.Equal(tensor.Shape, fromFull[key].Shape);
            Assert.Equal(tensor.Data, fromFull[key].Data);
        }
    }

    [Fact]
    public void ViewsAndDtypes_AreReadWithTheirOffsetsAndStrides()
    {
        static float Base(int i, int j) => (6 * i + j) * 0.5f - 3;

        var views = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("views.pth"));

        AssertTensor(views["contiguous"], "float32", [4, 6], (r, c) => Base(r, c));
        AssertTensor(views["transposed"], "float32", [6, 4], (r, c) => Base(c, r));
        AssertTensor(views["slice"], "float32", [2, 3], (r, c) => Base(1 + r, 2 + c));
        AssertTensor(views["strided"], "float32", [2, 2], (r, c) => Base(2 * r, 3 * c));
        AssertTensor(views["half"], "float16", [4, 6], (r, c) => Base(r, c));
        AssertTensor(views["bfloat16"], "bfloat16", [4, 6], (r, c) => Base(r, c));
        AssertTensor(views["double"], "float64", [4, 6], (r, c) => Base(r, c));
        AssertTensor(views["long"], "int64", [4, 6], (r, c) => MathF.Truncate(2 * Base(r, c)));
        Assert.Equal(Enumerable.Range(0, 6).Select(j => Base(2, j)), views["row"].Data);
        Assert.Equal([6L], views["row"].Shape);
        Assert.Equal([], views["scalar"].Shape);
        Assert.Equal([7.25f], views["scalar"].Data);
        Assert.Equal([0L, 3], views["empty"].Shape);
        Assert.Empty(views["empty"].Data);
    }

    [Fact]
    public void StrictLoad_ListsEveryProblem_AndCopiesNothing()
    {
        var stateDict = PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth"));
        random.manual_seed(3);
        // resnet_9blocks ngf 8: every shape differs, blocks 16-18 are missing and 16/19/23 become unexpected.
        using var generator = NetworkFactory.CreateGenerator(FixtureOptions with { Arch = "resnet_9blocks", Ngf = 8 });
        var before = generator.state_dict()["model.1.weight"].clone();

        var error = Assert.Throws<InvalidDataException>(() => StateDictLoader.LoadInto(generator, stateDict, "latest_net_G_A.pth"));

        Assert.StartsWith("latest_net_G_A.pth: ", error.Message);
        Assert.Contains("16 missing keys (model.16.conv_block.1.weight, model.16.conv_block.1.bias, ", error.Message);
        Assert.Contains("4 unexpected keys (model.16.weight, model.16.bias, model.23.weight, model.23.bias)", error.Message);
        Assert.Contains("model.1.weight: checkpoint [4, 3, 7, 7], model [8, 3, 7, 7]", error.Message);
        Assert.True(generator.state_dict()["model.1.weight"].eq(before).all().item<bool>(), "a failed load must not change the network");
    }

    [Fact]
    public void StrictLoad_ReportsAMissingKey()
    {
        var stateDict = new Dictionary<string, StateTensor>(PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4.pth")));
        stateDict.Remove("model.4.bias");
        using var generator = NetworkFactory.CreateGenerator(FixtureOptions);

        var error = Assert.Throws<InvalidDataException>(() => StateDictLoader.LoadInto(generator, stateDict, "g.pth"));

        Assert.Equal("g.pth: does not fit the ResnetGenerator network: 1 missing keys (model.4.bias)", error.Message);
    }

    [Fact]
    public void BatchNormBuffers_AreLoaded_IncludingInt64NumBatchesTracked()
    {
        // Our batch-norm generator's own state, written as a checkpoint by our test writer, must round-trip.
        random.manual_seed(5);
        using var source = NetworkFactory.CreateGenerator(FixtureOptions with { Norm = "batch" });
        var state = source.state_dict();
        using (no_grad())
            foreach (var (key, tensor) in state.Where(kv => kv.Key.EndsWith("running_mean") || kv.Key.EndsWith("num_batches_tracked")))
                tensor.add_(3);
        var stateDict = state.ToDictionary(kv => kv.Key, kv => new StateTensor(
            kv.Value.dtype == ScalarType.Int64 ? "int64" : "float32", kv.Value.shape, kv.Value.to_type(ScalarType.Float32).data<float>().ToArray()));
        using var target = NetworkFactory.CreateGenerator(FixtureOptions with { Norm = "batch" });

        StateDictLoader.LoadInto(target, stateDict);

        foreach (var (key, tensor) in target.state_dict())
            Assert.True(tensor.eq(state[key]).all().item<bool>(), key);
        Assert.Equal(3L, target.state_dict()["model.2.num_batches_tracked"].item<long>());
    }

    [Fact]
    public void MissingFile_IsAnInvalidDataExceptionNamingIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.pth");

        var error = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.ReadStateDict(path));

        Assert.StartsWith($"{path}: cannot open: ", error.Message);
    }

    static float[] RunGenerator(IReadOnlyDictionary<string, StateTensor> stateDict)
    {
        random.manual_seed(1); // any initial weights: all of them are overwritten
        using var generator = NetworkFactory.CreateGenerator(FixtureOptions);
        StateDictLoader.LoadInto(generator, stateDict, "fixture");
        generator.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var input = tensor(Fixtures.ReadFloats("resnet_6blocks_ngf4.input.f32"), [1, 3, 32, 32]);
        return generator.forward(input).data<float>().ToArray();
    }

    static void AssertTensor(StateTensor tensor, string dtype, long[] shape, Func<int, int, float> expected)
    {
        Assert.Equal(dtype, tensor.DType);
        Assert.Equal(shape, tensor.Shape);
        for (int r = 0; r < shape[0]; r++)
            for (int c = 0; c < shape[1]; c++)
                Assert.Equal(expected(r, c), tensor.Data[r * shape[1] + c]);
    }
}
