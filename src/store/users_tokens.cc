// Users and API tokens.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kUserSelect = "SELECT id, name, is_admin, created_at FROM users";

User ReadUser(Stmt& s) { return User{s.Int(0), s.Text(1), s.Bool(2), s.Real(3)}; }

constexpr const char* kTokenSelect =
    "SELECT id, user_id, name, token_hash, created_at, expires_at FROM api_tokens";

ApiToken ReadToken(Stmt& s) {
  return ApiToken{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Real(4), s.Real(5)};
}

}  // namespace

Result<User> Store::CreateUser(const std::string& name, bool is_admin, double now) {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->Insert("INSERT INTO users (name, is_admin, created_at) VALUES (?, ?, ?)",
                          {name, is_admin, now});
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("user '" + name + "' already exists");
    }
    return id.status();
  }
  return User{*id, name, is_admin, now};
}

Result<User> Store::GetUser(int64_t id) {
  return impl_->ReadThrough(&Impl::ReadCache::users, id, [&] {
    return impl_->GetOne(std::string(kUserSelect) + " WHERE id = ?", {id}, ReadUser,
                         "user " + std::to_string(id) + " not found");
  });
}

Result<User> Store::GetUserByName(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kUserSelect) + " WHERE name = ?", {name}, ReadUser,
                       "user '" + name + "' not found");
}

Result<ListResult<User>> Store::ListUsers(const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kUserSelect, "", {}, page, ReadUser);
}

Result<int64_t> Store::CountUsers() {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne("SELECT COUNT(*) FROM users", {}, [](Stmt& s) { return s.Int(0); },
                       "users");
}

Result<ApiToken> Store::CreateToken(const ApiToken& token) {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->Insert(
      "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)"
      " VALUES (?, ?, ?, ?, ?)",
      {token.user_id, token.name, token.token_hash, token.created_at, token.expires_at});
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("token hash already exists");
    }
    if (id.status().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition("user " + std::to_string(token.user_id) + " not found");
    }
    return id.status();
  }
  ApiToken out = token;
  out.id = *id;
  return out;
}

uint64_t Store::AuthGeneration() const {
  return impl_->auth_generation.load(std::memory_order_acquire);
}

Result<ApiToken> Store::FindTokenByHash(const std::string& token_hash) {
  return impl_->ReadThrough(&Impl::ReadCache::tokens, token_hash, [&] {
    return impl_->GetOne(std::string(kTokenSelect) + " WHERE token_hash = ?", {token_hash},
                         ReadToken, "token not found");
  });
}

Result<ListResult<ApiToken>> Store::ListTokens(int64_t user_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kTokenSelect, "user_id = ?", {user_id}, page, ReadToken);
}

Status Store::DeleteToken(int64_t user_id, int64_t token_id) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed,
                         impl_->Exec("DELETE FROM api_tokens WHERE id = ? AND user_id = ?",
                                     {token_id, user_id}));
  if (changed == 0) return Status::NotFound("token " + std::to_string(token_id) + " not found");
  return Status::Ok();
}

Result<int64_t> Store::DeleteTokensByName(int64_t user_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->Exec("DELETE FROM api_tokens WHERE user_id = ? AND name = ?", {user_id, name});
}

}  // namespace sskai::store
