// src/http/http.h — the one HTTP layer of sskai: an async HTTP/1.1 server with a router, and a
// synchronous keep-alive client. Boost.Beast/Asio stay behind this header (pimpl).
//
// Server model: N io threads run all connections asynchronously (no thread per connection).
// For each request the server reads the header, resolves the route, runs the middleware, then
// reads the body (into Request::body, or for stream_body routes into a temp file hashed on the
// way), then calls the handler on the io thread that read the request. An async handler may
// answer later from any thread through its Responder.
// Errors are answered with one JSON shape: {"error":{"code":"not_found","message":"...","details":{}}}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sskai::http {

// One parsed request. Owned by the server for the duration of the handler call; a handler that
// answers later must copy what it needs (the object dies when the response has been written).
struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // raw target with query
  std::string path;                            // percent-decoded path, no query
  std::map<std::string, std::string> query;    // decoded query params (last one wins)
  std::map<std::string, std::string> headers;  // lower-case names; always has "x-request-id"
  std::map<std::string, std::string> params;   // path params from the route pattern
  std::string body;                            // non-streaming routes
  // Streaming routes (RouteOptions::stream_body): the body was written to a temp file in
  // Server::Options::temp_dir while it arrived (never held in memory), hashed on the way.
  // A handler may rename() the file away; the server removes it after the response is written
  // (or when the connection dies) if it is still present.
  std::string body_file;    // path ("" if none)
  uint64_t body_size = 0;   // bytes of body (both kinds of route)
  std::string body_sha256;  // lower-case hex, streaming routes only
  std::string remote_addr;  // "ip:port" of the peer

  std::string Header(const std::string& lower_name) const;  // "" if absent
  std::string Query(const std::string& name, const std::string& def = "") const;
};

class ResponseStream;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string file_path;  // if non-empty, stream this file as the body (body ignored); 404 if missing
  std::vector<std::pair<std::string, std::string>> headers;
  // If set, the body is written over time (chunked transfer encoding; body and file_path are
  // ignored): see ResponseStream.
  std::shared_ptr<ResponseStream> stream;

  static Response Json(int status, std::string json);
  static Response Text(int status, std::string text,
                       std::string content_type = "text/plain; charset=utf-8");
};

// A response body produced over time (server-sent events, token streams). A handler creates
// one, answers with a Response whose `stream` is set, and keeps writing from any thread: the
// server sends the header (Transfer-Encoding: chunked) at once, each Write as a chunk as soon as
// the connection can take it, and the final chunk after Close. When the client goes away (a
// write fails, the server stops) the stream is cancelled: Write returns false and the OnCancel
// callback runs, so the producer can stop its work.
// Thread-safety: thread-safe. Destroying the last producer handle closes the stream.
class ResponseStream {
 public:
  static std::shared_ptr<ResponseStream> Create();
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  // Queues `data` as (part of) the next chunk. False once cancelled or closed (data dropped).
  bool Write(std::string data);
  // Ends the body after what was written. Idempotent.
  void Close();
  bool cancelled() const;
  // `fn` runs once when the stream is cancelled (at once if it already is), on whichever thread
  // notices; it must not block.
  void OnCancel(std::function<void()> fn);

  struct Impl;
  const std::shared_ptr<Impl>& impl() const { return impl_; }  // for the server

 private:
  ResponseStream();
  std::shared_ptr<Impl> impl_;
};

// Code -> HTTP status: InvalidArgument 400, Unauthenticated 401, PermissionDenied 403,
// NotFound 404, AlreadyExists 409, FailedPrecondition 409, PayloadTooLarge 413,
// ResourceExhausted 429, Unavailable 503, DeadlineExceeded 504, Cancelled 409, Internal 500, Ok 200.
int HttpStatusFor(StatusCode code);
// {"error":{"code":"<StatusCodeName>","message":"...","details":<details_json>}} with the status
// from HttpStatusFor. `details_json` must be a JSON object text (invalid text is replaced by {}).
Response ErrorResponse(const Status& status, const std::string& details_json = "{}");

// Percent-encoding (RFC 3986 unreserved characters kept) and decoding ('+' is kept as '+' by
// UrlDecode; query parsing turns '+' into a space). Invalid escapes are kept verbatim.
std::string UrlEncode(std::string_view s);
std::string UrlDecode(std::string_view s);

// Call exactly once, from any thread. Later calls are ignored. If the last copy is destroyed
// without being called, the server answers 500.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&, Responder)>;  // async handler
using SyncHandler = std::function<Response(Request&)>;

