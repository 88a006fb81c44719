namespace CycleGanEdge.Torch.Tests;

/// <summary>
/// libtorch has one random generator per process, and the trainer reseeds it every step. Test classes
/// that draw from it or reseed it run one after another (this collection), so a concurrent reseed can
/// neither hand two dropout passes the same mask nor shift a resumed run's random draws.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TorchGlobalRandom
{
    public const string Name = "torch global random generator";
}
