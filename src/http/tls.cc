// TLS client contexts (cached per CA bundle) and per-connection verification setup.
#include "http/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <map>
#include <mutex>

namespace sskai::http::internal {

namespace {

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> ClientTlsContext(const std::string& ca_file) {
  std::string bundle = ca_file;
  if (bundle.empty()) {
    const char* env = std::getenv(kCaBundleEnv);
    if (env != nullptr) bundle = env;
  }
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<ssl::context>>* cache =
      new std::map<std::string, std::shared_ptr<ssl::context>>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(bundle);
  if (it != cache->end()) return it->second;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (bundle.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return Status::Internal("cannot load the system CA certificates: " + ec.message());
  } else {
    ctx->load_verify_file(bundle, ec);
    if (ec) {
      return Status::InvalidArgument("cannot load CA bundle '" + bundle + "' (" + kCaBundleEnv +
                                     " / ca_file): " + ec.message());
    }
  }
  (*cache)[bundle] = ctx;
  return ctx;
}

Status PrepareTlsClient(SSL* ssl, const std::string& host) {
  if (IsIpLiteral(host)) {
    // No SNI for addresses (RFC 6066); the certificate must list the address as an IP SAN.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return Status::Internal("TLS: cannot verify against address " + host);
    }
    return Status::Ok();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return Status::Internal("TLS: cannot set SNI " + host);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) return Status::Internal("TLS: cannot verify host name " + host);
  return Status::Ok();
}

std::string DescribeTlsFailure(SSL* ssl, const std::string& host, const beast::error_code& ec,
                               bool* certificate) {
  const long verify = SSL_get_verify_result(ssl);
  *certificate = verify != X509_V_OK;
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return "the TLS certificate of " + host + " is not valid for that name (" +
           X509_verify_cert_error_string(verify) + ")";
  }
  if (verify != X509_V_OK) {
    return "the TLS certificate of " + host + " is not trusted (" + X509_verify_cert_error_string(verify) +
           "); to trust a private CA set " + kCaBundleEnv + " (or SSL_CERT_FILE) to its PEM bundle";
  }
  return "TLS handshake with " + host + " failed: " + ec.message();
}

}  // namespace sskai::http::internal
