// Internal: TLS for the synchronous Client (https:// base URLs) — shared OpenSSL client contexts
// and per-connection setup. Only the https path touches this; plain http never does.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "common/status.h"
#include "http/beast.h"

namespace sskai::http::internal {

namespace ssl = boost::asio::ssl;

// The environment variable naming a PEM CA bundle that replaces the system trust store.
inline constexpr const char* kCaBundleEnv = "SSKAI_CA_BUNDLE";

// A client context that verifies peers against `ca_file` (PEM), or when it is empty against
// $SSKAI_CA_BUNDLE, or else OpenSSL's default trust store (which honours SSL_CERT_FILE and
// SSL_CERT_DIR; on Debian /etc/ssl/certs). TLS 1.2 or newer. Contexts are built once per bundle
// and shared (an SSL_CTX is safe to share across threads).
// Errors: kInvalidArgument when the bundle cannot be read or holds no certificate.
Result<std::shared_ptr<ssl::context>> ClientTlsContext(const std::string& ca_file);

// Prepares a connection to `host` before the handshake: SNI (for names, not IP literals) and
// verification that the certificate names `host` (DNS name or IP address).
// Errors: kInternal when OpenSSL refuses the parameters.
Status PrepareTlsClient(SSL* ssl, const std::string& host);

// Why a handshake with `host` failed, for an error message: a certificate that is not trusted or
// does not name the host says so (with the verifier's reason); otherwise the transport error.
// `*certificate` is set when the certificate was the reason.
std::string DescribeTlsFailure(SSL* ssl, const std::string& host, const beast::error_code& ec,
                               bool* certificate);

}  // namespace sskai::http::internal
