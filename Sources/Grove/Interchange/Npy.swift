/// NumPy's `.npy` format (version 1.0 and 2.0 read, 1.0 written), so `numpy.load` reads any
/// Grove result and Grove reads arrays made in Python.
public enum Npy {
    /// A 2-D (or 1-D) array read from `.npy` bytes.
    public struct Array2D {
        public var elementType: ElementType
        public var rows: Int
        public var columns: Int
        /// Row-major little-endian elements.
        public var bytes: [UInt8]
    }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    static func descr(_ type: ElementType) -> String {
        switch type {
        case .uint8: return "|u1"
        case .int32: return "<i4"
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }

    /// The `.npy` bytes of a row-major array; `columns == nil` writes a 1-D array.
    public static func encode(elementType: ElementType, rows: Int, columns: Int?, body: UnsafeRawBufferPointer) -> [UInt8] {
        let shape = columns.map { "(\(rows), \($0))" } ?? "(\(rows),)"
        var dict = "{'descr': '\(descr(elementType))', 'fortran_order': False, 'shape': \(shape), }"
        // Pad so the data starts on a 64-byte boundary, header ending in '\n'.
        let unpadded = magic.count + 2 + 2 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = magic + [1, 0]
        let n = UInt16(dict.utf8.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(dict.utf8)
        out += Array(body)
        return out
    }

    /// Parses `.npy` bytes. Accepts |u1, <i4, <f4, <f8 (and <i8, <u2, <i2, |b1, <f2 is not
    /// accepted), converting <i8/<u2/<i2/|i1 to int32; C or Fortran order; 1-D or 2-D.
    public static func decode(_ data: [UInt8], name: String) throws -> Array2D {
        func fail(_ what: String) -> GroveError { GroveError(file: name, what) }
        guard data.count >= 10, Array(data[0..<6]) == magic else {
            throw fail("byte 0: not a .npy file (expected \\x93NUMPY)")
        }
        let major = data[6]
        var headerLength: Int
        var at: Int
        switch major {
        case 1:
            headerLength = Int(data[8]) | Int(data[9]) << 8
            at = 10
        case 2, 3:
            guard data.count >= 12 else { throw fail("byte 8: truncated header length") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            at = 12
        default:
            throw fail("byte 6: .npy version \(major) is not supported (1, 2 or 3)")
        }
        guard at + headerLength <= data.count else {
            throw fail("byte \(at): header of \(headerLength) bytes runs past the end of the file")
        }
        let dict = String(decoding: data[at..<at + headerLength], as: UTF8.self)
        at += headerLength
        guard let descr = field(dict, "descr").map({ $0.trimming("'\" ") }),
              let order = field(dict, "fortran_order"),
              let shapeText = field(dict, "shape") else {
            throw fail("byte 10: header lacks descr, fortran_order or shape: \(dict)")
        }
        let dims = shapeText.trimming("() ").split(separator: ",")
            .map { $0.trimming(" ") }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, (1...2).contains(shape.count), shape.allSatisfy({ $0 >= 0 }) else {
            throw fail("shape \(shapeText) is not a 1-D or 2-D array shape")
        }
        let rows = shape[0], columns = shape.count == 2 ? shape[1] : 1
        let (sourceSize, type): (Int, ElementType)
        switch descr {
        case "|u1", "<u1", "u1": (sourceSize, type) = (1, .uint8)
        case "<i4", "i4": (sourceSize, type) = (4, .int32)
        case "<f4", "f4": (sourceSize, type) = (4, .float32)
        case "<f8", "f8": (sourceSize, type) = (8, .float64)
        case "<i8", "i8", "<i2", "i2", "<u2", "u2", "|i1", "i1", "<u4", "u4", "<u8", "u8":
            sourceSize = Int(descr.last!.wholeNumberValue!)
            type = .int32
        default:
            throw fail("dtype \(descr) is not supported (uint8, int32, float32, float64, or integers that fit int32)")
        }
        let count = rows.multipliedReportingOverflow(by: columns)
        let need = count.partialValue.multipliedReportingOverflow(by: sourceSize)
        guard !count.overflow, !need.overflow, need.partialValue <= data.count - at else {
            throw fail("byte \(at): shape \(shapeText) of \(descr) needs more bytes than the \(data.count - at) the file has")
        }
        let n = count.partialValue
        let fortran = order.contains("True")
        let signed = descr.contains("i")
        let sameBytes = type != .int32 || (sourceSize == 4 && signed)
        if sameBytes && !fortran {
            // The common case: the array's bytes are already ours.
            return Array2D(elementType: type, rows: rows, columns: columns, bytes: Array(data[at..<at + n * type.size]))
        }
        var bytes = [UInt8](repeating: 0, count: n * type.size)
        try data.withUnsafeBytes { raw in
            try bytes.withUnsafeMutableBytes { out in
                for i in 0..<n {
                    // Fortran order stores columns first; write row-major.
                    let src = fortran ? (i % columns) * rows + i / columns : i
                    let o = i * type.size, s = at + src * sourceSize
                    if sameBytes {
                        out.baseAddress!.advanced(by: o).copyMemory(from: raw.baseAddress! + s, byteCount: type.size)
                        continue
                    }
                    var v: Int64
                    switch (sourceSize, signed) {
                    case (1, true): v = Int64(Int8(bitPattern: raw[s]))
                    case (2, true): v = Int64(raw.loadUnaligned(fromByteOffset: s, as: Int16.self).littleEndian)
                    case (2, false): v = Int64(raw.loadUnaligned(fromByteOffset: s, as: UInt16.self).littleEndian)
                    case (4, false): v = Int64(raw.loadUnaligned(fromByteOffset: s, as: UInt32.self).littleEndian)
                    case (8, true): v = raw.loadUnaligned(fromByteOffset: s, as: Int64.self).littleEndian
                    default:
                        let u = raw.loadUnaligned(fromByteOffset: s, as: UInt64.self).littleEndian
                        v = u > UInt64(Int64.max) ? Int64.max : Int64(u)
                    }
                    guard let v32 = Int32(exactly: v) else {
                        throw fail("element \(i) (row \(i / columns)): \(v) does not fit int32")
                    }
                    out.storeBytes(of: v32.littleEndian, toByteOffset: o, as: Int32.self)
                }
            }
        }
        return Array2D(elementType: type, rows: rows, columns: columns, bytes: bytes)
    }

    /// The text of `key`'s value in a Python dict literal (flat values and tuples only).
    static func field(_ dict: String, _ key: String) -> String? {
        guard let k = dict.firstRange(of: "'\(key)'") ?? dict.firstRange(of: "\"\(key)\"") else { return nil }
        var rest = dict[k.upperBound...].drop(while: { $0 == " " || $0 == ":" })
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return String(rest).trimming(" ")
    }
}

extension StringProtocol {
    /// The text without any of `set`'s characters at either end.
    func trimming(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
