using Xunit;

// Every test project drives TorchSharp (the runtime tests build their generators with it), and TorchSharp is not
// safe to run from parallel test classes:
// - libtorch has one global random generator; tests seed it and the trainer reseeds it every step;
// - TorchSharp 0.107 passes implicitly converted Scalars (such as the `1` in BatchNorm's num_batches_tracked.add_(1))
//   to native code without keeping them alive, so a garbage collection started by another test thread can
//   finalize one mid-call ("Unknown scalar type", seen once in CI). Upstream: dotnet/TorchSharp PRs 1434 and 1496.
// One test at a time leaves no other thread to start that collection. The test projects still run side by side.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