struct RouteOptions {
  bool stream_body = false;     // body to a temp file (uploads)
  // The handler may block (SQLite, files, other processes): it runs on the server's blocking
  // pool, never on an io thread, so a slow call does not stall other connections. AddSync sets it.
  bool blocking = false;
  uint64_t max_body_bytes = 0;  // 0 = server default for this kind (see Server::Options)
  std::string summary;          // for the OpenAPI document
};
struct RouteInfo {
  std::string method, pattern, summary;
  bool stream_body = false;
};

// Routes. Thread-safety: Add* before the server starts; afterwards const use is thread-safe.
class Router {
 public:
  // Pattern segments: literal, "{name}" (one segment), or a final "{name...}" (rest of the path,
  // possibly empty, '/' kept). Literals beat params, params beat a rest param, per segment from
  // the left. Adding the same method+pattern twice replaces the handler.
  void Add(std::string method, std::string pattern, Handler h, RouteOptions o = {});
  void AddSync(std::string method, std::string pattern, SyncHandler h, RouteOptions o = {});
  const std::vector<RouteInfo>& routes() const { return infos_; }  // registration order

  struct Match {
    enum class Outcome : uint8_t { kFound, kNotFound, kMethodNotAllowed };
    Outcome outcome = Outcome::kNotFound;
    const RouteInfo* info = nullptr;        // kFound only; lives as long as the Router
    const RouteOptions* options = nullptr;  // kFound only
    const Handler* handler = nullptr;       // kFound only
    std::map<std::string, std::string> params;
    std::string allow;  // kMethodNotAllowed: "GET, POST"
  };
  // `raw_path` is the undecoded path (no query); params are percent-decoded.
  Match Resolve(std::string_view method, std::string_view raw_path) const;

  // Socket-free dispatch for tests: fills req.params (req.target/path must be set), runs the
  // handler (exceptions -> 500), or answers 404/405.
  void Dispatch(Request& req, Responder respond) const;

 private:
  struct Route;
  std::vector<std::shared_ptr<Route>> table_;
  std::vector<RouteInfo> infos_;
};

