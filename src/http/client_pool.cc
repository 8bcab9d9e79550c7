// ClientPool: a mutex-guarded stack of idle keep-alive Clients to one base URL.
#include <mutex>

#include "http/http.h"

namespace sskai::http {

struct ClientPool::State {
  std::string base_url;
  size_t max_idle = 0;
  Client::Options options;
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Client>> idle;  // guarded by mu
};

ClientPool::ClientPool(std::string base_url, size_t max_idle, Client::Options o)
    : state_(std::make_unique<State>()) {
  state_->base_url = std::move(base_url);
  state_->max_idle = max_idle;
  state_->options = o;
}

ClientPool::~ClientPool() = default;

Result<std::unique_ptr<Client>> ClientPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->idle.empty()) {
      std::unique_ptr<Client> client = std::move(state_->idle.back());
      state_->idle.pop_back();
      return client;
    }
  }
  return Client::Create(state_->base_url, state_->options);
}

void ClientPool::Release(std::unique_ptr<Client> client) {
  if (!client) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->idle.size() < state_->max_idle) state_->idle.push_back(std::move(client));
}

size_t ClientPool::idle_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->idle.size();
}

Result<ClientResponse> ClientPool::Request(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const std::map<std::string, std::string>& headers) {
  SSKAI_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Acquire());
  Result<ClientResponse> result = client->Request(method, target, body, headers);
  if (result.ok()) Release(std::move(client));
  return result;
}

}  // namespace sskai::http
