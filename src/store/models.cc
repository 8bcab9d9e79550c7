// Models and their versions.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kModelSelect =
    "SELECT id, owner_id, name, created_at, latest_version, visibility FROM models";

Model ReadModel(Stmt& s) { return Model{s.Int(0), s.Int(1), s.Text(2), s.Real(3), s.Int(4), s.Text(5)}; }

constexpr const char* kVersionSelect =
    "SELECT id, model_id, version, kind, task, blob_sha256, dataset_version_id, job_id,"
    " metrics_json, spec_json, size_bytes, created_at FROM model_versions";

ModelVersion ReadVersion(Stmt& s) {
  ModelVersion v;
  v.id = s.Int(0);
  v.model_id = s.Int(1);
  v.version = s.Int(2);
  v.kind = s.Text(3);
  v.task = s.Text(4);
  v.blob_sha256 = s.Text(5);
  v.dataset_version_id = s.Int(6);
  v.job_id = s.Int(7);
  v.metrics_json = s.Text(8);
  v.spec_json = s.Text(9);
  v.size_bytes = s.Int(10);
  v.created_at = s.Real(11);
  return v;
}

std::string NotFound(const std::string& name) { return "model '" + name + "' not found"; }

}  // namespace

Result<ModelVersion> Store::AddModelVersion(int64_t owner_id, const std::string& model_name,
                                            const ModelVersion& v) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  Txn txn(impl);
  SSKAI_RETURN_IF_ERROR(txn.Begin());
  auto existing = impl.GetOne(std::string(kModelSelect) + " WHERE owner_id = ? AND name = ?",
                              {owner_id, model_name}, ReadModel, NotFound(model_name));
  Model model;
  if (existing.ok()) {
    model = *existing;
  } else if (existing.status().code() == StatusCode::kNotFound) {
    auto id = impl.Insert(
        "INSERT INTO models (owner_id, name, created_at, latest_version) VALUES (?, ?, ?, 0)",
        {owner_id, model_name, v.created_at});
    if (!id.ok() && id.status().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition("user " + std::to_string(owner_id) + " not found");
    }
    SSKAI_RETURN_IF_ERROR(id.status());
    model = Model{*id, owner_id, model_name, v.created_at, 0, "private"};
  } else {
    return existing.status();
  }
  ModelVersion out = v;
  out.model_id = model.id;
  out.version = model.latest_version + 1;
  auto id = impl.Insert(
      "INSERT INTO model_versions (model_id, version, kind, task, blob_sha256,"
      " dataset_version_id, job_id, metrics_json, spec_json, size_bytes, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {out.model_id, out.version, out.kind, out.task, out.blob_sha256,
       SqlArg::IdOrNull(out.dataset_version_id), SqlArg::IdOrNull(out.job_id), out.metrics_json,
       out.spec_json, out.size_bytes, out.created_at});
  if (!id.ok() && id.status().code() == StatusCode::kFailedPrecondition) {
    return Status::FailedPrecondition("model '" + model_name + "': dataset version " +
                                      std::to_string(v.dataset_version_id) + " or job " +
                                      std::to_string(v.job_id) + " not found");
  }
  SSKAI_RETURN_IF_ERROR(id.status());
  out.id = *id;
  SSKAI_RETURN_IF_ERROR(impl.Exec("UPDATE models SET latest_version = ? WHERE id = ?",
                                  {out.version, model.id})
                            .status());
  SSKAI_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<Model> Store::GetModel(int64_t owner_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kModelSelect) + " WHERE owner_id = ? AND name = ?",
                       {owner_id, name}, ReadModel, NotFound(name));
}

Result<Model> Store::GetModelById(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kModelSelect) + " WHERE id = ?", {id}, ReadModel,
                       "model " + std::to_string(id) + " not found");
}

Result<ListResult<Model>> Store::ListModels(int64_t owner_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kModelSelect, "owner_id = ?", {owner_id}, page, ReadModel);
}

Result<Model> Store::GetVisibleModel(int64_t user_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kModelSelect) +
                           " WHERE name = ? AND (owner_id = ? OR visibility = 'public')"
                           " ORDER BY owner_id = ? DESC, id ASC LIMIT 1",
                       {name, user_id, user_id}, ReadModel, NotFound(name));
}

Result<ListResult<Model>> Store::ListVisibleModels(int64_t user_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kModelSelect, "owner_id = ? OR visibility = 'public'", {user_id}, page, ReadModel);
}

Status Store::SetModelVisibility(int64_t model_id, const std::string& visibility) {
  if (visibility != "private" && visibility != "public") {
    return Status::InvalidArgument("visibility must be 'private' or 'public', got '" + visibility + "'");
  }
  std::lock_guard lock(impl_->mu);
  SSKAI_ASSIGN_OR_RETURN(int64_t changed, impl_->Exec("UPDATE models SET visibility = ? WHERE id = ?",
                                                      {visibility, model_id}));
  if (changed == 0) return Status::NotFound("model " + std::to_string(model_id) + " not found");
  return Status::Ok();
}

Result<ModelVersion> Store::GetModelVersion(int64_t model_id, int64_t version) {
  std::lock_guard lock(impl_->mu);
  const std::string what = "version " + (version == 0 ? std::string("latest")
                                                       : std::to_string(version)) +
                            " of model " + std::to_string(model_id) + " not found";
  if (version == 0) {
    return impl_->GetOne(std::string(kVersionSelect) +
                             " WHERE model_id = ? ORDER BY version DESC LIMIT 1",
                         {model_id}, ReadVersion, what);
  }
  return impl_->GetOne(std::string(kVersionSelect) + " WHERE model_id = ? AND version = ?",
                       {model_id, version}, ReadVersion, what);
}

Result<ModelVersion> Store::GetModelVersionById(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kVersionSelect) + " WHERE id = ?", {id}, ReadVersion,
                       "model version " + std::to_string(id) + " not found");
}

Result<ListResult<ModelVersion>> Store::ListModelVersions(int64_t model_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kVersionSelect, "model_id = ?", {model_id}, page, ReadVersion);
}

}  // namespace sskai::store