// Thread-safety: thread-safe. Owns its io threads.
class Server {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 0;  // 0 = ephemeral; port() tells which
    // Also accept on a Unix domain socket file at this path ("" = TCP only): a stale file is
    // replaced, the file is removed by Stop(). Same routes and limits as TCP. Peers on it show
    // remote_addr "unix". Max 107 bytes (kInvalidArgument beyond).
    std::string unix_path;
    // Each io thread runs its own event loop; connections are spread over them round-robin and
    // stay on one thread (a request and its async work never hop between io threads).
    // Non-blocking handlers run inline on that thread; blocking ones (RouteOptions::blocking)
    // on a pool of blocking_threads.
    int io_threads = 2;
    int blocking_threads = 4;
    uint64_t max_body_bytes = 8ull << 20;         // non-streaming requests -> 413 beyond
    uint64_t max_stream_body_bytes = 8ull << 30;  // streaming uploads -> 413 beyond
    std::string temp_dir;  // where streamed bodies go (required if any route streams)
    std::chrono::seconds idle_timeout{60};  // per read/write operation and between requests
    // Called after the header is read and the route is known, before the body is read (so
    // req.body is still empty; headers, params, query are set). Returning a Response
    // short-circuits (auth, request ids). Runs on an io thread. May be empty.
    std::function<std::optional<Response>(Request&, const RouteInfo&)> middleware;
    // Called after each response is written: route is null for 404/405/400. Runs on an io thread.
    std::function<void(const Request&, const RouteInfo*, int status, double seconds)> on_response;
  };

  // The io threads for a server that shares its machine with the processes it talks to
  // (replicas, workers, clients): `requested` if > 0, else half of `cores`, at least 1. On 2
  // cores one io thread proxies more requests per core than two (BENCHMARKS.md, "Serving").
  static int IoThreadsFor(int requested, int cores);

  // Binds and starts the io threads. Errors: kInvalidArgument (bad host, io_threads < 1,
  // a streaming route without temp_dir), kUnavailable (address in use / cannot bind).
  static Result<std::unique_ptr<Server>> Create(Options options, std::shared_ptr<Router> router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // Stops accepting, closes connections, joins threads; idempotent. Responders called afterwards
  // are ignored. Must not be called from a handler (io thread).
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// A synchronous keep-alive HTTP/1.1 client holding one connection; it reconnects transparently
// once when a reused keep-alive connection turns out to be stale. It speaks plain HTTP
// ("http://") or HTTPS ("https://"): TLS 1.2+, SNI, the certificate chain verified against the
// trust store (see ClientOptions::ca_file) and the certificate checked to name the host (DNS name,
// or IP address for an address literal). Plain HTTP pays nothing for TLS.
// Thread-safety: externally synchronized. Errors of every request function: kUnavailable
// ("cannot connect to http://...: Connection refused", or the connection broke),
// kDeadlineExceeded (connect_timeout / timeout), kFailedPrecondition (https: "cannot connect to
// https://h:443: the TLS certificate of h is not trusted (<verifier's reason>); ..." or "... is
// not valid for that name (hostname mismatch)"), kNotFound / kInternal (local files).
// A non-2xx HTTP status is not an error: it is returned in ClientResponse.
struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect + TLS handshake
  // Request(): the whole exchange. UploadFile()/DownloadToFile(): each network read/write.
  std::chrono::milliseconds timeout{60000};
  // https only: a PEM bundle of the CAs to trust, replacing the system trust store. Empty: the
  // environment variable SSKAI_CA_BUNDLE, else OpenSSL's defaults (which honour SSL_CERT_FILE /
  // SSL_CERT_DIR; on Debian /etc/ssl/certs from the ca-certificates package).
  std::string ca_file;
};
class Client {
 public:
  using Options = ClientOptions;
  // "http://127.0.0.1:8080" or "https://host[:port]" (ports default to 80 / 443; a trailing '/'
  // is allowed); kInvalidArgument otherwise, or when the https CA bundle cannot be loaded.
  // Does not connect yet.
  static Result<std::unique_ptr<Client>> Create(const std::string& base_url, Options o = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<ClientResponse> Request(const std::string& method, const std::string& target,
                                 const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {});
  // Streams a file as the request body (never loads it whole); progress(bytes_sent, total) may
  // be empty. If the server answers early (e.g. 413) that response is returned.
  Result<ClientResponse> UploadFile(const std::string& method, const std::string& target,
                                    const std::string& path,
                                    const std::map<std::string, std::string>& headers = {},
                                    std::function<void(uint64_t, uint64_t)> progress = {});
  // Sends a request and hands the response over as it arrives: `on_header` gets the status and
  // headers (empty body) first, then `on_data` each piece of the body (chunk boundaries are not
  // preserved). Either returning false aborts: the connection is closed, so the server sees the
  // client go. The timeout applies to each read. Returns status and headers (body empty).
  Result<ClientResponse> Stream(const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::map<std::string, std::string>& headers,
                                const std::function<bool(const ClientResponse&)>& on_header,
                                const std::function<bool(std::string_view)>& on_data);
  // GET `target`; a 2xx body is streamed into path + ".part", then renamed to `path`; the
  // returned body is empty. A non-2xx body is returned in memory and no file is written.
  Result<ClientResponse> DownloadToFile(const std::string& target, const std::string& path,
                                        const std::map<std::string, std::string>& headers = {});

  const std::string& base_url() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A small pool of Clients to one base URL (for the gateway proxy; http or https). Thread-safety: thread-safe.
class ClientPool {
 public:
  // An invalid base_url makes every Request fail with kInvalidArgument.
  ClientPool(std::string base_url, size_t max_idle = 32, Client::Options o = {});
  ~ClientPool();
  // Borrows an idle client (or creates one), runs Client::Request, returns the client to the
  // pool on success (a failed one is dropped).
  Result<ClientResponse> Request(const std::string& method, const std::string& target,
                                 const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {});
  Result<std::unique_ptr<Client>> Acquire();
  void Release(std::unique_ptr<Client> client);  // drops it when max_idle clients are idle
  size_t idle_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Asynchronous keep-alive HTTP/1.1 client for proxies (the serving gateway), no thread per request;
// idle connections pooled per io context and host:port; a reused connection the peer had closed is
// retried once on a fresh one. A request made on an http::Server io thread (a handler) runs on
// that server's io threads, so a proxied request crosses no thread; others run on the client's own.
// Thread-safety: thread-safe. `done` runs exactly once on an io thread (the server's or this
// client's; the caller's for an invalid base_url), with the errors of Client::Request; it must not
// block for long. Once the destructor began, callbacks of requests in flight are never called (it
// waits for a running one); it must not run inside one.
class AsyncClient {
 public:
  struct Options {
    int io_threads = 1;
    size_t max_idle_per_host = 256;
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds timeout{60000};  // write + read of one exchange
  };
  using Callback = std::function<void(Result<ClientResponse>)>;
  explicit AsyncClient(Options options);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // `base_url` as for Client::Create but http:// only (https: kInvalidArgument), or
  // "unix:/path/to.sock" (an http::Server listening on Options::unix_path; no TCP stack on the
  // way); timeout 0 = Options::timeout.
  void Request(const std::string& base_url, const std::string& method, const std::string& target,
               std::string body, std::vector<std::pair<std::string, std::string>> headers,
               Callback done, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  size_t idle_count(const std::string& base_url) const;  // pooled connections (for tests)

  struct Impl;
  struct Op;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sskai::http
