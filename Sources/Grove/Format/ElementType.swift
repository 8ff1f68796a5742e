/// The type of a zmat stream's elements, stored little-endian.
public enum ElementType: UInt8, CaseIterable, CustomStringConvertible, Sendable {
    case uint8 = 1
    case int32 = 2
    case float32 = 3
    case float64 = 4

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8: return 1
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int32: return "int32"
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }

    /// Parses the names `description` prints (also `u8`, `i32`, `f32`, `f64`).
    public init?(name: String) {
        switch name.lowercased() {
        case "uint8", "u8": self = .uint8
        case "int32", "i32": self = .int32
        case "float32", "f32", "float": self = .float32
        case "float64", "f64", "double": self = .float64
        default: return nil
        }
    }
}

/// A Swift scalar that zmat streams store.
public protocol ZmatScalar: Numeric, Sendable {
    static var elementType: ElementType { get }
    /// The value as a Double (exact for every zmat type).
    var doubleValue: Double { get }
}

extension UInt8: ZmatScalar {
    public static var elementType: ElementType { .uint8 }
    @inline(__always) public var doubleValue: Double { Double(self) }
}

extension Int32: ZmatScalar {
    public static var elementType: ElementType { .int32 }
    @inline(__always) public var doubleValue: Double { Double(self) }
}

extension Float: ZmatScalar {
    public static var elementType: ElementType { .float32 }
    @inline(__always) public var doubleValue: Double { Double(self) }
}

extension Double: ZmatScalar {
    public static var elementType: ElementType { .float64 }
    @inline(__always) public var doubleValue: Double { self }
}
