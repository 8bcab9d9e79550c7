// src/cli/commands.h — private to the cli module: one registration function per verb group.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "cli/client.h"

namespace sskai::cli {

// Wraps a command body: connects, runs, prints errors, sets *exit_code.
std::function<void()> Wrap(std::shared_ptr<GlobalFlags> flags, int* exit_code,
                           std::function<Status(Api&)> body);

// Where a job or replica runs: --executor local|slurm (jobs also spot-sim) and --partition, sent
// only when given so the server's defaults apply (`sskai cluster` lists the partitions).
struct Placement {
  std::string executor, partition;
};
void AddPlacementOptions(CLI::App* cmd, Placement* p, bool spot_sim);
void ApplyPlacement(const Placement& p, json* body);

void AddDataCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddModelCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddJobCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddServeCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddPlanCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddCatalogCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
// `sskai models profile`, added under the `models` group.
void AddProfileCommand(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code);
// Local verbs that need no server: tokenize, detokenize.
void AddTokenizeCommands(CLI::App& app, int* exit_code);
// `sskai endpoints rollout start|status|promote|rollback`, added under the `endpoints` group.
void AddRolloutCommands(CLI::App& endpoints, std::shared_ptr<GlobalFlags> flags, int* exit_code);
void AddCostCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
// sskai chat, sskai complete (LM endpoints).
void AddChatCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);
// sskai finetune (LM jobs).
void AddFinetuneCommand(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code);

}  // namespace sskai::cli
