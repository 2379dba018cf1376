import CloudChatCrypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MariaDB
import WebhookIngest

/// The public HTTP listener: Meta's webhooks and the health endpoints.
///
/// - `GET /webhook`: Meta's verification handshake; the challenge for the right verify token, 403 otherwise.
/// - `POST /webhook`: signature checked on the raw bytes before anything else (401 without one,
///   403 for a wrong one, 503 while no app secret is configured), 413 over the size cap, and 200
///   only once the body is committed to the database (503 if it could not be).
/// - `GET /healthz`: the process is up. `GET /readyz`: the database answers.
public enum WebhookHTTPServer {
    /// Builds the HTTP application (a service to run in the daemon's service group).
    /// - Parameters:
    ///   - configuration: listener address, timeouts, webhook secrets and size cap.
    ///   - writer: where accepted bodies go.
    ///   - pool: checked by `/readyz`.
    ///   - logger: request problems are logged without bodies or phone numbers.
    ///   - onListening: called with the bound port once the listener is up (useful with port 0).
    public static func makeApplication(
        configuration: DaemonConfiguration, writer: WebhookEventWriter, pool: MariaDBPool, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let verifier = WebhookSignatureVerifier(appSecrets: configuration.webhookAppSecrets)
        let verifyToken = configuration.webhookVerifyToken.map { Array($0.utf8) }
        let maxBodyBytes = configuration.webhookMaxBodyBytes
        let signatureHeader = HTTPField.Name("X-Hub-Signature-256")!
        let router = Router()

        router.get("/webhook") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let verifyToken else {
                logger.warning("webhook verification refused: no webhook_verify_token is configured")
                return plain(.forbidden, "webhook verification is not configured\n")
            }
            guard query["hub.mode"] == "subscribe", let offered = query["hub.verify_token"],
                  ConstantTime.equals(Array(offered.utf8), verifyToken),
                  let challenge = query["hub.challenge"] else {
                logger.notice("webhook verification refused: wrong or missing verify token")
                return plain(.forbidden, "verification failed\n")
            }
            return plain(.ok, String(challenge))
        }

        router.post("/webhook") { request, _ -> Response in
            if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
                logger.notice("webhook refused: body over the size cap", metadata: ["bytes": "\(declared)"])
                return plain(.contentTooLarge, "body too large\n")
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: maxBodyBytes)
            } catch let error as HTTPResponseError where error.status == .contentTooLarge {
                logger.notice("webhook refused: body over the size cap")
                return plain(.contentTooLarge, "body too large\n")
            }
            let body = Array(buffer.readableBytesView)
            switch verifier.verify(header: request.headers[signatureHeader], body: body) {
            case .valid:
                break
            case .missing:
                logger.notice("webhook refused: no X-Hub-Signature-256 header")
                return plain(.unauthorized, "signature required\n")
            case .invalid:
                logger.notice("webhook refused: signature does not match any configured app secret")
                return plain(.forbidden, "invalid signature\n")
            case .notConfigured:
                logger.warning("webhook refused: no webhook_app_secret is configured, so it cannot be verified; Meta will retry it")
                return plain(.serviceUnavailable, "webhook signing is not configured\n")
            }
            do {
                try await writer.store(AcceptedWebhook(body: body))
            } catch {
                return plain(.serviceUnavailable, "not stored, retry later\n")
            }
            return plain(.ok, "ok\n")
        }

        router.get("/healthz") { _, _ in plain(.ok, "ok\n") }

        router.get("/readyz") { _, _ -> Response in
            let ready = (try? await pool.withConnection { $0.ping() }) ?? false
            return ready ? plain(.ok, "ready\n") : plain(.serviceUnavailable, "database unavailable\n")
        }

        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.httpIdleTimeoutSeconds)))),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "cloudchatd"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.httpPort) },
            logger: logger
        )
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
