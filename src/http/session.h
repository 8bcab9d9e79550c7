// Internal: one server connection (HTTP/1.1 keep-alive) and the state shared with the Server.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/beast.h"
#include "http/http.h"
#include "http/response_stream.h"
#include "http/temp_file_body.h"

namespace sskai::http {

class Session;

// State shared by the Server, its sessions and outstanding Responders (which may outlive both).
struct ServerContext {
  Server::Options options;
  std::shared_ptr<Router> router;
  std::shared_ptr<net::thread_pool> blocking;  // runs RouteOptions::blocking handlers
  std::atomic<uint64_t> temp_counter{0};

  std::mutex mu;
  bool stopped = false;  // guarded by mu; Responders do nothing once set
  // Live sessions (guarded by mu). The map owns them while a handler is running.
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
};

// Confined to its strand (the socket's executor).
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `remote_addr` names the peer ("ip:port"; "unix" for a Unix socket peer).
  Session(any_stream_protocol::socket socket, std::string remote_addr,
          std::shared_ptr<ServerContext> ctx);
  ~Session();

  void Start();          // registers with ctx and reads the first request
  void CloseSocketNow();  // for Server::Stop after the io threads have been joined
  // Called by Responders from any thread: posts the response onto this session's strand.
  void PostResponse(Response response);

 private:
  using Clock = std::chrono::steady_clock;

  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void Route();
  void BeginBody();
  template <class Parser>
  void ReadBody(Parser& parser);
  void OnBodyError(beast::error_code ec);
  void Dispatch();
  void Reply(Response response, bool close);  // answer now (from the strand)
  void SendResponse(Response response);
  template <class Body>
  void WriteSome(std::shared_ptr<bhttp::response<Body>> msg,
                 std::shared_ptr<bhttp::response_serializer<Body>> serializer, bool close);
  void OnWritten(bool close);
  void StartStream(Response response, bool close);
  void PumpStream();  // writes what the producer queued; the last chunk once it closed
  void LingerAndFinish();
  void Finish();
  void RemoveTempFile();

  AnyStream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerContext> ctx_;
  std::string remote_addr_;

  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> string_parser_;
  std::optional<bhttp::request_parser<TempFileBody>> file_parser_;
  std::unique_ptr<Request> req_;
  Router::Match match_;
  uint64_t body_limit_ = 0;
  bool keep_alive_ = false;
  bool body_pending_ = false;  // the request body has not been (fully) read
  bool awaiting_response_ = false;
  bool force_close_ = false;  // answer with Connection: close
  int status_ = 0;            // status of the response being written
  bool closed_ = false;
  std::string temp_path_;
  Clock::time_point start_;
  std::unique_ptr<char[]> discard_;
  std::shared_ptr<ResponseStream::Impl> out_stream_;  // a chunked response in progress
  bool stream_writing_ = false;
  bool stream_close_ = false;  // close the connection after the stream
};

}  // namespace sskai::http
