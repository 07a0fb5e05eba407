import Foundation
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// HummingbirdTLS's `TLSChannel` plus one handler right behind the TLS handler that reports
/// failed handshakes (no trusted certificate, expired, another CA) to the audit log.
struct AuditedTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: TLSChannel<Base>
    let rejections: RejectionLog

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let tls = try operations.handler(type: NIOSSLServerHandler.self)
            try operations.addHandler(HandshakeFailureRecorder(rejections: rejections), position: .after(tls))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Only errors before the handshake completes are rejections; a client that hangs up
/// without close_notify later is not.
final class HandshakeFailureRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let rejections: RejectionLog
    private var handshakeDone = false

    init(rejections: RejectionLog) { self.rejections = rejections }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent { handshakeDone = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let unclean = (error as? NIOSSLError) == .uncleanShutdown
        if !handshakeDone, !unclean, error is NIOSSLError || error is BoringSSLError {
            let peer = context.remoteAddress?.ipAddress ?? "unknown"
            let reason = Self.describe(error)
            let rejections = self.rejections
            Task { await rejections.record(peer: peer, reason: reason, action: "tls.rejected") }
        }
        context.fireErrorCaught(error)
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") { return "client certificate not trusted: \(text)" }
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") { return "no client certificate" }
        return text.count > 300 ? String(text.prefix(300)) : text
    }
}
