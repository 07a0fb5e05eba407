import Hummingbird
import Logging
import Shared

/// A set of operator routes. They are only ever registered on the group `OperatorRouter.make`
/// hands out, which checks the bearer token first.
///
/// ```swift
/// struct PingAPI: OperatorRoutes {
///     func register(on group: RouterGroup<BasicRequestContext>) {
///         group.get("/ping") { _, _ in "pong" }   // GET /operator/ping, token required
///     }
/// }
/// ```
protocol OperatorRoutes: Sendable {
    func register(on group: RouterGroup<BasicRequestContext>)
}

/// The operator listener's router: every route under `/operator`, behind the token.
enum OperatorRouter {
    static func make(
        token: Secret, rejections: RejectionLog, routes: [any OperatorRoutes], logger: Logger = Logger(label: "fieldmedic.coordinator")
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        // The middleware is on the group before any route is added to it (a group's
        // middleware only wraps routes added after it).
        let group = router.group("/operator").add(middleware: OperatorTokenMiddleware(token: token, rejections: rejections))
        for set in routes { set.register(on: group) }
        return router
    }
}
