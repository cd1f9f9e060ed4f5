import CBLAS

/// The matrix products the engine runs on OpenBLAS, and their thread settings.
public enum BLAS {
    /// Sets how many threads matrix products and optimiser steps use (the compute pool's share).
    ///
    /// OpenBLAS itself runs single-threaded under the pool, which splits each large product instead.
    public static func setThreadCount(_ count: Int) {
        ComputePool.shared.setActiveThreadCount(count)
    }

    /// The number of threads matrix products use.
    public static var threadCount: Int { ComputePool.shared.threadCount }

    /// Sets OpenBLAS's own thread count (the pool sets it to 1 so the two do not compete).
    static func setLibraryThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(count))
    }

    /// The name of the CPU kernel OpenBLAS chose (for example `Haswell`), to print next to any timing.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Products below this many floating-point operations stay on one thread.
    static let parallelThreshold = 1_000_000

    /// C[m×n] = α·op(A)·op(B) + β·C for row-major matrices, op(A) being m×k and op(B) k×n.
    ///
    /// Large products are cut along the longer of m and n into one single-threaded call per thread.
    static func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        let pool = ComputePool.shared
        let threads = pool.threadCount
        guard threads > 1, 2 * m * n * k >= parallelThreshold, max(m, n) >= 32 else {
            call(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let splitRows = m >= n
        let extent = splitRows ? m : n
        let parts = min(threads, extent / 16)
        // Chunk boundaries on multiples of 16 keep every call on whole kernel tiles.
        let chunk = ((extent + parts - 1) / parts + 15) / 16 * 16
        pool.run(parts: parts) { part in
            let start = part * chunk
            let size = min(chunk, extent - start)
            guard size > 0 else { return }
            if splitRows {
                let aPart = transposeA ? a + start : a + start * lda
                call(transposeA, transposeB, size, n, k, alpha, aPart, lda, b, ldb, beta, c + start * ldc, ldc)
            } else {
                let bPart = transposeB ? b + start * ldb : b + start
                call(transposeA, transposeB, m, size, k, alpha, a, lda, bPart, ldb, beta, c + start, ldc)
            }
        }
    }

    /// The same product on the calling thread only, for work already spread over the pool.
    @inline(__always)
    static func serialGemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        call(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @inline(__always)
    private static func call(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                             _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                             _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
