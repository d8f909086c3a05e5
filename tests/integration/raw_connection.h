// A raw client connection to an in-process listener, for requests httplib's client would not
// send (broken framing, a body trickled byte by byte, a connection left silent).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace gangsched::api {

class RawConnection {
 public:
  // `read_timeout_s`: how long a read may wait before it counts as no answer.
  explicit RawConnection(int port, int read_timeout_s = 20) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{read_timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void Send(const std::string& data) {
    REQUIRE(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(data.size()));
  }
  // False when the server has closed the connection (or reset it).
  bool TrySend(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until the headers and Content-Length bytes of body arrived (or the peer closes).
  std::string ReadResponse() {
    std::string in;
    char buf[4096];
    while (true) {
      const std::size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) {
          const std::size_t len = std::stoul(in.substr(cl + 16));
          if (in.size() >= end + 4 + len) return in;
        }
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return in;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  // True when the server closed the connection: a read returns end of stream (or a reset)
  // rather than data or the read timeout.
  bool ClosedByServer() {
    char c = 0;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  // True when the server has answered or closed by now, without waiting.
  bool AnsweredOrClosed() {
    char c = 0;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
};

}  // namespace gangsched::api
