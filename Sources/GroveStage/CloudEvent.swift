import Foundation

/// CloudEvents 1.0 over HTTP (the binding's section 3.1, binary content mode, as Knative
/// Eventing delivers events): the context attributes travel as `ce-` headers, the data is the
/// body, its type is `Content-Type`.
public struct CloudEvent: Sendable, Equatable {
    public var id: String
    public var source: String
    public var type: String
    public var specversion: String
    public var subject: String?

    /// The request's event, `nil` when it carries no `ce-` header (a plain HTTP request), or a
    /// 400 naming the missing or bad attribute.
    public static func fromBinaryHeaders(_ headers: [(String, String)]) throws -> CloudEvent? {
        var ce: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("ce-") else { continue }
            let attribute = String(lower.dropFirst(3))
            if ce[attribute] != nil { throw StageError.badRequest("CloudEvent: the ce-\(attribute) header appears twice") }
            ce[attribute] = value
        }
        if ce.isEmpty { return nil }
        return try validated(ce, where: "header ce-")
    }

    /// The event of a structured-mode body (`application/cloudevents+json`).
    public static func fromStructured(_ body: [UInt8]) throws -> CloudEvent {
        struct Attributes: Decodable {
            var id, source, type, specversion, subject: String?
        }
        let attributes: Attributes
        do {
            attributes = try JSONDecoder().decode(Attributes.self, from: Data(body))
        } catch DecodingError.typeMismatch(_, let context) {
            throw StageError.badRequest("CloudEvent: attribute '\(context.codingPath.last?.stringValue ?? "?")' must be a string")
        } catch {
            throw StageError.badRequest("CloudEvent: an application/cloudevents+json body must be one JSON object")
        }
        var ce: [String: String] = [:]
        ce["id"] = attributes.id
        ce["source"] = attributes.source
        ce["type"] = attributes.type
        ce["specversion"] = attributes.specversion
        ce["subject"] = attributes.subject
        return try validated(ce, where: "attribute ")
    }

    private static func validated(_ ce: [String: String], where prefix: String) throws -> CloudEvent {
        for required in ["id", "source", "type", "specversion"] {
            guard let v = ce[required] else { throw StageError.badRequest("CloudEvent: missing \(prefix)\(required) (required: id, source, type, specversion)") }
            if v.isEmpty { throw StageError.badRequest("CloudEvent: \(prefix)\(required) is empty") }
        }
        guard ce["specversion"] == "1.0" else {
            throw StageError.badRequest("CloudEvent: \(prefix)specversion is '\(ce["specversion"]!)', this stage speaks 1.0")
        }
        return CloudEvent(id: ce["id"]!, source: ce["source"]!, type: ce["type"]!, specversion: "1.0", subject: ce["subject"])
    }

    /// The reply's attributes (binary mode): a new id, the stage as source, a type naming the
    /// stage's result, the request's id as subject so a driver can pair them.
    public static func replyHeaders(stage: String, request: CloudEvent) -> [(String, String)] {
        [("ce-specversion", "1.0"),
         ("ce-id", UUID().uuidString.lowercased()),
         ("ce-source", "/grove/stages/\(stage)"),
         ("ce-type", "dev.grove.\(stage).result"),
         ("ce-subject", request.id),
         ("ce-time", Date().formatted(.iso8601))]
    }
}
