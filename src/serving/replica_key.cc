// Replica keys: the shared secret that authenticates the gateway to a replica listening on the
// network (Slurm replicas). Without it anyone who can reach a replica's host:port could call
// /predict or the OpenAI routes past the gateway's auth, quotas and billing.
//
// Why derived, not stored: a replica's key is HMAC-SHA256(server secret, row id + creation
// time of its endpoint_replicas row). A restarted server re-derives the same key from the row it
// re-attaches to, so no secret is written to the database (which is backed up, copied and read
// by tools more freely than one 0600 file), no migration is needed, and forgetting the row
// forgets the key. The creation time makes a reused row id (SQLite reuses the largest id once
// it is deleted) derive a different key.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>

#include "common/log.h"
#include "serving/internal.h"

namespace sskai::serving {

namespace {

constexpr size_t kSecretBytes = 32;  // 256 bits

std::string Hex(const unsigned char* data, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t idx = 0; idx < n; ++idx) {
    out.push_back(kHex[data[idx] >> 4]);
    out.push_back(kHex[data[idx] & 15]);
  }
  return out;
}

bool IsHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<std::string> LoadOrCreateReplicaSecret(const std::string& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ifstream in(path);
    if (in) {
      std::string text;
      std::getline(in, text);
      if (text.size() != kSecretBytes * 2 || !IsHex(text)) {
        return Status::FailedPrecondition("the replica key secret '" + path +
                                          "' is malformed (expected 64 hex characters)");
      }
      return text;
    }
    unsigned char raw[kSecretBytes];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
      return Status::Internal("cannot generate the replica key secret");
    }
    std::string text = Hex(raw, sizeof(raw)) + "\n";
    // O_EXCL: two creators race, one wins and the other reads the winner's secret.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return Status::Internal("cannot create the replica key secret '" + path + "'");
    }
    bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    written = ::fsync(fd) == 0 && written;
    ::close(fd);
    if (!written) {
      ::unlink(path.c_str());
      return Status::Internal("cannot write the replica key secret '" + path + "'");
    }
    text.pop_back();
    return text;
  }
  return Status::Internal("cannot read the replica key secret '" + path + "'");
}

std::string DeriveReplicaKey(const std::string& secret, int64_t row_id, double created_at) {
  // created_at round-trips SQLite's REAL exactly; microseconds keep the message text stable.
  const std::string message = "sskai-replica-key/v1/" + std::to_string(row_id) + "/" +
                              std::to_string(std::llround(created_at * 1e6));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
           &len) == nullptr) {
    return "";  // OpenSSL failed: no key, so LaunchSlurm refuses to start the replica
  }
  return Hex(mac, len);
}

Result<std::string> RandomReplicaKey() {
  unsigned char raw[kSecretBytes];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return Status::Internal("cannot generate a replica key");
  return Hex(raw, sizeof(raw));
}

bool ReplicaKeyMatches(const std::string& expected, const std::string& given) {
  // Constant time in the content; the length (64 hex characters) is no secret.
  if (expected.size() != given.size()) return false;
  return CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

ReplicaMiddleware ReplicaKeyMiddleware(std::string key) {
  if (key.empty()) return nullptr;
  return ReplicaKeyMiddleware(std::make_shared<ReplicaKey>(std::move(key)));
}

ReplicaMiddleware ReplicaKeyMiddleware(std::shared_ptr<ReplicaKey> key) {
  if (!key || key->Get().empty()) return nullptr;
  return [key = std::move(key)](http::Request& req,
                                const http::RouteInfo& route) -> std::optional<http::Response> {
    if (route.method == "GET" && route.pattern == "/healthz") return std::nullopt;  // liveness
    if (ReplicaKeyMatches(key->Get(), req.Header(kReplicaKeyHeader))) return std::nullopt;
    return http::ErrorResponse(Status::Unauthenticated(
        std::string("this replica requires its key in the ") + kReplicaKeyHeader +
        " header; call it through the gateway (/v1/endpoints/{name}/...)"));
  };
}

std::string EndpointManager::ReplicaKeyFor(int64_t row_id, double created_at) {
  if (replica_secret_.empty()) {
    std::string path = options_.replica_secret_file.empty()
                           ? options_.run_dir + "/replica-key.secret"
                           : options_.replica_secret_file;
    auto secret = LoadOrCreateReplicaSecret(path);
    if (!secret.ok()) {
      SSKAI_LOG_ERROR("serving: no replica keys: {}", secret.status().ToString());
      return "";
    }
    replica_secret_ = *secret;
  }
  return DeriveReplicaKey(replica_secret_, row_id, created_at);
}

}  // namespace sskai::serving
