using TorchSharp;

namespace CycleGanEdge.Exporter.PyTorch;

/// <summary>Copies a state_dict read by <see cref="PyTorchCheckpoint"/> into a TorchSharp module, strictly.</summary>
public static class StateDictLoader
{
    const int MaxListed = 10;

    /// <summary>
    /// Copies every tensor into the module's parameter or buffer of the same key (module fields follow the
    /// reference's state_dict names). Like the reference's load_networks, InstanceNorm entries that old
    /// checkpoints carry (running_mean/running_var where the layer tracks no statistics, num_batches_tracked)
    /// are dropped first. Then missing keys, unexpected keys and shape mismatches are all reported in one
    /// InvalidDataException ("&lt;source&gt;: ..."), and nothing is copied unless everything matches.
    /// </summary>
    public static void LoadInto(torch.nn.Module module, IReadOnlyDictionary<string, StateTensor> stateDict, string source = "state_dict")
    {
        var targets = module.state_dict();
        var instanceNorms = module.named_modules()
            .Where(m => m.module.GetType().Name.StartsWith("InstanceNorm", StringComparison.Ordinal))
            .Select(m => m.name)
            .ToHashSet();

        var missing = new List<string>();
        var unexpected = new List<string>();
        var mismatched = new List<string>();
        var toCopy = new List<(torch.Tensor Target, StateTensor Source)>();

        foreach (var (key, tensor) in stateDict)
        {
            if (IsLegacyInstanceNormKey(key, instanceNorms, targets))
                continue;
            if (tensor.Shape.Any(d => d < 0) || tensor.Data.LongLength != tensor.Shape.Aggregate(1L, (a, b) => a * b))
                throw new InvalidDataException($"{source}: entry '{key}' has {tensor.Data.LongLength} values for shape [{string.Join(", ", tensor.Shape)}]");
            if (!targets.TryGetValue(key, out var target))
                unexpected.Add(key);
            else if (!target.shape.SequenceEqual(tensor.Shape))
                mismatched.Add($"{key}: checkpoint [{string.Join(", ", tensor.Shape)}], model [{string.Join(", ", target.shape)}]");
            else
                toCopy.Add((target, tensor));
        }
        foreach (var key in targets.Keys)
        {
            // An InstanceNorm's num_batches_tracked is never used when normalising: keep the module's own.
            if (!stateDict.ContainsKey(key) && !(Leaf(key, out var owner) == "num_batches_tracked" && instanceNorms.Contains(owner)))
                missing.Add(key);
        }

        if (missing.Count + unexpected.Count + mismatched.Count > 0)
        {
            var problems = new List<string>();
            AddProblem(problems, "missing keys", missing);
            AddProblem(problems, "unexpected keys", unexpected);
            AddProblem(problems, "shape mismatches", mismatched);
            throw new InvalidDataException($"{source}: does not fit the {module.GetName()} network: {string.Join("; ", problems)}");
        }

        using var noGrad = torch.no_grad();
        foreach (var (target, weights) in toCopy)
        {
            using var values = torch.tensor(weights.Data, weights.Shape);
            target.copy_(values); // converts to the target's dtype and device
        }
    }

    /// <summary>Mirrors the reference's __patch_instance_norm_state_dict: pre-0.4 InstanceNorm buffers.</summary>
    static bool IsLegacyInstanceNormKey(string key, HashSet<string> instanceNorms, Dictionary<string, torch.Tensor> targets)
    {
        string leaf = Leaf(key, out var owner);
        if (!instanceNorms.Contains(owner))
            return false;
        return leaf == "num_batches_tracked"
            || (leaf is "running_mean" or "running_var" && !targets.ContainsKey(key));
    }

    static string Leaf(string key, out string owner)
    {
        int dot = key.LastIndexOf('.');
        owner = dot < 0 ? "" : key[..dot];
        return key[(dot + 1)..];
    }

    static void AddProblem(List<string> problems, string what, List<string> keys)
    {
        if (keys.Count == 0)
            return;
        string listed = string.Join(", ", keys.Take(MaxListed));
        string more = keys.Count > MaxListed ? $" and {keys.Count - MaxListed} more" : "";
        problems.Add($"{keys.Count} {what} ({listed}{more})");
    }
}
