// Datasets and their versions.
#include "store/store_impl.h"

namespace sskai::store {
namespace {

constexpr const char* kDatasetSelect =
    "SELECT id, owner_id, name, created_at, latest_version, description FROM datasets";

Dataset ReadDataset(Stmt& s) {
  return Dataset{s.Int(0), s.Int(1), s.Text(2), s.Real(3), s.Int(4), s.Text(5)};
}

constexpr const char* kVersionSelect =
    "SELECT id, dataset_id, version, blob_sha256, format, size_bytes, rows, schema_json,"
    " stats_json, original_filename, created_at FROM dataset_versions";

DatasetVersion ReadVersion(Stmt& s) {
  DatasetVersion v;
  v.id = s.Int(0);
  v.dataset_id = s.Int(1);
  v.version = s.Int(2);
  v.blob_sha256 = s.Text(3);
  v.format = s.Text(4);
  v.size_bytes = s.Int(5);
  v.rows = s.Int(6);
  v.schema_json = s.Text(7);
  v.stats_json = s.Text(8);
  v.original_filename = s.Text(9);
  v.created_at = s.Real(10);
  return v;
}

std::string NotFound(const std::string& name) { return "dataset '" + name + "' not found"; }

}  // namespace

Result<DatasetVersion> Store::AddDatasetVersion(int64_t owner_id, const std::string& name,
                                                const DatasetVersion& v,
                                                const std::string& description) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  Txn txn(impl);
  SSKAI_RETURN_IF_ERROR(txn.Begin());
  auto existing = impl.GetOne(std::string(kDatasetSelect) + " WHERE owner_id = ? AND name = ?",
                              {owner_id, name}, ReadDataset, NotFound(name));
  Dataset dataset;
  if (existing.ok()) {
    dataset = *existing;
  } else if (existing.status().code() == StatusCode::kNotFound) {
    auto id = impl.Insert(
        "INSERT INTO datasets (owner_id, name, created_at, latest_version, description)"
        " VALUES (?, ?, ?, 0, ?)",
        {owner_id, name, v.created_at, description});
    if (!id.ok() && id.status().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition("user " + std::to_string(owner_id) + " not found");
    }
    SSKAI_RETURN_IF_ERROR(id.status());
    dataset = Dataset{*id, owner_id, name, v.created_at, 0, description};
  } else {
    return existing.status();
  }
  DatasetVersion out = v;
  out.dataset_id = dataset.id;
  out.version = dataset.latest_version + 1;
  SSKAI_ASSIGN_OR_RETURN(
      out.id, impl.Insert("INSERT INTO dataset_versions (dataset_id, version, blob_sha256, format,"
                          " size_bytes, rows, schema_json, stats_json, original_filename,"
                          " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          {out.dataset_id, out.version, out.blob_sha256, out.format,
                           out.size_bytes, out.rows, out.schema_json, out.stats_json,
                           out.original_filename, out.created_at}));
  SSKAI_RETURN_IF_ERROR(
      impl.Exec("UPDATE datasets SET latest_version = ?,"
                " description = CASE WHEN ? != '' THEN ? ELSE description END WHERE id = ?",
                {out.version, description, description, dataset.id})
          .status());
  SSKAI_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<Dataset> Store::GetDataset(int64_t owner_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kDatasetSelect) + " WHERE owner_id = ? AND name = ?",
                       {owner_id, name}, ReadDataset, NotFound(name));
}

Result<Dataset> Store::GetDatasetById(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kDatasetSelect) + " WHERE id = ?", {id}, ReadDataset,
                       "dataset " + std::to_string(id) + " not found");
}

Result<ListResult<Dataset>> Store::ListDatasets(int64_t owner_id, const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kDatasetSelect, "owner_id = ?", {owner_id}, page, ReadDataset);
}

Result<DatasetVersion> Store::GetDatasetVersion(int64_t dataset_id, int64_t version) {
  std::lock_guard lock(impl_->mu);
  const std::string what = "version " + (version == 0 ? std::string("latest")
                                                       : std::to_string(version)) +
                            " of dataset " + std::to_string(dataset_id) + " not found";
  if (version == 0) {
    return impl_->GetOne(std::string(kVersionSelect) +
                             " WHERE dataset_id = ? ORDER BY version DESC LIMIT 1",
                         {dataset_id}, ReadVersion, what);
  }
  return impl_->GetOne(std::string(kVersionSelect) + " WHERE dataset_id = ? AND version = ?",
                       {dataset_id, version}, ReadVersion, what);
}

Result<DatasetVersion> Store::GetDatasetVersionById(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->GetOne(std::string(kVersionSelect) + " WHERE id = ?", {id}, ReadVersion,
                       "dataset version " + std::to_string(id) + " not found");
}

Result<ListResult<DatasetVersion>> Store::ListDatasetVersions(int64_t dataset_id,
                                                              const Page& page) {
  std::lock_guard lock(impl_->mu);
  return impl_->ListPage(kVersionSelect, "dataset_id = ?", {dataset_id}, page, ReadVersion);
}

Status Store::DeleteDataset(int64_t owner_id, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  Txn txn(impl);
  SSKAI_RETURN_IF_ERROR(txn.Begin());
  SSKAI_ASSIGN_OR_RETURN(
      int64_t dataset_id,
      impl.GetOne("SELECT id FROM datasets WHERE owner_id = ? AND name = ?", {owner_id, name},
                  [](Stmt& s) { return s.Int(0); }, NotFound(name)));
  SSKAI_ASSIGN_OR_RETURN(
      int64_t models,
      impl.GetOne("SELECT COUNT(*) FROM model_versions WHERE dataset_version_id IN"
                  " (SELECT id FROM dataset_versions WHERE dataset_id = ?)",
                  {dataset_id}, [](Stmt& s) { return s.Int(0); }, "count"));
  SSKAI_ASSIGN_OR_RETURN(
      int64_t jobs, impl.GetOne("SELECT COUNT(*) FROM jobs WHERE dataset_version_id IN"
                                " (SELECT id FROM dataset_versions WHERE dataset_id = ?)",
                                {dataset_id}, [](Stmt& s) { return s.Int(0); }, "count"));
  if (models > 0 || jobs > 0) {
    return Status::FailedPrecondition(
        "dataset '" + name + "' is referenced by " + std::to_string(models) +
        " model version(s) and " + std::to_string(jobs) + " job(s)");
  }
  SSKAI_RETURN_IF_ERROR(impl.Exec("DELETE FROM datasets WHERE id = ?", {dataset_id}).status());
  return txn.Commit();
}

}  // namespace sskai::store
