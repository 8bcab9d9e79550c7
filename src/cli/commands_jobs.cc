// sskai train [--wait], sskai jobs list|show|logs|cancel|pause|resume.
#include <unistd.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

std::string ProgressLine(const json& job, double elapsed) {
  const json& p = job["progress"];
  int epoch = p.value("epoch", 0);
  int epochs = p.value("epochs", 0);
  std::ostringstream out;
  int width = 20;
  int filled = epochs > 0 ? width * epoch / epochs : 0;
  out << "[" << std::string(filled, '#') << std::string(width - filled, '.') << "] ";
  out << "job " << job.value("id", 0) << " " << job.value("state", "");
  if (epochs > 0) {
    out << "  epoch " << epoch << "/" << epochs;
    const json& values = p["values"];
    out << std::fixed << std::setprecision(4);
    if (values.contains("train_loss")) out << "  loss " << values["train_loss"].get<double>();
    if (values.contains("val_accuracy")) out << "  val_acc " << values["val_accuracy"].get<double>();
    if (epoch > 0 && epoch < epochs) {
      double eta = elapsed / epoch * (epochs - epoch);
      out << std::setprecision(0) << "  ETA " << eta << "s";
    }
  }
  return out.str();
}

// Polls the job until it ends; prints a live progress line on a terminal.
Status WaitForJob(Api& api, int64_t id, bool quiet) {
  auto start = std::chrono::steady_clock::now();
  bool tty = isatty(1) && !quiet;
  int last_epoch = -1;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(json job, api.Call("GET", "/v1/jobs/" + std::to_string(id)));
    std::string state = job.value("state", "");
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int epoch = job["progress"].value("epoch", 0);
    if (!quiet) {
      if (tty) {
        std::cout << "\r" << ProgressLine(job, elapsed) << "   " << std::flush;
      } else if (epoch != last_epoch) {
        std::cout << ProgressLine(job, elapsed) << "\n" << std::flush;
      }
    }
    last_epoch = epoch;
    if (state == "succeeded" || state == "failed" || state == "cancelled") {
      if (tty) std::cout << "\n";
      if (state == "succeeded") {
        if (!quiet) {
          const json& mv = job["model_version"];
          std::cout << "Job " << id << " succeeded: model " << Cell(mv.value("name", json()))
                    << " v" << Cell(mv.value("version", json())) << "\n";
        }
        return Status::Ok();
      }
      return Status::FailedPrecondition("job " + std::to_string(id) + " " + state + ": " +
                                        job.value("reason", ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

void AddJobCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct TrainArgs {
    std::string dataset, model, task, target, architecture = "auto", optimizer;
    int dataset_version = 0, epochs = 0, batch_size = 0;
    double learning_rate = 0, validation_split = 0;
    int64_t seed = -1, plan = 0;
    bool wait = false;
    Placement placement;
  };
  auto ta = std::make_shared<TrainArgs>();
  auto* train = app.add_subcommand("train", "Train a built-in model on a dataset");
  train->add_option("--dataset,-d", ta->dataset, "dataset name")->required();
  train->add_option("--dataset-version", ta->dataset_version, "dataset version (default latest)");
  train->add_option("--model,-m", ta->model, "name of the model to create a version of")->required();
  train->add_option("--task", ta->task, "classification|regression (default: from the data)");
  train->add_option("--target", ta->target, "CSV target column (default: last)");
  train->add_option("--architecture", ta->architecture, "auto|mlp|cnn");
  train->add_option("--epochs", ta->epochs, "epochs");
  train->add_option("--batch-size", ta->batch_size, "batch size");
  train->add_option("--learning-rate,--lr", ta->learning_rate, "learning rate");
  train->add_option("--optimizer", ta->optimizer, "adam|adamw|sgd");
  train->add_option("--validation-split", ta->validation_split, "held-out share, e.g. 0.2");
  train->add_option("--seed", ta->seed, "random seed");
  train->add_flag("--wait,-w", ta->wait, "wait and show progress until the job ends");
  train->add_option("--plan", ta->plan, "id of the train plan (sskai plan train) this job follows");
  AddPlacementOptions(train, &ta->placement, /*spot_sim=*/true);
  train->callback(Wrap(flags, exit_code, [flags, ta](Api& api) -> Status {
    json hyper = json::object();
    if (ta->epochs > 0) hyper["epochs"] = ta->epochs;
    if (ta->batch_size > 0) hyper["batch_size"] = ta->batch_size;
    if (ta->learning_rate > 0) hyper["learning_rate"] = ta->learning_rate;
    if (!ta->optimizer.empty()) hyper["optimizer"] = ta->optimizer;
    if (ta->validation_split > 0) hyper["validation_split"] = ta->validation_split;
    if (ta->seed >= 0) hyper["seed"] = ta->seed;
    json body = {{"dataset", ta->dataset}, {"model", ta->model}, {"architecture", ta->architecture},
                 {"hyperparameters", hyper}};
    if (ta->dataset_version > 0) body["dataset_version"] = ta->dataset_version;
    if (!ta->task.empty()) body["task"] = ta->task;
    if (!ta->target.empty()) body["target"] = ta->target;
    if (ta->plan > 0) body["plan_id"] = ta->plan;
    ApplyPlacement(ta->placement, &body);
    SSKAI_ASSIGN_OR_RETURN(json job, api.Call("POST", "/v1/jobs", body));
    int64_t id = job.value("id", 0);
    if (!ta->wait) {
      if (flags->json) return PrintJson(job), Status::Ok();
      std::cout << "Job " << id << " queued (sskai jobs show " << id << ")\n";
      return Status::Ok();
    }
    if (!flags->json) std::cout << "Job " << id << " queued\n";
    Status st = WaitForJob(api, id, flags->json);
    if (flags->json) {
      auto final_job = api.Call("GET", "/v1/jobs/" + std::to_string(id));
      if (final_job.ok()) PrintJson(*final_job);
    }
    return st;
  }));

  auto* jobs = app.add_subcommand("jobs", "Jobs: list, show, logs, cancel, pause, resume");
  jobs->require_subcommand(1);
  auto* list = jobs->add_subcommand("list", "List jobs");
  list->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/jobs?limit=1000"));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::vector<std::vector<std::string>> rows;
    for (const auto& j : r["items"]) {
      const json& p = j["progress"];
      std::string progress = p.contains("epoch") ? std::to_string(p.value("epoch", 0)) + "/" +
                                                       std::to_string(p.value("epochs", 0))
                                                 : "-";
      rows.push_back({Cell(j["id"]), Cell(j["name"]), Cell(j["state"]),
                      j.contains("dataset") ? Cell(j["dataset"]["name"]) : "-", progress,
                      FormatTime(j.value("created_at", 0.0)), Cell(j["reason"])});
    }
    PrintTable({"ID", "NAME", "STATE", "DATASET", "EPOCH", "CREATED", "REASON"}, rows);
    return Status::Ok();
  }));

  auto id = std::make_shared<int64_t>(0);
  auto* show = jobs->add_subcommand("show", "Show a job");
  show->add_option("id", *id)->required();
  show->callback(Wrap(flags, exit_code, [flags, id](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json j, api.Call("GET", "/v1/jobs/" + std::to_string(*id)));
    if (flags->json) return PrintJson(j), Status::Ok();
    std::cout << "Job " << Cell(j["id"]) << " (" << Cell(j["name"]) << "): " << Cell(j["state"]);
    if (!j.value("reason", "").empty()) std::cout << " — " << Cell(j["reason"]);
    std::cout << "\n  dataset: " << (j.contains("dataset") ? Cell(j["dataset"]["name"]) + " v" + Cell(j["dataset"]["version"]) : "-")
              << "\n  output model: " << Cell(j["output_model"])
              << (j.contains("model_version") ? " v" + Cell(j["model_version"]["version"]) : "")
              << "\n  attempts: " << Cell(j["attempts"]) << ", preemptions: " << Cell(j["preemptions"])
              << ", checkpoint: epoch " << Cell(j["checkpoint"]["epoch"]) << " step "
              << Cell(j["checkpoint"]["step"]) << "\n  created " << FormatTime(j.value("created_at", 0.0))
              << ", started " << FormatTime(j.value("started_at", 0.0)) << ", finished "
              << FormatTime(j.value("finished_at", 0.0)) << "\n";
    if (j["progress"].contains("values")) std::cout << "  last epoch: " << j["progress"].dump() << "\n";
    // The timeline: every state change, checkpoint, preemption and recovery, oldest first.
    SSKAI_ASSIGN_OR_RETURN(json ev, api.Call("GET", "/v1/jobs/" + std::to_string(*id) + "/events"));
    std::cout << "  timeline:\n";
    for (const auto& e : ev["items"]) {
      std::cout << "    " << FormatTime(e.value("created_at", 0.0)) << "  " << std::left << std::setw(14)
                << e.value("action", "") << " " << e.value("message", "") << "\n";
    }
    return Status::Ok();
  }));

  auto lid = std::make_shared<int64_t>(0);
  auto* logs = jobs->add_subcommand("logs", "Print a job's logs");
  logs->add_option("id", *lid)->required();
  logs->callback(Wrap(flags, exit_code, [lid](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(std::string text, api.Text("/v1/jobs/" + std::to_string(*lid) + "/logs"));
    std::cout << text;
    return Status::Ok();
  }));

  for (const char* verb : {"pause", "resume"}) {
    auto vid = std::make_shared<int64_t>(0);
    auto* cmd = jobs->add_subcommand(verb, std::string(verb) == "pause"
                                               ? "Pause a job: checkpoint and release its compute"
                                               : "Resume a paused job");
    cmd->add_option("id", *vid)->required();
    std::string path = verb;
    cmd->callback(Wrap(flags, exit_code, [flags, vid, path](Api& api) -> Status {
      SSKAI_ASSIGN_OR_RETURN(json j, api.Call("POST", "/v1/jobs/" + std::to_string(*vid) + "/" + path));
      if (flags->json) return PrintJson(j), Status::Ok();
      std::cout << "Job " << *vid << " " << Cell(j["state"]) << "\n";
      return Status::Ok();
    }));
  }

  auto cid = std::make_shared<int64_t>(0);
  auto* cancel = jobs->add_subcommand("cancel", "Cancel a job");
  cancel->add_option("id", *cid)->required();
  cancel->callback(Wrap(flags, exit_code, [flags, cid](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json j, api.Call("POST", "/v1/jobs/" + std::to_string(*cid) + "/cancel"));
    if (flags->json) return PrintJson(j), Status::Ok();
    std::cout << "Job " << *cid << " " << Cell(j["state"]) << "\n";
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
