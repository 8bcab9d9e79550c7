// Reference points for bench/gateway_ab.sh (FLOOR=1): what Boost.Beast itself costs per request
// on this machine, with none of sskai's routing, auth, metrics or timers. One thread, one
// io_context, keep-alive, string bodies.
//   beast_floor server PORT            answers every request with the iris MLP's JSON
//   beast_floor proxy PORT UNIX_PATH   parses each request, forwards it over its own upstream
//                                      connection to UNIX_PATH, parses the answer, writes it back
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using unix_socket = net::local::stream_protocol;

namespace {

constexpr char kAnswer[] = "{\"predictions\":[{\"class\":\"setosa\",\"probabilities\":[1,0,0]}]}";

struct Answerer : std::enable_shared_from_this<Answerer> {
  explicit Answerer(tcp::socket s) : stream(std::move(s)) {}
  void Read() {
    req = {};
    http::async_read(stream, buf, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Write();
    });
  }
  void Write() {
    res = {};
    res.version(11);
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    res.body() = kAnswer;
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::async_write(stream, res, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Read();
    });
  }
  beast::tcp_stream stream;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
};

struct Forwarder : std::enable_shared_from_this<Forwarder> {
  Forwarder(tcp::socket s, unix_socket::socket u) : client(std::move(s)), upstream(std::move(u)) {}
  void Read() {
    req = {};
    http::async_read(client, cbuf, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Forward();
    });
  }
  void Forward() {
    req.set(http::field::host, "localhost");
    http::async_write(upstream, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->ReadAnswer();
    });
  }
  void ReadAnswer() {
    res = {};
    http::async_read(upstream, ubuf, res, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Answer();
    });
  }
  void Answer() {
    http::async_write(client, res, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Read();
    });
  }
  beast::tcp_stream client;
  unix_socket::socket upstream;
  beast::flat_buffer cbuf, ubuf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "server" && argc == 3) || (mode == "proxy" && argc == 4))) {
    std::fprintf(stderr, "usage: beast_floor server PORT | beast_floor proxy PORT UNIX_PATH\n");
    return 2;
  }
  net::io_context ioc(1);
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(std::atoi(argv[2]))});
  acceptor.listen(512);
  std::string upstream_path = mode == "proxy" ? argv[3] : "";
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);  // error_code overloads: nothing throws
        if (mode == "server") {
          std::make_shared<Answerer>(std::move(socket))->Read();
        } else {
          unix_socket::socket up(ioc);
          up.connect(unix_socket::endpoint(upstream_path), ec);
          if (!ec) std::make_shared<Forwarder>(std::move(socket), std::move(up))->Read();
        }
      }
      accept();
    });
  };
  accept();
  ioc.run();
}
