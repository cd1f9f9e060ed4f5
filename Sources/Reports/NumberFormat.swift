import Foundation

/// A loss or other figure as `trainer` prints it: four decimals, or three significant digits in e-notation below 0.01.
public func format(_ value: Double) -> String { String(format: abs(value) < 0.01 && value != 0 ? "%.3e" : "%.4f", value) }
