import Foundation
import HongbaoCore
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime

/// The example service's send, grab and health endpoints as swift-openapi-generator writes them from
/// `Examples/HongbaoService/openapi.yaml`, on the lock-free engine, without tokens (as `hongbao-service
/// --insecure-dev`): what the generated path costs on the grab endpoint, measured beside the hand-written one by
/// `Benchmarks/openapi-side-by-side.sh`. Sends take the spec's body and keep only what that script sends.
/// Usage: OpenAPIGrab PORT
struct GeneratedService: APIProtocol {
    let engine: LockFreeEngine

    func postPackets(_ input: Operations.PostPackets.Input) async throws -> Operations.PostPackets.Output {
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .json(.init(error: "a JSON body")))) }
        let spec: PacketSpec
        do {
            spec = try PacketSpec(total: Fen(body.totalFen), shares: body.shares)
        } catch {
            return .unprocessableContent(.init(body: .json(.init(error: "\(error)"))))
        }
        let group = Group(body.members.map { MemberID(UInt32(clamping: $0)) })
        let id = try await engine.send(spec, to: group, seed: UInt64.random(in: .min ... .max))
        return .created(.init(body: .json(.init(id: Int64(id.rawValue)))))
    }

    func postPacketsIdGrab(_ input: Operations.PostPacketsIdGrab.Input) async throws -> Operations.PostPacketsIdGrab.Output {
        guard case .json(let body)? = input.body, let member = body.member else {
            return .badRequest(.init(body: .json(.init(error: "missing field \"member\""))))
        }
        let receipt: GrabReceipt
        do {
            receipt = try await engine.grabReceipt(PacketID(UInt64(input.path.id)), for: MemberID(UInt32(member)))
        } catch {
            return .notFound(.init(body: .json(.init(error: "no such packet"))))
        }
        let outcome: Operations.PostPacketsIdGrab.Output.Ok.Body.JsonPayload.OutcomePayload = switch receipt.outcome {
        case .granted: .granted
        case .alreadyGrabbed: .alreadyGrabbed
        case .soldOut: .soldOut
        case .expired: .expired
        case .notMember: .notMember
        }
        return .ok(.init(body: .json(.init(outcome: outcome, amountFen: receipt.outcome.share.map(\.rawValue), seq: receipt.seq))))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, engine: engine.name, shared: false))))
    }
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]), (1 ... 65535).contains(port) else {
    FileHandle.standardError.write(Data("usage: OpenAPIGrab PORT\n".utf8))
    exit(2)
}
let router = Router()
try GeneratedService(engine: LockFreeEngine()).registerHandlers(on: router)
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
