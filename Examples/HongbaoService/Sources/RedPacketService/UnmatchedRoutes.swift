import Hummingbird

/// Requests no route answers get a JSON error like every other refusal (`JSONErrors` writes it): 405, with
/// `Allow`, for a path the API has under another method; 404 for a path it does not have (Hummingbird's own answer
/// is an empty 404 for both).
struct UnmatchedRoutes<Context: RequestContext>: RouterMiddleware {
    let routes: [(path: [String?], methods: [HTTPRequest.Method])]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let parts = request.uri.path.split(separator: "/").map(String.init)
            let methods = routes.filter { route in
                route.path.count == parts.count && zip(route.path, parts).allSatisfy { $0 == nil || $0 == $1 }
            }.flatMap(\.methods)
            guard !methods.isEmpty else { throw ServiceError(.notFound, "no route \(request.method) \(request.uri.path)") }
            guard !methods.contains(request.method) else { throw error }   // the route's own "not found"
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            var response = try ServiceError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path): \(allowed)")
                .response(from: request, context: context)
            response.headers[.allow] = allowed
            return response
        }
    }
}
