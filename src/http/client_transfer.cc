// Client: streamed responses (Stream), uploads from a file and downloads to a file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "http/client_impl.h"

namespace sskai::http {

using internal::kEarlyResponseWait;
using internal::kUploadChunkBytes;
using internal::LowerHeaders;
using internal::IsStaleConnectionError;
using internal::SetRequestLine;

Result<ClientResponse> Client::Stream(const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::map<std::string, std::string>& headers,
                                      const std::function<bool(const ClientResponse&)>& on_header,
                                      const std::function<bool(std::string_view)>& on_data) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    SSKAI_RETURN_IF_ERROR(c.WriteRequest(method, target, body, headers, stale));
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(kNoBodyLimit);
    beast::error_code ec =
        c.RunIo([&](auto& s, auto handler) { bhttp::async_read_header(s, c.buffer, parser, handler); });
    if (ec) {
      *stale = !parser.got_some() && IsStaleConnectionError(ec);
      return c.IoError(ec, "reading the response from");
    }
    ClientResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.headers = LowerHeaders(parser.get());
    if (on_header && !on_header(out)) {
      c.Disconnect();
      return out;
    }
    char buf[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = buf;
      parser.get().body().size = sizeof(buf);
      c.tcp().expires_after(c.options.timeout);
      ReserveForBody(c.buffer, parser);
      ec = c.RunIo([&](auto& s, auto handler) { bhttp::async_read_some(s, c.buffer, parser, handler); });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return c.IoError(ec, "reading the response from");
      size_t n = sizeof(buf) - parser.get().body().size;
      if (n > 0 && on_data && !on_data(std::string_view(buf, n))) {
        c.Disconnect();
        return out;
      }
    }
    if (!parser.get().keep_alive()) c.Disconnect();
    if (c.connected()) c.tcp().expires_never();
    return out;
  });
}

Result<ClientResponse> Client::UploadFile(const std::string& method, const std::string& target,
                                          const std::string& path,
                                          const std::map<std::string, std::string>& headers,
                                          std::function<void(uint64_t, uint64_t)> progress) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound("cannot open " + path);
    struct stat st {};
    ::fstat(fd, &st);
    uint64_t total = static_cast<uint64_t>(st.st_size);
    std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });

    bhttp::request<bhttp::empty_body> req;
    SetRequestLine(req, method, target, c.host_header, headers);
    req.content_length(total);
    bhttp::request_serializer<bhttp::empty_body> sr(req);
    c.tcp().expires_after(c.options.timeout);
    beast::error_code ec =
        c.RunIo([&](auto& s, auto handler) { bhttp::async_write_header(s, sr, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    std::vector<char> chunk(kUploadChunkBytes);
    uint64_t sent = 0;
    while (sent < total) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        c.Disconnect();
        return Status::Internal("reading " + path + " failed or it shrank while uploading");
      }
      c.tcp().expires_after(c.options.timeout);
      ec = c.RunIo([&](auto& s, auto handler) {
        net::async_write(s, net::buffer(chunk.data(), static_cast<size_t>(n)), handler);
      });
      if (ec) {
        // The server may have answered early (413, 401) and stopped reading: take its answer.
        c.tcp().expires_after(std::min<std::chrono::milliseconds>(c.options.timeout, kEarlyResponseWait));
        auto early = c.ReadResponse(false, nullptr);
        c.Disconnect();
        if (early.ok()) return early;
        return c.IoError(ec, "uploading to");
      }
      sent += static_cast<uint64_t>(n);
      if (progress) progress(sent, total);
    }
    c.tcp().expires_after(c.options.timeout);
    auto result = c.ReadResponse(false, nullptr);
    if (c.connected()) c.tcp().expires_never();
    return result;
  });
}

Result<ClientResponse> Client::DownloadToFile(const std::string& target, const std::string& path,
                                              const std::map<std::string, std::string>& headers) {
  Impl& c = *impl_;
  return c.WithRetry([&](bool* stale) -> Result<ClientResponse> {
    bhttp::request<bhttp::empty_body> req;
    SetRequestLine(req, "GET", target, c.host_header, headers);
    c.tcp().expires_after(c.options.timeout);
    beast::error_code ec = c.RunIo([&](auto& s, auto handler) { bhttp::async_write(s, req, handler); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return c.IoError(ec, "sending a request to");
    }
    bhttp::response_parser<bhttp::empty_body> header_parser;
    header_parser.body_limit(kNoBodyLimit);
    ec = c.RunIo([&](auto& s, auto handler) { bhttp::async_read_header(s, c.buffer, header_parser, handler); });
    if (ec) {
      *stale = !header_parser.got_some() && IsStaleConnectionError(ec);
      return c.IoError(ec, "reading the response from");
    }
    int status = static_cast<int>(header_parser.get().result_int());
    if (status < 200 || status >= 300) {
      bhttp::response_parser<bhttp::string_body> parser(std::move(header_parser));
      parser.body_limit(kNoBodyLimit);
      ReserveForBody(c.buffer, parser);
      ec = c.RunIo([&](auto& s, auto handler) { bhttp::async_read(s, c.buffer, parser, handler); });
      if (ec) return c.IoError(ec, "reading the response from");
      ClientResponse out{status, std::move(parser.get().body()), LowerHeaders(parser.get())};
      if (!parser.get().keep_alive()) c.Disconnect();
      if (c.connected()) c.tcp().expires_never();
      return out;
    }
    std::string part = path + ".part";
    bhttp::response_parser<bhttp::file_body> parser(std::move(header_parser));
    parser.body_limit(kNoBodyLimit);
    parser.get().body().open(part.c_str(), beast::file_mode::write, ec);
    if (ec) {
      c.Disconnect();
      return Status::Internal("cannot write " + part + ": " + ec.message());
    }
    while (!parser.is_done()) {
      c.tcp().expires_after(c.options.timeout);
      ReserveForBody(c.buffer, parser);
      ec = c.RunIo([&](auto& s, auto handler) { bhttp::async_read_some(s, c.buffer, parser, handler); });
      if (ec) {
        parser.get().body().close();
        std::remove(part.c_str());
        return c.IoError(ec, "downloading from");
      }
    }
    ClientResponse out{status, "", LowerHeaders(parser.get())};
    bool keep_alive = parser.get().keep_alive();
    parser.get().body().close();
    if (std::rename(part.c_str(), path.c_str()) != 0) {
      std::remove(part.c_str());
      c.Disconnect();
      return Status::Internal("cannot rename " + part + " to " + path);
    }
    if (!keep_alive) c.Disconnect();
    if (c.connected()) c.tcp().expires_never();
    return out;
  });
}

}  // namespace sskai::http
