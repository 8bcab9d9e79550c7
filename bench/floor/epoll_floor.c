// Reference points for bench/gateway_ab.sh (FLOOR=1): the least a keep-alive HTTP/1.1 server and
// a two-hop proxy can spend per request on this machine. One thread, epoll, no HTTP parsing (wrk
// sends one request at a time per connection).
//   epoll_floor server PORT UNIX_PATH  one read and one write per request: a fixed JSON answer the
//                                      size of the iris MLP's, on 127.0.0.1:PORT and UNIX_PATH
//   epoll_floor proxy PORT UNIX_PATH   every client connection gets its own upstream connection
//                                      to UNIX_PATH and bytes are copied both ways: no routing, no
//                                      pooling. What a real gateway spends above this is its own.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define kMaxFd 65536
static int peer[kMaxFd];  // proxy: the other end of each connection

static const char kAnswer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
    "{\"predictions\":[{\"class\":\"setosa\",\"probabilities\":[1,0,0]}]}";

static void Watch(int ep, int fd) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int ListenTcp(int port) {
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (void*)&in, sizeof in) || listen(fd, 512)) return -1;
  return fd;
}

static int ListenUnix(const struct sockaddr_un* un) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  unlink(un->sun_path);
  if (bind(fd, (const void*)un, sizeof *un) || listen(fd, 512)) return -1;
  return fd;
}

// Accepts one connection; proxy mode also connects its upstream. -1 when that failed.
static int Accept(int ep, int listener, int tcp, const struct sockaddr_un* up) {
  int one = 1;
  int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
  if (c < 0 || c >= kMaxFd) goto fail;
  if (listener == tcp) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (up != NULL) {
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (u < 0 || u >= kMaxFd || connect(u, (const void*)up, sizeof *up)) {
      if (u >= 0) close(u);
      goto fail;
    }
    peer[c] = u;
    peer[u] = c;
    Watch(ep, u);
  }
  Watch(ep, c);
  return c;
fail:
  if (c >= 0) close(c);
  return -1;
}

int main(int argc, char** argv) {
  int proxy = argc == 4 && strcmp(argv[1], "proxy") == 0;
  if (argc != 4 || (!proxy && strcmp(argv[1], "server") != 0)) {
    fprintf(stderr, "usage: epoll_floor server|proxy PORT UNIX_PATH\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);  // a client that went away must not end the program
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  strncpy(un.sun_path, argv[3], sizeof un.sun_path - 1);
  int tcp = ListenTcp(atoi(argv[2]));
  int unx = proxy ? -1 : ListenUnix(&un);
  if (tcp < 0 || (!proxy && unx < 0)) {
    perror("epoll_floor: listen");
    return 1;
  }
  int ep = epoll_create1(0);
  Watch(ep, tcp);
  if (unx >= 0) Watch(ep, unx);
  char buf[65536];
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == tcp || fd == unx) {
        Accept(ep, fd, tcp, proxy ? &un : NULL);
        continue;
      }
      ssize_t got = read(fd, buf, sizeof buf);
      int out = proxy ? peer[fd] : fd;
      const char* data = proxy ? buf : kAnswer;
      ssize_t len = proxy ? got : (ssize_t)(sizeof kAnswer - 1);
      if (got <= 0 || write(out, data, len) != len) {
        if (proxy) close(peer[fd]);
        close(fd);
      }
    }
  }
}
