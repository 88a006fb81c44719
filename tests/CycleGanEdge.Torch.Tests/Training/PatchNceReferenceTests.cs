using System.Runtime.CompilerServices;
using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>
/// PatchSampleF (mlp_sample), PatchNCELoss and the layer-averaged total against the CUT reference's own code run in
/// PyTorch (tests/fixtures/pytorch/make_patchnce_fixture.py wrote patchnce.pth): same MLP weights, same features,
/// the same patch positions, so every value and gradient must agree.
/// </summary>
public class PatchNceReferenceTests
{
    private const int NumPatches = 20, BatchSize = 2;
    private const double Temperature = 0.07, LambdaNce = 10.0;

    [Fact]
    public void Sampling_head_loss_and_gradients_match_the_reference()
    {
        using var scope = NewDisposeScope();
        var fixture = PyTorchCheckpoint.ReadStateDict(Fixture("patchnce.pth"));
        Tensor T(string key) => tensor(fixture[key].Data, fixture[key].Shape);

        var featK = new[] { T("feat_k.0"), T("feat_k.1") };
        var featQ = new[] { T("feat_q.0").requires_grad_(true), T("feat_q.1").requires_grad_(true) };
        using var head = new PatchSampleF([3, 5], nc: 8);
        using (no_grad())
            foreach (var (key, p) in head.named_parameters()) p.copy_(T(key));
        var ids = new List<long[]> { Ids(fixture["patch_ids.0"]), Ids(fixture["patch_ids.1"]) };
        Assert.Equal([20, 16], ids.Select(i => i.Length)); // 20 of 36 positions; all 16 of the smaller map

        var (poolK, usedIds) = head.Sample(featK, NumPatches, ids, random: null);
        var (poolQ, _) = head.Sample(featQ, NumPatches, usedIds, random: null);
        var total = PatchNceLoss.Total(poolQ, poolK, BatchSize, Temperature, LambdaNce);
        total.backward();

        for (int k = 0; k < 2; k++)
        {
            AssertClose(T($"pool_k.{k}"), poolK[k], 1e-5, $"pool_k.{k}");
            AssertClose(T($"pool_q.{k}"), poolQ[k], 1e-5, $"pool_q.{k}");
            AssertClose(T($"loss.{k}"), PatchNceLoss.Of(poolQ[k], poolK[k], BatchSize, Temperature), 1e-4, $"loss.{k}");
            AssertClose(T($"grad_feat_q.{k}"), featQ[k].grad!, 1e-5, $"grad_feat_q.{k}");
        }
        AssertClose(T("total"), total.reshape(1), 1e-4, "total");
        AssertClose(T("grad_mlp_0.0.weight"), head.named_parameters().Single(p => p.name == "mlp_0.0.weight").parameter.grad!, 1e-5, "grad mlp_0.0.weight");
    }

    [Fact]
    public void Drawn_positions_are_distinct_and_capped_at_the_map_size()
    {
        using var scope = NewDisposeScope();
        using var head = new PatchSampleF([2, 2], nc: 4);
        var feats = new[] { randn(1, 2, 6, 6), randn(1, 2, 3, 3) };
        var (pools, ids) = head.Sample(feats, 16, null, new Random(5));
        Assert.Equal([16, 9], ids.Select(i => i.Length));
        Assert.Equal(16, ids[0].Distinct().Count());
        Assert.All(ids[0], i => Assert.InRange(i, 0, 35));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), ids[1].Order());
        Assert.Equal([16L, 4L], pools[0].shape);
        // Rows are unit vectors.
        AssertClose(ones(16), pools[0].pow(2).sum(1), 1e-5, "row norms");
        // The same seed draws the same positions (resume depends on it); another seed others.
        Assert.Equal(ids[0], head.Sample(feats, 16, null, new Random(5)).PatchIds[0]);
        Assert.NotEqual(ids[0], head.Sample(feats, 16, null, new Random(6)).PatchIds[0]);
    }

    private static long[] Ids(StateTensor t) => t.Data.Select(v => (long)v).ToArray();

    private static void AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double worst = (expected - actual.detach()).abs().max().item<float>();
        double scale = expected.abs().max().item<float>();
        Assert.True(worst <= atol + 1e-5 * scale, $"{what}: largest difference {worst:g3} (values up to {scale:g3})");
    }

    private static string Fixture(string name, [CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "fixtures", "pytorch", name);
}
