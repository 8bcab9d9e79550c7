// Client: a synchronous keep-alive HTTP/1.1 client built on async Beast operations run on a
// private io_context (so that every step has a timeout). Creation, base URLs and Request();
// streaming, uploads and downloads are in client_transfer.cc.
#include "http/client_impl.h"

namespace sskai::http {

namespace {

bool ParseBaseUrlImpl(const std::string& url, std::string* host, std::string* port, bool* tls) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  bool secure = false;
  std::string rest;
  if (url.compare(0, kHttp.size(), kHttp) == 0) {
    rest = url.substr(kHttp.size());
  } else if (tls != nullptr && url.compare(0, kHttps.size(), kHttps) == 0) {
    rest = url.substr(kHttps.size());
    secure = true;
  } else {
    return false;
  }
  if (tls != nullptr) *tls = secure;
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  size_t colon;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    *host = rest.substr(1, close - 1);
    colon = close + 1 < rest.size() ? close + 1 : std::string::npos;
    if (colon != std::string::npos && rest[colon] != ':') return false;
  } else {
    colon = rest.rfind(':');
    *host = rest.substr(0, colon);
  }
  if (host->empty()) return false;
  *port = colon == std::string::npos ? (secure ? "443" : "80") : rest.substr(colon + 1);
  if (port->empty() || port->size() > 5) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  int value = std::stoi(*port);
  return value > 0 && value < 65536;
}

}  // namespace

namespace internal {
bool ParseBaseUrl(const std::string& url, std::string* host, std::string* port, bool* tls) {
  return ParseBaseUrlImpl(url, host, port, tls);
}
}  // namespace internal

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() { impl_->Disconnect(); }

const std::string& Client::base_url() const { return impl_->base_url; }

Result<std::unique_ptr<Client>> Client::Create(const std::string& base_url, Options o) {
  auto impl = std::make_unique<Impl>();
  bool tls = false;
  if (!internal::ParseBaseUrl(base_url, &impl->host, &impl->port, &tls)) {
    return Status::InvalidArgument("base url must look like http://host:port or https://host[:port], got '" +
                                   base_url + "'");
  }
  if (tls) {
    SSKAI_ASSIGN_OR_RETURN(impl->tls_context, internal::ClientTlsContext(o.ca_file));
  }
  const std::string host = impl->host.find(':') != std::string::npos ? "[" + impl->host + "]" : impl->host;
  impl->base_url = (tls ? "https://" : "http://") + host + ":" + impl->port;
  impl->host_header = impl->port == (tls ? "443" : "80") ? host : host + ":" + impl->port;
  impl->options = o;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<ClientResponse> Client::Request(const std::string& method, const std::string& target,
                                       const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    SSKAI_RETURN_IF_ERROR(c.WriteRequest(method, target, body, headers, stale));
    auto result = c.ReadResponse(method == "HEAD", stale);
    if (c.connected()) c.tcp().expires_never();
    return result;
  });
}

}  // namespace sskai::http
