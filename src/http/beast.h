// Internal: the Boost.Beast/Asio includes for the http module, in one place.
// GCC 12 + C++20: <utility> must come before any Boost include (boost/asio/awaitable.hpp).
#pragma once

#include <utility>

#include <algorithm>
#include <cstdint>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sskai::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using local_stream = boost::asio::local::stream_protocol;
// Either a TCP or a Unix domain stream socket: sessions and the async client's connections use it,
// so one code path serves both (a tcp or local socket moves into it).
using any_stream_protocol = boost::asio::generic::stream_protocol;
using AnyStream = beast::basic_stream<any_stream_protocol>;
// Beast 1.74 compares the Content-Length with an optional limit, and boost::none compares as
// smaller than any length: use a numeric "unlimited" instead of body_limit(boost::none).
inline constexpr uint64_t kNoBodyLimit = ~uint64_t{0};

// Beast reads max(512, free capacity) bytes per call, and a body parser consumes what arrives, so
// a flat_buffer that starts small never grows: a 3 KB body took 7 reads, each one more trip
// through the event loop. Before reading a body, make room for the rest of it (up to 64 KiB;
// 64 KiB when its length is unknown) so it comes in one read.
inline constexpr size_t kBodyReadBytes = 64 * 1024;
template <class Parser>
void ReserveForBody(beast::flat_buffer& buffer, const Parser& parser) {
  size_t want = kBodyReadBytes;
  if (auto remaining = parser.content_length_remaining()) {
    want = *remaining > buffer.size()
               ? static_cast<size_t>(std::min<uint64_t>(*remaining - buffer.size(), kBodyReadBytes))
               : 0;
  }
  if (want > 0 && buffer.capacity() - buffer.size() < want) buffer.reserve(buffer.size() + want);
}
}  // namespace sskai::http
