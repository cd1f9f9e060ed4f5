/// The shape arithmetic of one convolution, and the unfold (im2col) and fold (col2im) it needs.
struct Geometry {
    let channels, height, width: Int
    let kernelHeight, kernelWidth: Int
    let strideHeight, strideWidth: Int
    let padHeight, padWidth: Int
    let outHeight, outWidth: Int

    /// The output columns ox whose input column ox·stride − pad + kx lies inside the image.
    @inline(__always) private func validColumns(_ kx: Int) -> Range<Int> {
        // ix = ox·s − p + kx ∈ [0, width)  ⇔  ox ∈ [ceil((p − kx)/s), ceil((width + p − kx)/s))
        let low = max(0, ceilDivide(padWidth - kx, strideWidth))
        let high = min(outWidth, ceilDivide(width + padWidth - kx, strideWidth))
        return low..<max(low, high)
    }

    @inline(__always) private func ceilDivide(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? (a + b - 1) / b : -((-a) / b)
    }

    /// Writes the [channels·kh·kw, outH·outW] patch matrix of one sample, zeros where the kernel overhangs.
    func unfold(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        let pixels = outHeight * outWidth
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let destination = columns + row * pixels
                    let valid = validColumns(kx)
                    for oy in 0..<outHeight {
                        let line = destination + oy * outWidth
                        let iy = oy * strideHeight - padHeight + ky
                        guard iy >= 0 && iy < height, !valid.isEmpty else {
                            line.update(repeating: 0, count: outWidth)
                            continue
                        }
                        if valid.lowerBound > 0 { line.update(repeating: 0, count: valid.lowerBound) }
                        if valid.upperBound < outWidth { (line + valid.upperBound).update(repeating: 0, count: outWidth - valid.upperBound) }
                        let source = plane + iy * width - padWidth + kx
                        if strideWidth == 1 {
                            (line + valid.lowerBound).update(from: source + valid.lowerBound, count: valid.count)
                        } else {
                            for ox in valid { line[ox] = source[ox * strideWidth] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds a patch-matrix gradient back onto the image positions it was read from.
    func fold(_ columns: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let pixels = outHeight * outWidth
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let source = columns + row * pixels
                    let valid = validColumns(kx)
                    for oy in 0..<outHeight {
                        let iy = oy * strideHeight - padHeight + ky
                        guard iy >= 0 && iy < height else { continue }
                        let line = source + oy * outWidth
                        let destination = plane + iy * width - padWidth + kx
                        if strideWidth == 1 {
                            for ox in valid { destination[ox] += line[ox] }
                        } else {
                            for ox in valid { destination[ox &* strideWidth] += line[ox] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
