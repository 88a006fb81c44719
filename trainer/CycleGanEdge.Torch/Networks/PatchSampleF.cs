using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Torch.Networks;

/// <summary>
/// The CUT reference's PatchSampleF with use_mlp (netF mlp_sample, models/networks.py): for each feature map,
/// the same patch positions for every image of the batch, each patch's feature vector through that layer's
/// MLP (mlp_&lt;k&gt;: Linear(C, nc), ReLU, Linear(nc, nc)), then L2-normalised (x / (||x|| + 1e-7)).
/// The reference builds the MLPs at the first forward from the feature shapes; here the channel counts are
/// passed in (<see cref="Training.CutModel"/> measures them once), so the state_dict exists before any batch.
/// </summary>
public sealed class PatchSampleF : Module
{
    private readonly List<Sequential> _mlps = [];

    public PatchSampleF(IReadOnlyList<int> channels, int nc) : base(nameof(PatchSampleF))
    {
        ArgumentNullException.ThrowIfNull(channels);
        for (int k = 0; k < channels.Count; k++)
        {
            var mlp = Sequential(Linear(channels[k], nc), ReLU(), Linear(nc, nc));
            _mlps.Add(mlp);
            register_module($"mlp_{k}", mlp);
        }
    }

    /// <summary>
    /// Samples <paramref name="numPatches"/> positions per feature map (all when the map is smaller): given
    /// <paramref name="patchIds"/> (the ones returned for the source features) or drawn with <paramref name="random"/>
    /// as the first entries of a random permutation. Returns [B * patches, nc] per layer and the positions used.
    /// </summary>
    public (List<Tensor> Features, List<long[]> PatchIds) Sample(IReadOnlyList<Tensor> feats, int numPatches, IReadOnlyList<long[]>? patchIds, Random? random)
    {
        ArgumentNullException.ThrowIfNull(feats);
        if (feats.Count != _mlps.Count) throw new ArgumentException($"{feats.Count} feature maps for {_mlps.Count} MLPs", nameof(feats));
        var result = new List<Tensor>(feats.Count);
        var ids = new List<long[]>(feats.Count);
        for (int k = 0; k < feats.Count; k++)
        {
            var feat = feats[k];
            long positions = feat.shape[2] * feat.shape[3];
            var reshaped = feat.permute(0, 2, 3, 1).flatten(1, 2);
            long[] id = patchIds?[k] ?? Permutation(positions, Math.Min(numPatches, positions), random ?? throw new ArgumentNullException(nameof(random)));
            using var index = tensor(id, dtype: ScalarType.Int64, device: feat.device);
            var sample = reshaped.index_select(1, index).flatten(0, 1);
            sample = _mlps[k].call(sample);
            result.Add(L2Normalize(sample));
            ids.Add(id);
        }
        return (result, ids);
    }

    /// <summary>The reference's Normalize(2): x / (||x||_2 + 1e-7) over dim 1.</summary>
    public static Tensor L2Normalize(Tensor x) => x.div(x.pow(2).sum(1, keepdim: true).pow(0.5) + 1e-7);

    /// <summary>The first <paramref name="count"/> entries of a uniform permutation of 0 .. n-1 (Fisher-Yates).</summary>
    public static long[] Permutation(long n, long count, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var all = new long[n];
        for (long i = 0; i < n; i++) all[i] = i;
        for (long i = 0; i < count; i++)
        {
            long j = i + random.NextInt64(n - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all[..(int)count];
    }
}
