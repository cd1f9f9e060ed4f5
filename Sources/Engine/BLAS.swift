import CBLAS

/// Settings of the BLAS library the engine's matrix products run on (OpenBLAS).
public enum BLAS {
    /// Sets how many threads OpenBLAS uses for each call.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(count))
    }

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The name of the CPU kernel OpenBLAS chose (for example `Haswell`), to print next to any timing.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
