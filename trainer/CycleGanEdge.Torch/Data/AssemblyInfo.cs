using System.Runtime.CompilerServices;

// The data tests check internal counters (prefetch bound) and the resampler directly.
[assembly: InternalsVisibleTo("CycleGanEdge.Torch.Tests")]
