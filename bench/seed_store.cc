// bench/seed_store — fills a data directory with N datasets, N models and N jobs owned by the
// admin user, through the product's own Store and BlobStore, so the server can be measured
// with a realistic amount of metadata. Run it while the server is stopped.
//   seed_store <data-dir> <N>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "artifacts/artifacts.h"
#include "store/store.h"

using namespace sskai;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: seed_store <data-dir> <N>\n");
    return 2;
  }
  std::string dir = argv[1];
  int n = std::atoi(argv[2]);
  auto store = store::Store::Open(dir + "/sskai.db");
  auto blobs = artifacts::OpenLocalBlobStore(dir + "/artifacts");
  if (!store.ok() || !blobs.ok()) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    return 1;
  }
  auto admin = (*store)->GetUserByName("admin");
  if (!admin.ok()) {
    std::fprintf(stderr, "start the server once first (no admin user)\n");
    return 1;
  }
  double now = 1.8e9;
  for (int idx = 0; idx < n; ++idx) {
    std::string csv = "x,y,label\n" + std::to_string(idx) + ",2,a\n3,4,b\n";
    auto sha = (*blobs)->PutString(csv);
    store::DatasetVersion dv;
    dv.blob_sha256 = *sha;
    dv.format = "csv";
    dv.size_bytes = static_cast<int64_t>(csv.size());
    dv.rows = 2;
    dv.schema_json = R"({"columns":[{"name":"x","type":"integer"},{"name":"y","type":"integer"},{"name":"label","type":"string"}],"target":"label"})";
    dv.stats_json = "{}";
    dv.created_at = now;
    auto v = (*store)->AddDatasetVersion(admin->id, "ds-" + std::to_string(idx), dv);
    if (!v.ok()) {
      std::fprintf(stderr, "%s\n", v.status().ToString().c_str());
      return 1;
    }
    store::Job job;
    job.owner_id = admin->id;
    job.name = "job-" + std::to_string(idx);
    job.state = "succeeded";
    job.dataset_version_id = v->id;
    job.output_model = "model-" + std::to_string(idx);
    job.spec_json = R"({"task":"classification","hyperparameters":{"epochs":10}})";
    job.created_at = job.started_at = job.finished_at = job.updated_at = now;
    auto j = (*store)->CreateJob(job);
    store::ModelVersion mv;
    mv.kind = "trained";
    mv.task = "classification";
    mv.blob_sha256 = *sha;
    mv.dataset_version_id = v->id;
    mv.job_id = j.ok() ? j->id : 0;
    mv.metrics_json = R"({"accuracy":0.9})";
    mv.spec_json = "{}";
    mv.created_at = now;
    auto m = (*store)->AddModelVersion(admin->id, job.output_model, mv);
    if (!j.ok() || !m.ok()) {
      std::fprintf(stderr, "seeding failed\n");
      return 1;
    }
  }
  std::printf("seeded %d datasets, jobs and models\n", n);
  return 0;
}
