using System.Runtime.InteropServices;

namespace CycleGanEdge.Torch.Training;

/// <summary>Process-wide libtorch settings for training and benchmarks on the CPU.</summary>
public static class TorchSetup
{
    private static int _done;

    /// <summary>
    /// Turns off two libtorch CPU backends, through at::globalContext() because TorchSharp has no switch:
    /// - oneDNN (mkldnn): on this machine (AMD EPYC, AVX-512) libtorch 2.10's oneDNN 3.7.1 computes wrong
    ///   input gradients for convolutions with fewer than 16 output channels (the generators' last 7x7
    ///   layer, the PatchGAN score layer): errors as large as the gradients, and NaN when the memory it
    ///   reads without writing held NaN bits, which is why training NaNs came and went at random steps.
    ///   An AVX2 cap does not fix it; an SSE4.1 cap does but is as slow as oneDNN off.
    ///   Evidence: benchmarks/TRAINING.md; CpuConvolutionGradientTests fails with oneDNN on.
    /// - NNPACK: on CPUs it does not support, libtorch 2.10 probes it before every convolution and
    ///   prints "Could not initialize NNPACK! Reason: Unsupported hardware." each time.
    /// Convolutions then use libtorch's own CPU kernels, slower than oneDNN: <paramref name="oneDnn"/>
    /// (--onednn) keeps oneDNN for speed, at the risk above (the NaN guard then stops the run at the last
    /// good checkpoint, but finite wrong gradients go unnoticed).
    /// Without the symbols (another libtorch), nothing changes. The first call decides.
    /// </summary>
    public static void ConfigureCpu(bool oneDnn)
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
        try
        {
            _ = TorchSharp.torch.get_num_threads(); // makes sure TorchSharp has loaded libtorch
            IntPtr context = GlobalContext();
            SetUserEnabledMkldnn(context, oneDnn);
            SetUserEnabledNnpack(context, false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    // DllImport rather than LibraryImport: this project does not allow unsafe code. The member functions
    // take the Context pointer as their first argument (Itanium C++ ABI).
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
