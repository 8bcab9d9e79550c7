// The gateway's streaming proxy: server-sent events from a replica passed on chunk by chunk.
#include "serving/internal.h"

namespace sskai::serving {

Result<http::ClientResponse> ProxyStream(http::ClientPool& pool, EndpointManager::Pending& p,
                                         const std::string& key) {
  std::map<std::string, std::string> headers = {{"content-type", "application/json"},
                                                {"accept", "text/event-stream"}};
  if (!key.empty()) headers[kReplicaKeyHeader] = key;
  SSKAI_ASSIGN_OR_RETURN(auto client, pool.Acquire());
  std::shared_ptr<http::ResponseStream> out;
  std::string buffered;  // a non-streamed answer (errors) is returned whole
  bool aborted = false;
  auto res = client->Stream(
      "POST", p.target, p.body, headers,
      [&](const http::ClientResponse& head) {
        auto ct = head.headers.find("content-type");
        bool sse = ct != head.headers.end() && ct->second.starts_with("text/event-stream");
        if (head.status < 200 || head.status >= 300 || !sse) return true;
        out = http::ResponseStream::Create();
        http::Response resp;
        resp.status = head.status;
        resp.content_type = ct->second;
        resp.headers.push_back({"Cache-Control", "no-cache"});
        resp.headers.push_back({"X-Accel-Buffering", "no"});
        resp.stream = out;
        p.answered = true;
        p.done(std::move(resp));
        return true;
      },
      [&](std::string_view data) {
        if (!out) {
          buffered.append(data);
          return true;
        }
        if (out->Write(std::string(data))) return true;
        aborted = true;  // the caller went away: closing our connection stops the replica
        return false;
      });
  if (out) {
    out->Close();
    if (res.ok() && !aborted) pool.Release(std::move(client));
    if (!res.ok()) {
      // The stream broke after its header: the caller already has a 2xx; end it and report the
      // request as answered (the replica's failure is noticed by the supervisor).
      http::ClientResponse partial;
      partial.status = 200;
      return partial;
    }
    return res;
  }
  if (!res.ok()) return res.status();
  pool.Release(std::move(client));
  res->body = std::move(buffered);
  return res;
}

}  // namespace sskai::serving
