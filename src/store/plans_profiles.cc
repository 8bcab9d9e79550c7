// Stored plans (what a job or endpoint was created from) and measured model profiles.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kPlanSelect =
    "SELECT id, owner_id, kind, request_json, result_json, catalog_date, created_at FROM plans";

StoredPlan ReadPlan(Stmt& s) {
  return StoredPlan{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Real(6)};
}

}  // namespace

Result<StoredPlan> Store::CreatePlan(const StoredPlan& plan) {
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(
      int64_t id,
      impl_->Insert("INSERT INTO plans (owner_id, kind, request_json, result_json, catalog_date,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    {plan.owner_id, plan.kind, plan.request_json, plan.result_json,
                     plan.catalog_date, plan.created_at}));
  StoredPlan out = plan;
  out.id = id;
  return out;
}

Result<StoredPlan> Store::GetPlan(int64_t owner_id, int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kPlanSelect) + " WHERE id = ? AND (? = 0 OR owner_id = ?)",
                       {id, owner_id, owner_id}, ReadPlan, "plan " + std::to_string(id) + " not found");
}

Result<ListResult<StoredPlan>> Store::ListPlans(int64_t owner_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kPlanSelect, "? = 0 OR owner_id = ?", {owner_id, owner_id}, page, ReadPlan);
}

Status Store::PutModelProfile(int64_t model_version_id, const std::string& profile_json, double now) {
  std::lock_guard lock(impl_->mu);
  auto exists = impl_->GetOne("SELECT id FROM model_versions WHERE id = ?", {model_version_id},
                              [](Stmt& s) { return s.Int(0); },
                              "model version " + std::to_string(model_version_id) + " not found");
  if (!exists.ok()) return exists.status();
  return impl_
      ->Exec("INSERT INTO model_profiles (model_version_id, profile_json, created_at) VALUES (?, ?, ?)"
             " ON CONFLICT(model_version_id) DO UPDATE SET profile_json = excluded.profile_json,"
             " created_at = excluded.created_at",
             {model_version_id, profile_json, now})
      .status();
}

Result<std::string> Store::GetModelProfile(int64_t model_version_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne("SELECT profile_json FROM model_profiles WHERE model_version_id = ?",
                       {model_version_id}, [](Stmt& s) { return s.Text(0); },
                       "model version " + std::to_string(model_version_id) + " has no profile");
}

}  // namespace sskai::store
